/**
 * What a `registrar:domain` costs at Cloudflare and whether it can be had:
 * the config (domain, years, auto-renew, privacy), POST domain-check for the
 * one domain (not registrable, or premium: DOMAIN_UNAVAILABLE with
 * Cloudflare's reason), and the price, registration_cost + renewal_cost ×
 * (years − 1), decimal strings turned into integer minor units, rounded up.
 * Registering is registrar.ts.
 */
import * as z from 'zod';
import { AgentprovError } from '../../core/errors.js';
import { sanitizeLine } from '../../util/sanitize.js';
import type { ExternalQuote } from '../provider.js';
import { CLOUDFLARE_PROVIDER_ID as PROVIDER, HOSTNAME_PATTERN } from '../../catalog/builtin/cloudflare.js';
import { callOptions, parsed } from './client.js';
import { invalidResponse } from './errors.js';
import type { TokenApi } from './tokens.js';

export const SERVICE = 'registrar:domain';

const Decimal = z.string().regex(/^\d{1,9}(\.\d{1,8})?$/);
const CheckSchema = z.looseObject({
  domains: z
    .array(
      z.looseObject({
        name: z.string().max(253),
        registrable: z.boolean(),
        reason: z.string().max(64).optional(),
        tier: z.string().max(32).optional(),
        pricing: z.looseObject({ currency: z.string().regex(/^[A-Z]{3}$/), registration_cost: Decimal, renewal_cost: Decimal }).optional(),
      }),
    )
    .max(20),
});
type Checked = z.infer<typeof CheckSchema>['domains'][number];

export interface DomainConfig {
  domain: string;
  years: number;
  autoRenew: boolean;
  privacy: boolean;
}

export function domainConfig(config: Record<string, unknown>): DomainConfig {
  const domain = typeof config.domain === 'string' ? config.domain.trim().toLowerCase().replace(/\.$/, '') : '';
  if (!HOSTNAME.test(domain)) {
    throw new AgentprovError('INVALID_CONFIG', 'config.domain: a fully qualified domain name such as example.com (at most 120 characters) is required', {
      details: { field: 'config.domain' },
      nextSteps: [`agentprov catalog ${PROVIDER}/${SERVICE}`],
    });
  }
  const years = config.years === undefined ? 1 : Number(config.years);
  if (!Number.isInteger(years) || years < 1 || years > 10) {
    throw new AgentprovError('INVALID_CONFIG', 'config.years: 1 to 10', { details: { field: 'config.years' } });
  }
  return { domain, years, autoRenew: config.auto_renew !== false, privacy: config.privacy !== false };
}

const HOSTNAME = new RegExp(HOSTNAME_PATTERN);

export const dashboard = (accountId: string, page: string): string => `https://dash.cloudflare.com/${accountId}/${page}`;

/** POST domain-check for one domain → its result (or INVALID_CONFIG when Cloudflare omits it as malformed). */
export async function check(api: TokenApi, domain: string): Promise<Checked> {
  const call = 'POST /accounts/:account_id/registrar/domain-check';
  const result = await parsed(api, call, CheckSchema, () => api.client.registrar.check({ account_id: api.accountId, domains: [domain] }, callOptions()));
  const found = result.domains.find((d) => d.name.toLowerCase() === domain) ?? (result.domains.length === 1 ? result.domains[0] : undefined);
  if (!found) {
    throw new AgentprovError('INVALID_CONFIG', `config.domain: Cloudflare did not check "${domain}" (not a domain name it accepts)`, { details: { field: 'config.domain', domain } });
  }
  return found;
}

/** The price of `cfg` now, or DOMAIN_UNAVAILABLE. */
export async function priceDomain(api: TokenApi, cfg: DomainConfig): Promise<ExternalQuote> {
  const c = await check(api, cfg.domain);
  const reason = !c.registrable ? sanitizeLine(c.reason ?? 'domain_unavailable').slice(0, 64) : c.tier === 'premium' ? 'domain_premium' : undefined;
  if (reason) throw unavailable(api, cfg.domain, reason);
  if (!c.pricing) throw invalidResponse('POST /accounts/:account_id/registrar/domain-check', 'field "domains.pricing": missing for a registrable domain', api.redactor);
  const currency = c.pricing.currency;
  const amount = toMinor(c.pricing.registration_cost, currency) + toMinor(c.pricing.renewal_cost, currency) * (cfg.years - 1);
  return {
    amount,
    currency,
    ...(cfg.years === 1 ? { interval: 'year' } : {}),
    description: `${cfg.domain} for ${cfg.years} year${cfg.years === 1 ? '' : 's'}`,
  };
}

export function unavailable(api: TokenApi, domain: string, reason: string): AgentprovError {
  const viaDashboard = reason === 'extension_not_supported_via_api' || reason === 'domain_premium';
  const why: Record<string, string> = {
    domain_unavailable: 'is already registered, reserved or otherwise not available',
    domain_premium: 'is a premium domain, which the Cloudflare API does not register',
    extension_not_supported_via_api: 'is on an extension Cloudflare registers in its dashboard only, not through the API',
    extension_not_supported: 'is on an extension Cloudflare Registrar does not support',
    extension_disallows_registration: "is on an extension whose registry does not allow new registrations now",
  };
  return new AgentprovError('DOMAIN_UNAVAILABLE', `${domain} cannot be registered through Cloudflare: it ${why[reason] ?? `is not registrable (${reason})`}`, {
    details: { provider: PROVIDER, domain, reason, ...(viaDashboard ? { url: dashboard(api.accountId, 'domains/registrations') } : {}) },
    nextSteps: viaDashboard ? [dashboard(api.accountId, 'domains/registrations')] : ['choose another domain: agentprov add cloudflare/registrar:domain --param domain=<another>'],
  });
}

/** "10.44" → 1044 (USD); more decimals than the currency has are rounded up, never down. */
export function toMinor(decimal: string, currency: string): number {
  let digits = 2;
  try {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    // unknown to ICU: two decimals
  }
  const [int = '0', frac = ''] = decimal.split('.');
  const kept = frac.slice(0, digits).padEnd(digits, '0');
  const roundUp = /[1-9]/.test(frac.slice(digits)) ? 1 : 0;
  return Number(int) * 10 ** digits + Number(kept || '0') + roundUp;
}
