/**
 * The APP client's failures as agentprov codes (src/core/errors.ts), plus
 * the one code only APP uses: APP_CLIENT_ID_REQUIRED (no CIMD URL to
 * register with). APP error envelopes map so:
 *
 *   unauthorized, forbidden, invalid_grant     → PROVIDER_NOT_AUTHORIZED (add again)
 *   requires_payment_credentials               → PAYMENT_METHOD_REQUIRED
 *   not_found                                  → RESOURCE_NOT_FOUND
 *   unknown_service, missing_service_id        → SERVICE_NOT_FOUND
 *   rate_limited (after bounded retries)       → PROVIDER_ERROR, retryable, retry_after
 *   5xx, network, timeout                      → PROVIDER_UNREACHABLE
 *   a body too large, too deep, or off-schema  → INVALID_PROVIDER_RESPONSE naming the field
 *   anything else                              → PROVIDER_ERROR with status and code
 *
 * Messages are the provider's text stripped of control characters, cut
 * short and run through the redactor.
 */
import { AgentprovError, EXIT, registerErrorCodes, type ErrorCode } from '../../core/errors.js';

const APP_CODES = {
  // No Client ID Metadata Document: `providers add … --client-id <url>` or an orchestrator that hosts one.
  APP_CLIENT_ID_REQUIRED: EXIT.HUMAN_ACTION,
} as const;

declare module '../../core/errors.js' {
  interface ProviderErrorCodes extends Record<keyof typeof APP_CODES, true> {}
}
registerErrorCodes(APP_CODES);

export const clean = (s: string, max = 300): string => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').slice(0, max);

export function invalidAppResponse(provider: string, step: string, field: string, why: string): AgentprovError {
  return new AgentprovError('INVALID_PROVIDER_RESPONSE', `provider ${provider} (${step}): invalid ${field}: ${clean(why)}`, {
    details: { provider, step, field },
  });
}

const BY_CODE: Record<string, ErrorCode> = {
  unauthorized: 'PROVIDER_NOT_AUTHORIZED',
  forbidden: 'PROVIDER_NOT_AUTHORIZED',
  invalid_grant: 'PROVIDER_NOT_AUTHORIZED',
  requires_payment_credentials: 'PAYMENT_METHOD_REQUIRED',
  not_found: 'RESOURCE_NOT_FOUND',
  unknown_service: 'SERVICE_NOT_FOUND',
  missing_service_id: 'SERVICE_NOT_FOUND',
};

export function appFailure(provider: string, step: string, status: number, code: string | undefined, message: string, retryAfter?: number): AgentprovError {
  const mapped: ErrorCode = (code ? BY_CODE[code] : undefined) ?? (status >= 500 ? 'PROVIDER_UNREACHABLE' : 'PROVIDER_ERROR');
  const text = `provider ${provider} (${step}) answered ${status}${code ? ` ${clean(code, 64)}` : ''}${message ? `: ${clean(message)}` : ''}`;
  return new AgentprovError(mapped, text, {
    details: { provider, step, status, ...(code ? { provider_code: clean(code, 64) } : {}), ...(status === 429 || status >= 500 ? { retryable: true } : {}), ...(retryAfter !== undefined ? { retry_after: retryAfter } : {}) },
    nextSteps: mapped === 'PROVIDER_NOT_AUTHORIZED' ? [`agentprov add ${provider}/<service>`] : [],
  });
}
