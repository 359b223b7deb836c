/**
 * openid-client failures turned into agentprov's stable error codes. Each
 * step names what it was doing, so "unreachable" during discovery and an
 * `access_denied` while polling become different, actionable errors.
 */
import { sanitizeLine } from '../util/sanitize.js';
import * as oidc from 'openid-client';
import { AgentprovError } from '../core/errors.js';

export type OAuthStep = 'discovery' | 'authorization' | 'device' | 'token' | 'refresh' | 'revocation';

const RETRY_LOGIN = ['agentprov login'];

function causeOf(err: unknown): { message?: string; code?: string; cause?: unknown; attribute?: string } {
  const c = (err as { cause?: unknown })?.cause;
  return c && typeof c === 'object' ? (c as { message?: string; code?: string; attribute?: string }) : {};
}

function isNetworkFailure(err: unknown): boolean {
  if (err instanceof TypeError) return true; // fetch failed: refused, DNS, reset
  if (err instanceof oidc.ClientError && (err.code === 'OAUTH_TIMEOUT' || err.code === 'OAUTH_ABORT')) return true;
  return false;
}

export function oauthError(err: unknown, step: OAuthStep, issuer: string): AgentprovError {
  if (err instanceof AgentprovError) return err;
  const details = { issuer, step };

  if (isNetworkFailure(err)) {
    return new AgentprovError('ISSUER_UNREACHABLE', `the identity provider ${issuer} did not answer (${step})`, {
      details,
      nextSteps: ['check the network and the issuer URL, then retry'],
      cause: err,
    });
  }

  // The error code is the identity provider's text: strip control sequences before it reaches a message.
  const rawError = err instanceof oidc.ResponseBodyError || err instanceof oidc.AuthorizationResponseError ? err.error : undefined;
  const error = rawError === undefined ? undefined : sanitizeLine(rawError).slice(0, 100);
  if (error === 'access_denied') {
    return new AgentprovError('AUTHORIZATION_DENIED', 'the sign-in was denied at the identity provider', { details, nextSteps: RETRY_LOGIN, cause: err });
  }
  if (error === 'expired_token') {
    return new AgentprovError('AUTHORIZATION_EXPIRED', 'the device code expired before the sign-in was approved', {
      details,
      nextSteps: RETRY_LOGIN,
      cause: err,
    });
  }
  if (error !== undefined) {
    return new AgentprovError('ISSUER_ERROR', `the identity provider refused the ${step} request: ${error}`, {
      details: { ...details, error },
      nextSteps: RETRY_LOGIN,
      cause: err,
    });
  }

  if (err instanceof oidc.ClientError) {
    if (step === 'discovery') {
      if (err.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && causeOf(err).attribute === 'issuer') {
        return new AgentprovError('ISSUER_MISMATCH', `the metadata at ${issuer} names a different issuer; refusing to sign in there`, {
          details,
          nextSteps: ['check the issuer URL (it must match the metadata "issuer" exactly)'],
          cause: err,
        });
      }
      return new AgentprovError('ISSUER_METADATA_INVALID', `the identity provider metadata at ${issuer} is invalid: ${sanitizeLine(err.message).slice(0, 300)}`, {
        details: { ...details, reason: err.code },
        nextSteps: ['check the issuer URL'],
        cause: err,
      });
    }
    if (step === 'authorization' && /"state"/.test(causeOf(err).message ?? '')) {
      return new AgentprovError('AUTHORIZATION_STATE_MISMATCH', 'the sign-in callback does not belong to this sign-in (state mismatch); nothing was stored', {
        details,
        nextSteps: RETRY_LOGIN,
        cause: err,
      });
    }
    return new AgentprovError('INVALID_AUTHORIZATION_RESPONSE', `the identity provider's ${step} response is invalid: ${sanitizeLine(causeOf(err).message ?? err.message).slice(0, 300)}`, {
      details: { ...details, reason: err.code },
      nextSteps: RETRY_LOGIN,
      cause: err,
    });
  }
  const e = err as Error;
  return new AgentprovError('INTERNAL', `unexpected failure during ${step}: ${e?.message ?? String(err)}`, { details, cause: err });
}
