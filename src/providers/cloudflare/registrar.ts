/**
 * `registrar:domain` on Cloudflare Registrar (SDK: registrar.check,
 * registrar.registrations, registrar.registrationStatus):
 *
 * - quote: GET registrations/<domain> first (this account owns it already:
 *   nothing to pay), else the price from registrar-quote.ts (domain-check;
 *   not registrable or premium is DOMAIN_UNAVAILABLE).
 * - register: the domain name is Cloudflare's natural idempotency key, and a
 *   registration is billable and non-refundable, so an earlier attempt is
 *   always looked up first (registration, then workflow status) and adopted;
 *   POST registrations only when neither exists, after a fresh domain-check
 *   right before it (Cloudflare: "always check availability immediately
 *   before registration"). Cloudflare answers 201 when it finished within
 *   its synchronous window, else 202 with a workflow that `get` polls.
 * - workflow state → provision status: succeeded → active; pending,
 *   in_progress, blocked → pending; action_required → pending with
 *   resource.action_required (Cloudflare's context.action, sanitized; the
 *   workflow waits for the human); failed → failed.
 */
import * as z from 'zod';
import { APIError } from 'cloudflare/core/error';
import { AgentprovError } from '../../core/errors.js';
import { sanitizeLine } from '../../util/sanitize.js';
import type { ExternalQuote } from '../provider.js';
import { CLOUDFLARE_PROVIDER_ID as PROVIDER } from '../../catalog/builtin/cloudflare.js';
import { callOptions, once, orAbsent, parseResult } from './client.js';
import { clean, cloudflareError, errorItems } from './errors.js';
import { iso, type Draft } from './resources.js';
import type { TokenApi } from './tokens.js';
import { dashboard, priceDomain, SERVICE, type DomainConfig } from './registrar-quote.js';

/** Cloudflare holds POST registrations open for "a bounded, server-defined" time before answering 202. */
const REGISTRATION_TIMEOUT_MS = 60_000;

const Timestamp = z.string().max(64).nullish();

const RegistrationSchema = z.looseObject({
  domain_name: z.string().min(1).max(253),
  status: z.string().max(40),
  created_at: Timestamp,
  expires_at: Timestamp,
  auto_renew: z.boolean().optional(),
  privacy_mode: z.string().max(20).optional(),
});
type Registration = z.infer<typeof RegistrationSchema>;

const WorkflowSchema = z.looseObject({
  state: z.enum(['pending', 'in_progress', 'action_required', 'blocked', 'succeeded', 'failed']),
  completed: z.boolean().optional(),
  created_at: Timestamp,
  updated_at: Timestamp,
  context: z.record(z.string(), z.unknown()).nullish(),
  error: z.looseObject({ code: z.string().max(100).optional(), message: z.string().max(2000).optional() }).nullish(),
});
type Workflow = z.infer<typeof WorkflowSchema>;

/** GET registrations/<domain>: this account's registration, or undefined. */
export async function findRegistration(api: TokenApi, domain: string): Promise<Registration | undefined> {
  const call = 'GET /accounts/:account_id/registrar/registrations/:domain';
  const raw = await orAbsent(api, call, () => api.client.registrar.registrations.get(domain, { account_id: api.accountId }, callOptions()));
  return raw === undefined ? undefined : parseResult(api, call, RegistrationSchema, raw);
}

/** GET registrations/<domain>/registration-status: the registration workflow, or undefined. */
export async function findWorkflow(api: TokenApi, domain: string): Promise<Workflow | undefined> {
  const call = 'GET /accounts/:account_id/registrar/registrations/:domain/registration-status';
  const raw = await orAbsent(api, call, () => api.client.registrar.registrationStatus.get(domain, { account_id: api.accountId }, callOptions()));
  return raw === undefined ? undefined : parseResult(api, call, WorkflowSchema, raw);
}

export interface Registered {
  provision: Draft;
  /** True when this call sent POST registrations (and so the price was charged by it). */
  created: boolean;
}

/**
 * Adopt what exists, else check and register. `expected`: the quote the
 * human approved in this process, if any; a higher price now is refused.
 */
export async function registerDomain(api: TokenApi, cfg: DomainConfig, now: Date, expected?: ExternalQuote): Promise<Registered> {
  const existing = await currentState(api, cfg.domain, now);
  if (existing) return { provision: existing, created: false };

  const price = await priceDomain(api, cfg);
  if (expected && (price.currency !== expected.currency || price.amount > expected.amount)) {
    throw new AgentprovError('PRICE_ABOVE_LIMIT', `the price of ${cfg.domain} changed since it was quoted (${price.amount} ${price.currency} minor units now, ${expected.amount} ${expected.currency} quoted); nothing was registered`, {
      details: { provider: PROVIDER, domain: cfg.domain, amount: price.amount, currency: price.currency, quoted: expected.amount, source: 'quote' },
      nextSteps: ['run the same add again to see and confirm the new price'],
    });
  }
  const call = 'POST /accounts/:account_id/registrar/registrations';
  let status: number;
  let raw: unknown;
  try {
    const res = await once((o) =>
      api.client.registrar.registrations
        .create(
          {
            account_id: api.accountId,
            domain_name: cfg.domain,
            years: cfg.years,
            auto_renew: cfg.autoRenew,
            privacy_mode: cfg.privacy ? 'redaction' : 'off',
          },
          { ...o, timeout: REGISTRATION_TIMEOUT_MS, signal: AbortSignal.timeout(REGISTRATION_TIMEOUT_MS + 5_000) },
        )
        .withResponse(),
    );
    status = res.response.status;
    raw = res.data;
  } catch (err) {
    const refused = registrationRefused(api, err, cfg.domain);
    if (refused) throw refused;
    if (err instanceof APIError && typeof err.status === 'number' && err.status >= 400 && err.status < 500 && err.status !== 429) {
      // Refused, perhaps because it is registered to this account already (an earlier attempt): adopt, never register twice.
      const again = await currentState(api, cfg.domain, now);
      if (again) return { provision: again, created: false };
    }
    throw cloudflareError(err, call, api.redactor);
  }
  const wf = parseResult(api, call, WorkflowSchema, raw);
  const charge = { amount: price.amount, currency: price.currency, ...(price.interval === 'year' ? { interval: 'year' as const } : {}) };
  const mapped = fromWorkflow(cfg.domain, wf, now);
  // 201 = done within the server's window; 202 = accepted, poll. A 202 is never taken as done.
  if (status === 202 && mapped.status === 'active') mapped.status = 'pending';
  return { provision: { ...mapped, charge }, created: true };
}

/**
 * Cloudflare does not document an error code for "no billing profile" or
 * "no default registrant contact": a 4xx on POST registrations whose message
 * names the billing profile / payment method (or the address book /
 * registrant contact) is taken as that, and sent to the human with the
 * dashboard page that fixes it.
 */
function registrationRefused(api: TokenApi, err: unknown, domain: string): AgentprovError | undefined {
  if (!(err instanceof APIError) || typeof err.status !== 'number' || err.status < 400 || err.status >= 500 || err.status === 429) return undefined;
  const text = errorItems(err, api.redactor)
    .map((e) => e.message)
    .join(' ');
  if (/billing|payment (method|profile|information)|credit card/i.test(text)) {
    const url = dashboard(api.accountId, 'billing/payment-info');
    return new AgentprovError('PAYMENT_METHOD_REQUIRED', `Cloudflare registers ${domain} only for an account with a billing profile and a default payment method; a human adds one at ${url}, then runs the same add again`, {
      details: { provider: PROVIDER, domain, url, status: err.status, cloudflare_message: clean(text, api.redactor, 200) },
      nextSteps: [url],
    });
  }
  if (/address book|registrant|contact/i.test(text)) {
    const url = dashboard(api.accountId, 'domains/registrations');
    return new AgentprovError('CLOUDFLARE_REGISTRANT_CONTACT_REQUIRED', `Cloudflare needs the account's default registrant contact (address book) to register ${domain}; a human sets it at ${url}, then runs the same add again`, {
      details: { provider: PROVIDER, domain, url, status: err.status, cloudflare_message: clean(text, api.redactor, 200) },
      nextSteps: [url],
    });
  }
  return undefined;
}

/** What exists for this domain in this account now: the registration, else the workflow of an attempt; undefined if neither. */
export async function currentState(api: TokenApi, domain: string, now: Date, opts: { includeFailed?: boolean } = {}): Promise<Draft | undefined> {
  const reg = await findRegistration(api, domain);
  if (reg && reg.status !== 'registration_pending') return fromRegistration(domain, reg, now);
  const wf = await findWorkflow(api, domain);
  if (wf) {
    // A failed attempt left nothing behind to adopt (and charged nothing): a new add may register again.
    if (wf.state === 'failed' && !reg && !opts.includeFailed) return undefined;
    const p = fromWorkflow(domain, wf, now);
    return reg ? { ...p, resource: { ...fromRegistration(domain, reg, now).resource, ...p.resource } } : p;
  }
  return reg ? fromRegistration(domain, reg, now) : undefined;
}

export function domainId(domain: string): string {
  return `domain/${domain}`;
}

const REGISTRATION_STATUS: Record<string, Draft['status']> = {
  active: 'active',
  registration_pending: 'pending',
  transfer_pending: 'pending',
};

function fromRegistration(domain: string, reg: Registration, now: Date): Draft {
  const status = REGISTRATION_STATUS[reg.status] ?? 'failed';
  return {
    id: domainId(domain),
    service: SERVICE,
    status,
    created_at: iso(reg.created_at, now),
    resource: {
      id: domain,
      name: domain,
      domain,
      registration_status: sanitizeLine(reg.status).slice(0, 40),
      ...(reg.expires_at ? { expires_at: iso(reg.expires_at, now) } : {}),
      ...(reg.auto_renew !== undefined ? { auto_renew: reg.auto_renew } : {}),
      ...(reg.privacy_mode ? { privacy_mode: sanitizeLine(reg.privacy_mode).slice(0, 20) } : {}),
    },
  };
}

function fromWorkflow(domain: string, wf: Workflow, now: Date): Draft {
  const status: Draft['status'] = wf.state === 'succeeded' ? 'active' : wf.state === 'failed' ? 'failed' : 'pending';
  const action = wf.context && typeof wf.context.action === 'string' ? sanitizeLine(wf.context.action).slice(0, 500) : undefined;
  // A succeeded workflow carries the resulting registration in context.registration.
  const reg = wf.state === 'succeeded' ? RegistrationSchema.safeParse(wf.context?.registration) : undefined;
  const fromReg = reg?.success ? fromRegistration(domain, reg.data, now).resource : {};
  return {
    id: domainId(domain),
    service: SERVICE,
    status,
    created_at: iso(wf.created_at, now),
    resource: {
      ...fromReg,
      id: domain,
      name: domain,
      domain,
      workflow_state: wf.state,
      ...(wf.state === 'action_required' ? { action_required: action || 'Cloudflare is waiting for an action in the dashboard' } : {}),
      ...(wf.state === 'failed' && wf.error?.code ? { error_code: sanitizeLine(wf.error.code).slice(0, 100) } : {}),
      ...(wf.state === 'failed' && wf.error?.message ? { error_message: sanitizeLine(wf.error.message).slice(0, 300) } : {}),
    },
  };
}
