/**
 * OAuth 2.0 Device Authorization Grant (RFC 8628) via openid-client:
 * start (§3.1-3.2), check the verification URL before anyone is shown it,
 * and poll (§3.4-3.5; openid-client honours `interval` and `slow_down`)
 * for at most a caller-given time.
 */
import * as oidc from 'openid-client';
import { AgentprovError } from '../core/errors.js';
import { oauthError } from './errors.js';
import { isLoopbackHost } from '../util/loopback.js';
import { SCOPES } from './issuer.js';
import type { PendingSignIn } from './store.js';

/** RFC 8628 §3.2: `interval` defaults to 5 s when the server sends none. */
export const DEFAULT_INTERVAL_SECONDS = 5;

/**
 * Refuses a verification URL that is not https (loopback aside), carries
 * userinfo (`https://issuer@evil/…` phishing), or points at a host other
 * than the issuer's. The human would type a code into that page.
 */
export function assertTrustedVerificationUrl(value: string, issuer: string): URL {
  const url = URL.parse(value);
  const issuerHost = new URL(issuer).hostname;
  const why = !url
    ? 'it is not a URL'
    : url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))
      ? 'it is not https'
      : url.username || url.password
        ? 'it carries a user name or password'
        : url.hostname !== issuerHost
          ? `its host ${url.hostname} is not the issuer's host ${issuerHost}`
          : undefined;
  if (why) {
    throw new AgentprovError('UNTRUSTED_VERIFICATION_URI', `refusing the identity provider's verification URL: ${why}`, {
      details: { issuer, verification_uri: value.slice(0, 2048) },
      nextSteps: ['check the issuer URL; report this to the identity provider operator'],
    });
  }
  return url!;
}

/** `scope` defaults to the orchestrator session's; a provider consent asks for its resource scopes. */
export async function startDeviceAuthorization(config: oidc.Configuration, nowSeconds: number, scope: string = SCOPES, extra: Record<string, string> = {}): Promise<PendingSignIn> {
  const issuer = config.serverMetadata().issuer;
  let da: oidc.DeviceAuthorizationResponse;
  try {
    da = await oidc.initiateDeviceAuthorization(config, { ...extra, scope });
  } catch (err) {
    throw oauthError(err, 'device', issuer);
  }
  // The user code is shown to the human as it is: only short printable ASCII (RFC 8628 §6.1).
  if (!/^[\x21-\x7e][\x20-\x7e]{0,63}$/.test(da.user_code)) {
    throw new AgentprovError('INVALID_AUTHORIZATION_RESPONSE', `the device authorization from ${issuer} carries a user code that is not short printable text`, {
      details: { issuer, step: 'device' },
    });
  }
  assertTrustedVerificationUrl(da.verification_uri, issuer);
  if (da.verification_uri_complete !== undefined) assertTrustedVerificationUrl(da.verification_uri_complete, issuer);
  return {
    issuer,
    client_id: config.clientMetadata().client_id,
    device_code: da.device_code,
    user_code: da.user_code,
    verification_uri: da.verification_uri,
    ...(da.verification_uri_complete !== undefined ? { verification_uri_complete: da.verification_uri_complete } : {}),
    expires_at: nowSeconds + da.expires_in,
    interval: da.interval ?? DEFAULT_INTERVAL_SECONDS,
  };
}

export type PollOutcome = { kind: 'tokens'; tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers } | { kind: 'pending' };

/**
 * Polls until the human acts, the code expires, or `maxSeconds` pass
 * (pending). openid-client waits `interval` before each poll, so even
 * `maxSeconds = 0` makes exactly one poll.
 */
export async function pollDeviceAuthorization(config: oidc.Configuration, pending: PendingSignIn, nowSeconds: number, maxSeconds: number): Promise<PollOutcome> {
  const remaining = pending.expires_at - nowSeconds;
  if (remaining <= 0) throw deviceCodeExpired(pending.issuer);
  const budget = Math.min(Math.max(maxSeconds, pending.interval) + 0.5, remaining + pending.interval + 1);
  const signal = AbortSignal.timeout(Math.ceil(budget * 1000));
  const response: oidc.DeviceAuthorizationResponse = {
    device_code: pending.device_code,
    user_code: pending.user_code,
    verification_uri: pending.verification_uri,
    ...(pending.verification_uri_complete !== undefined ? { verification_uri_complete: pending.verification_uri_complete } : {}),
    expires_in: remaining,
    interval: pending.interval,
  };
  try {
    return { kind: 'tokens', tokens: await oidc.pollDeviceAuthorizationGrant(config, response, undefined, { signal }) };
  } catch (err) {
    if (signal.aborted) {
      if (pending.expires_at <= Math.floor(Date.now() / 1000)) throw deviceCodeExpired(pending.issuer);
      return { kind: 'pending' };
    }
    throw oauthError(err, 'device', pending.issuer);
  }
}

export function deviceCodeExpired(issuer: string): AgentprovError {
  return new AgentprovError('AUTHORIZATION_EXPIRED', 'the device code expired before the sign-in was approved; nothing was stored', {
    details: { issuer },
    nextSteps: ['agentprov login'],
  });
}
