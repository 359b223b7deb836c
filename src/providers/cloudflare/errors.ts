/**
 * Cloudflare's failures as agentprov's stable codes (src/core/errors.ts),
 * plus the `CLOUDFLARE_*` codes only this provider uses, registered here. The SDK throws an
 * APIError carrying the v4 envelope (`{success:false, errors:[{code,
 * message}]}`); its own message embeds the whole body, so it is never passed
 * on: every message here is built from the parsed `errors[]`, stripped of
 * control sequences, cut short and run through the redactor. No SDK error
 * is attached as `cause` (nothing of a request can ride along into debug
 * output).
 *
 *   401, or 403 with code 1000/10000 (bad token)  → CLOUDFLARE_LINK_INVALID
 *   403 (e.g. 9109, a permission the token lacks) → CLOUDFLARE_PERMISSION_DENIED
 *   429 (after the SDK's bounded retries)         → PROVIDER_ERROR, retryable, retry_after
 *   5xx, network, timeout                         → PROVIDER_UNREACHABLE, retryable
 *   a body too large (bounded fetch)              → INVALID_PROVIDER_RESPONSE
 *   an address off the linked API (bounded fetch) → PROVIDER_ERROR, reason off_origin
 *   anything else                                 → PROVIDER_ERROR with status and codes
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'cloudflare/core/error';
import * as z from 'zod';
import { AgentprovError, EXIT, registerErrorCodes } from '../../core/errors.js';
import type { Redactor } from '../../core/io.js';
import { sanitizeLine } from '../../util/sanitize.js';
import { CLOUDFLARE_PROVIDER_ID as PROVIDER } from '../../catalog/builtin/cloudflare.js';

/** The codes only Cloudflare uses, with their exit classes. */
const CLOUDFLARE_CODES = {
  // The linked (or offered) parent token is invalid, expired or disabled: link again.
  CLOUDFLARE_LINK_INVALID: EXIT.HUMAN_ACTION,
  // The parent token lacks a permission a call needs (Cloudflare error 9109).
  CLOUDFLARE_PERMISSION_DENIED: EXIT.HUMAN_ACTION,
  // The parent token may not create (or delete) API tokens: agentprov could never hand out child tokens.
  CLOUDFLARE_TOKEN_CANNOT_CREATE_TOKENS: EXIT.HUMAN_ACTION,
  // Registration needs the account's default registrant contact (address book), set in the dashboard.
  CLOUDFLARE_REGISTRANT_CONTACT_REQUIRED: EXIT.HUMAN_ACTION,
} as const;

declare module '../../core/errors.js' {
  interface ProviderErrorCodes extends Record<keyof typeof CLOUDFLARE_CODES, true> {}
}
registerErrorCodes(CLOUDFLARE_CODES);

/** Cloudflare's "bad credentials" codes (1000 Invalid API Token, 10000 Authentication error). */
const BAD_TOKEN_CODES = new Set([1000, 10000]);

export const RELINK = `agentprov providers link ${PROVIDER}`;

const ErrorItems = z
  .array(z.looseObject({ code: z.number().int().optional(), message: z.string().optional() }))
  .max(50)
  .catch([]);

export interface CloudflareErrorItem {
  code: number | null;
  message: string;
}

/** A failure of our bounded fetch (body too large, an address off the linked API), carried as the connection error's cause. */
export class BoundedFetchError extends Error {
  override readonly name = 'BoundedFetchError';
  constructor(
    message: string,
    readonly reason: 'too_large' | 'off_origin',
  ) {
    super(message);
  }
}

/** Set by the bounded fetch on its own refusals (too large, off the linked API). */
export const REFUSED_HEADER = 'x-agentprov-refused';

/** Our own bounded-fetch failure: a refusal response, or an error anywhere in the cause chain (a body stream carries it). */
function boundedCause(err: unknown): BoundedFetchError | undefined {
  if (err instanceof APIError) {
    const reason = err.headers?.get(REFUSED_HEADER);
    if (reason === 'too_large' || reason === 'off_origin') {
      const message = ((err.error as { errors?: Array<{ message?: unknown }> } | undefined)?.errors?.[0]?.message as string | undefined) ?? reason;
      return new BoundedFetchError(String(message), reason);
    }
  }
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    if (e instanceof BoundedFetchError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Provider text, safe to print: one line, no control sequences, no known secret, bounded. */
export function clean(text: string, redactor?: Redactor, max = 300): string {
  const line = sanitizeLine(text).slice(0, max);
  return redactor ? redactor.redact(line) : line;
}

/** The `errors[]` of an APIError body, parsed and cleaned (at most 5). */
export function errorItems(err: APIError, redactor?: Redactor): CloudflareErrorItem[] {
  const body = err.error as { errors?: unknown } | undefined;
  return ErrorItems.parse(body?.errors)
    .slice(0, 5)
    .map((e) => ({ code: e.code ?? null, message: clean(e.message ?? '', redactor, 200) }));
}

export function statusOf(err: unknown): number | undefined {
  return err instanceof APIError && typeof err.status === 'number' ? err.status : undefined;
}

export function isNotFound(err: unknown): boolean {
  return statusOf(err) === 404;
}

/** Seconds from a Retry-After header (delta or HTTP date), or undefined. */
export function retryAfterSeconds(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const n = Number(value.trim());
  if (Number.isFinite(n) && n >= 0) return Math.ceil(n);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export function invalidResponse(call: string, why: string, redactor?: Redactor): AgentprovError {
  return new AgentprovError('INVALID_PROVIDER_RESPONSE', `provider ${PROVIDER} answered ${call} with something agentprov cannot use: ${clean(why, redactor)}`, {
    details: { provider: PROVIDER, call },
  });
}

export function linkInvalid(why: string, details: Record<string, unknown> = {}): AgentprovError {
  return new AgentprovError('CLOUDFLARE_LINK_INVALID', `the Cloudflare API token agentprov holds ${why}; a human must link the account again with a valid token`, {
    details: { provider: PROVIDER, ...details },
    nextSteps: [RELINK],
  });
}

/**
 * Any failure of an SDK call as an AgentprovError. `call` names the call for
 * the message and details ("POST /accounts/:id/registrar/registrations").
 */
export function cloudflareError(err: unknown, call: string, redactor?: Redactor): AgentprovError {
  if (err instanceof AgentprovError) return err;
  const bounded = boundedCause(err);
  if (bounded) {
    if (bounded.reason === 'too_large') return invalidResponse(call, bounded.message, redactor);
    return new AgentprovError('PROVIDER_ERROR', `provider ${PROVIDER}: ${clean(bounded.message, redactor)} (${call})`, { details: { provider: PROVIDER, call, reason: bounded.reason } });
  }
  if (err instanceof APIUserAbortError || err instanceof APIConnectionTimeoutError) {
    return new AgentprovError('PROVIDER_UNREACHABLE', `provider ${PROVIDER} did not answer ${call} in time`, {
      details: { provider: PROVIDER, call, reason: 'timeout', retryable: true },
      nextSteps: ['check the network, then run the same command again'],
    });
  }
  if (err instanceof APIConnectionError) {
    const cause = (err as { cause?: unknown }).cause;
    const why = cause instanceof Error ? `${cause.message}${(cause as { cause?: { code?: unknown } }).cause?.code ? ` (${String((cause as { cause: { code: unknown } }).cause.code)})` : ''}` : 'connection failed';
    return new AgentprovError('PROVIDER_UNREACHABLE', `provider ${PROVIDER} did not answer ${call}: ${clean(why, redactor)}`, {
      details: { provider: PROVIDER, call, reason: 'network', retryable: true },
      nextSteps: ['check the network, then run the same command again'],
    });
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const status = err.status;
    const items = errorItems(err, redactor);
    const codes = items.map((i) => i.code).filter((c): c is number => c !== null);
    const said = items.map((i) => `${i.code ?? '?'} ${i.message}`.trim()).join('; ') || `HTTP ${status}`;
    const details = { provider: PROVIDER, call, status, cloudflare_errors: items.map((i) => `${i.code ?? ''}:${i.message}`).join(' | ') };
    if (status === 401 || (status === 403 && codes.some((c) => BAD_TOKEN_CODES.has(c)))) {
      return linkInvalid(`was refused by Cloudflare (${clean(said, redactor)})`, details);
    }
    if (status === 403) {
      return new AgentprovError('CLOUDFLARE_PERMISSION_DENIED', `the linked Cloudflare API token may not ${call} (${clean(said, redactor)}); give the token that permission in the dashboard, or link one that has it`, {
        details,
        nextSteps: ['https://dash.cloudflare.com/profile/api-tokens', RELINK],
      });
    }
    if (status === 429) {
      const retryAfter = retryAfterSeconds(err.headers?.get('retry-after'));
      return new AgentprovError('PROVIDER_ERROR', `provider ${PROVIDER} is rate limiting ${call}${retryAfter !== undefined ? `; retry in ${retryAfter}s` : ''}`, {
        details: { ...details, reason: 'rate_limited', retryable: true, retry_after: retryAfter ?? null },
        nextSteps: ['wait, then run the same command again'],
      });
    }
    if (status >= 500) {
      return new AgentprovError('PROVIDER_UNREACHABLE', `provider ${PROVIDER} failed ${call}: HTTP ${status} (${clean(said, redactor)})`, {
        details: { ...details, reason: 'server_error', retryable: true },
        nextSteps: ['run the same command again in a moment'],
      });
    }
    return new AgentprovError('PROVIDER_ERROR', `provider ${PROVIDER} refused ${call}: ${clean(said, redactor)}`, { details });
  }
  return new AgentprovError('INTERNAL', `unexpected failure of ${call} at ${PROVIDER}: ${clean((err as Error)?.message ?? String(err), redactor)}`, {
    details: { provider: PROVIDER, call },
  });
}
