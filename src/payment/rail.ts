/**
 * The orchestrator's payment rail, user side (docs/protocol.md §6; wire shapes in
 * src/wire/rail.ts): mint a payment token, read the month's spend, set a
 * cap. Every call carries the signed-in user's access token, goes through
 * the bounded HTTP client and is parsed with the rail schemas; refusals
 * become AgentprovErrors with stable codes (src/core/errors.ts).
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import { getSession } from '../auth/session.js';
import { configuredIssuer } from '../auth/orchestrator-config.js';
import { createFetcher, FetchError } from '../http/fetch.js';
import {
  CapExceededDetails,
  CapResponse,
  DEFAULT_PROVIDER_CAP,
  PaymentMethodRequiredDetails,
  PaymentTokenResponse,
  RailErrorBody,
  SpendResponse,
  type CreatePaymentTokenRequest,
} from '../wire/rail.js';
import { describeAmount, describeTarget, PendingCapChange } from '../wire/cap-approval.js';
import { sanitizeLine } from '../util/sanitize.js';
import type { z } from 'zod';
import { formatMinor } from './amount.js';

const DEADLINE_MS = 15_000;
const MAX_BODY_BYTES = 64 * 1024;

export interface RailClient {
  readonly url: string;
  spend(): Promise<SpendResponse>;
  mint(req: CreatePaymentTokenRequest): Promise<PaymentTokenResponse>;
  /**
   * `provider` null: the global cap; `amount` null removes the global cap. A
   * raise needs `approval`, the identity provider's approval token of the
   * pending change; without it the rail answers CAP_RAISE_APPROVAL_REQUIRED.
   */
  setCap(provider: string | null, amount: number | null, approval?: string): Promise<CapResponse>;
}

export async function railUrl(deps: Deps): Promise<string> {
  const settings = await configuredIssuer(deps);
  if (!settings.paymentRail) {
    throw new AgentprovError('PAYMENT_RAIL_NOT_CONFIGURED', 'the orchestrator published no payment rail: paid services and budgets are unavailable', {
      nextSteps: ['agentprov init --orchestrator <url>'],
    });
  }
  return settings.paymentRail;
}

export async function openRail(deps: Deps): Promise<RailClient> {
  const url = await railUrl(deps);
  async function call<S extends z.ZodType>(method: 'GET' | 'POST' | 'PUT', path: string, schema: S, body?: unknown): Promise<z.infer<S>> {
    const session = await getSession(deps);
    const fetcher = createFetcher({ headersTimeoutMs: DEADLINE_MS, bodyTimeoutMs: DEADLINE_MS });
    let res;
    try {
      res = await fetcher.request(new URL(path, url).href, {
        method,
        headers: { authorization: `Bearer ${session.accessToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(DEADLINE_MS),
        maxBytes: MAX_BODY_BYTES,
      });
    } catch (err) {
      throw new AgentprovError('PAYMENT_RAIL_UNREACHABLE', `the payment rail at ${url} could not be reached (${err instanceof FetchError ? err.reason : 'network'})`, {
        details: { rail: url, retryable: true },
        nextSteps: ['run the same command again'],
      });
    } finally {
      await fetcher.close().catch(() => undefined);
    }
    const json = parseJson(res.body);
    if (res.status >= 200 && res.status < 300) {
      const ok = schema.safeParse(json);
      if (ok.success) return ok.data;
      throw new AgentprovError('PAYMENT_RAIL_ERROR', `the payment rail answered ${method} ${path} with an unexpected body`, { details: { rail: url, status: res.status } });
    }
    throw railError(url, res.status, json);
  }
  return {
    url,
    spend: () => call('GET', '/v1/spend', SpendResponse),
    mint: (req) => call('POST', '/v1/payment_tokens', PaymentTokenResponse, req),
    setCap: (provider, amount, approval) =>
      call('PUT', `/v1/caps/${provider === null ? 'global' : encodeURIComponent(provider)}`, CapResponse, { amount, ...(approval !== undefined ? { approval } : {}) }),
  };
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The rail's refusal as the CLI's error (codes of src/core/errors.ts). */
export function railError(url: string, status: number, json: unknown): AgentprovError {
  const parsed = RailErrorBody.safeParse(json);
  if (!parsed.success) {
    return new AgentprovError(status >= 500 ? 'PAYMENT_RAIL_UNREACHABLE' : 'PAYMENT_RAIL_ERROR', `the payment rail failed with HTTP ${status}`, {
      details: { rail: url, status, ...(status >= 500 ? { retryable: true } : {}) },
    });
  }
  const { code, message, details } = parsed.data.error;
  const text = sanitizeLine(message).slice(0, 300);
  if (code === 'CAP_EXCEEDED') {
    const d = CapExceededDetails.safeParse(details);
    return capExceeded(d.success ? d.data : undefined, text);
  }
  if (code === 'PAYMENT_METHOD_REQUIRED') {
    const d = PaymentMethodRequiredDetails.safeParse(details);
    const where = d.success ? sanitizeLine(d.data.url).slice(0, 2048) : url;
    return new AgentprovError('PAYMENT_METHOD_REQUIRED', `no payment method on file: a human must add one at ${where}`, {
      details: { url: where },
      nextSteps: [`open ${where} and add a payment method, then run the same command again`],
    });
  }
  if (code === 'CAP_RAISE_APPROVAL_REQUIRED') {
    const change = PendingCapChange.safeParse(details);
    if (change.success) return capRaiseApprovalRequired(change.data, 'rail');
    return new AgentprovError('PAYMENT_RAIL_ERROR', 'the payment rail asked for an approval of a cap change it did not describe', { details: { rail: url, status } });
  }
  if (code === 'CAP_APPROVAL_INVALID' || code === 'CAP_APPROVAL_EXPIRED' || code === 'CAP_APPROVAL_USED') {
    const reason = typeof details.reason === 'string' ? sanitizeLine(details.reason).slice(0, 32) : 'invalid';
    return capApprovalRefused(code === 'CAP_APPROVAL_EXPIRED' ? 'expired' : reason, text, 'rail');
  }
  if (code === 'UNAUTHORIZED') {
    return new AgentprovError('NOT_SIGNED_IN', 'the payment rail did not accept the session', { nextSteps: ['agentprov login'] });
  }
  return new AgentprovError('PAYMENT_RAIL_ERROR', `the payment rail refused (${sanitizeLine(code).slice(0, 64)}): ${text}`, {
    details: { rail: url, status, rail_code: sanitizeLine(code).slice(0, 64) },
  });
}

export interface CapView {
  scope: 'provider' | 'global';
  provider: string;
  cap: number;
  spent: number;
  held: number;
  needed: number;
  currency: string;
}

/** CAP_EXCEEDED, exit 4, with what the human needs to decide. */
export function capExceeded(d: CapView | undefined, message: string, source: 'rail' | 'spend_view' | 'ledger' = 'rail', extra: Record<string, unknown> = {}): AgentprovError {
  const target = d?.scope === 'global' ? '--global' : (d?.provider ?? '<provider>');
  const suggested = d ? formatMinor(d.spent + d.held + d.needed, d.currency).split(' ')[0] : '<amount>';
  return new AgentprovError('CAP_EXCEEDED', d ? `${message}: cap ${formatMinor(d.cap, d.currency)}, spent ${formatMinor(d.spent, d.currency)}, held ${formatMinor(d.held, d.currency)}, needed ${formatMinor(d.needed, d.currency)}` : message, {
    details: { ...(d ? { scope: d.scope, provider: d.provider, cap: d.cap, spent: d.spent, held: d.held, needed: d.needed, currency: d.currency } : {}), ...extra, source },
    nextSteps: [`agentprov budget set ${target} ${suggested}   (a human approves the raise)`, 'agentprov spend'],
  });
}

/**
 * A raise the cap keeper (rail or ledger) will apply only with the human's
 * approval of this pending change (docs/protocol-auth.md §10). The budget
 * command turns it into a device authorization at the identity provider.
 */
export function capRaiseApprovalRequired(change: PendingCapChange, source: 'rail' | 'ledger'): AgentprovError {
  return new AgentprovError('CAP_RAISE_APPROVAL_REQUIRED', `raising ${describeTarget(change.provider)} from ${describeAmount(change.previous_cap, change.currency)} to ${describeAmount(change.amount, change.currency)} needs the human's approval`, {
    details: { ...change, source },
  });
}

/** An approval the cap keeper refused: expired (AUTHORIZATION_EXPIRED) or not for this change (CAP_APPROVAL_INVALID). The cap is unchanged. */
export function capApprovalRefused(reason: string, message: string, source: 'rail' | 'ledger'): AgentprovError {
  const who = source === 'rail' ? 'the payment rail' : "agentprov's spending ledger";
  if (reason === 'expired') {
    return new AgentprovError('AUTHORIZATION_EXPIRED', `${who} refused the approval: ${message}; the cap is unchanged`, { details: { reason, source } });
  }
  return new AgentprovError('CAP_APPROVAL_INVALID', `${who} refused the approval: ${message}; the cap is unchanged`, { details: { reason, source } });
}

/** The rail's own view, checked before asking it for a token: would `needed` fit under the caps? */
export function checkSpend(spend: SpendResponse, provider: string, needed: number): AgentprovError | undefined {
  const own = spend.providers.find((p) => p.provider === provider);
  const cap = own?.cap ?? DEFAULT_PROVIDER_CAP;
  const spent = own?.spent ?? 0;
  const held = own?.held ?? 0;
  if (spent + held + needed > cap) {
    return capExceeded({ scope: 'provider', provider, cap, spent, held, needed, currency: spend.currency }, `the monthly cap for provider ${provider} would be exceeded (checked before asking the rail)`, 'spend_view');
  }
  if (spend.global_cap !== null && spend.spent + spend.held + needed > spend.global_cap) {
    return capExceeded({ scope: 'global', provider, cap: spend.global_cap, spent: spend.spent, held: spend.held, needed, currency: spend.currency }, 'the global monthly cap would be exceeded (checked before asking the rail)', 'spend_view');
  }
  return undefined;
}

/** What remains under the provider's cap (and the global one), minor units. */
export function remainingFor(spend: SpendResponse, provider: string): number {
  const own = spend.providers.find((p) => p.provider === provider);
  const mine = own ? own.remaining : DEFAULT_PROVIDER_CAP;
  return spend.global_cap === null ? mine : Math.min(mine, Math.max(0, spend.global_cap - spend.spent - spend.held));
}
