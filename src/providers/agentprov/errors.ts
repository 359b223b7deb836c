/**
 * Turning a provider's failures into the stable codes of src/core/errors.ts. Every
 * piece of text a provider sent is stripped of control sequences and cut
 * short before it reaches a message or `details`.
 */
import * as oidc from 'openid-client';
import { AgentprovError } from '../../core/errors.js';
import { FetchError } from '../../http/fetch.js';
import { ProviderTokenErrorSchema } from '../../wire/provider-auth.js';
import { sanitizeLine } from '../../util/sanitize.js';

export type Step = 'discovery' | 'registration' | 'authorization' | 'consent' | 'refresh' | 'token_exchange' | 'revocation' | 'provisioning' | 'deep_link';

/** Provider text, made safe to print. */
export function clean(text: string, max = 300): string {
  return sanitizeLine(text).slice(0, max);
}

export function unreachable(provider: string, step: Step, err: unknown): AgentprovError {
  const why = err instanceof FetchError ? err.message : err instanceof Error ? err.message : String(err);
  return new AgentprovError('PROVIDER_UNREACHABLE', `provider ${provider} did not answer (${step}): ${clean(why)}`, {
    details: { provider, step, retryable: true, ...(err instanceof FetchError ? { reason: err.reason } : {}) },
    nextSteps: ['check the network, then run the same command again'],
    cause: err,
  });
}

export function invalidResponse(provider: string, step: Step, why: string, extra: Record<string, unknown> = {}): AgentprovError {
  return new AgentprovError('INVALID_PROVIDER_RESPONSE', `provider ${provider} answered the ${step} with something agentprov cannot use: ${clean(why)}`, {
    details: { provider, step, ...extra },
  });
}

/** The RFC 6749 §5.2 body of an openid-client ResponseBodyError, parsed and sanitized (or undefined). */
export function tokenErrorBody(err: unknown): { error: string; error_description?: string; body: Record<string, unknown> } | undefined {
  if (!(err instanceof oidc.ResponseBodyError)) return undefined;
  const parsed = ProviderTokenErrorSchema.safeParse(err.cause);
  if (!parsed.success) return { error: clean(err.error, 64), body: {} };
  return {
    error: clean(parsed.data.error, 64),
    ...(parsed.data.error_description !== undefined ? { error_description: clean(parsed.data.error_description) } : {}),
    body: parsed.data,
  };
}

/** Any failure of an OAuth request to the provider's authorization server. */
export function providerOAuthError(err: unknown, provider: string, step: Step): AgentprovError {
  if (err instanceof AgentprovError) return err;
  if (err instanceof TypeError || (err instanceof oidc.ClientError && (err.code === 'OAUTH_TIMEOUT' || err.code === 'OAUTH_ABORT'))) {
    return unreachable(provider, step, err);
  }
  const body = tokenErrorBody(err);
  if (body) {
    const status = (err as oidc.ResponseBodyError).status;
    const retryable = status >= 500 || body.error === 'temporarily_unavailable' || body.error === 'server_error';
    return new AgentprovError(
      'PROVIDER_ERROR',
      `provider ${provider} refused the ${step}: ${body.error}${body.error_description ? ` (${body.error_description})` : ''}`,
      { details: { provider, step, error: body.error, ...(body.error_description ? { error_description: body.error_description } : {}), ...(retryable ? { retryable } : {}) }, cause: err },
    );
  }
  if (err instanceof oidc.ClientError || err instanceof oidc.WWWAuthenticateChallengeError) {
    // Two causes down is why a body could not be read (too large, nested too deeply: auth/issuer.ts boundedFetch).
    const causes: string[] = [];
    for (let c = (err as { cause?: unknown }).cause; c instanceof Error && causes.length < 2; c = c.cause) causes.push(c.message);
    return invalidResponse(provider, step, [err.message, ...causes].join(': '));
  }
  return new AgentprovError('INTERNAL', `unexpected failure during the ${step} at provider ${provider}: ${clean((err as Error)?.message ?? String(err))}`, {
    details: { provider, step },
    cause: err,
  });
}
