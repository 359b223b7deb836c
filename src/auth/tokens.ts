/**
 * Token endpoint work on an existing session: refresh (RFC 6749 §6, with the
 * issuer's refresh token rotation) and revocation (RFC 7009). Imported only
 * when a session needs one of them, so `whoami` never loads openid-client.
 */
import * as oidc from 'openid-client';
import { AgentprovError } from '../core/errors.js';
import type { Redactor } from '../core/io.js';
import { oauthError } from './errors.js';
import { discoverIssuer } from './issuer.js';
import { lostSession, sessionClaims, type StoredSession } from './store.js';

/** Access tokens without `expires_in` are treated as valid this long (seconds). */
const DEFAULT_ACCESS_TOKEN_SECONDS = 300;

/** Builds the vault entry from a token response; `previous` supplies what a refresh response may omit. */
export function storedSessionFrom(
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
  nowSeconds: number,
  previous?: StoredSession,
): StoredSession {
  const idToken = tokens.id_token ?? previous?.id_token;
  if (!idToken) {
    throw new AgentprovError('INVALID_AUTHORIZATION_RESPONSE', 'the identity provider returned no ID token (is the "openid" scope allowed for this client?)');
  }
  const refreshToken = tokens.refresh_token ?? previous?.refresh_token;
  return {
    v: 1,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    id_token: idToken,
    access_token: tokens.access_token,
    access_token_expires_at: nowSeconds + (tokens.expiresIn() ?? DEFAULT_ACCESS_TOKEN_SECONDS),
    updated_at: nowSeconds,
  };
}

export function rememberSecrets(redactor: Redactor, s: StoredSession): void {
  redactor.add(s.access_token);
  redactor.add(s.id_token);
  redactor.add(s.refresh_token);
}

/**
 * Presents the refresh token once. A refused refresh (revoked, expired,
 * replayed) is a lost session: NOT_SIGNED_IN.
 */
export async function refreshStoredSession(session: StoredSession, nowSeconds: number, redactor: Redactor): Promise<StoredSession> {
  const { issuer, clientId, subject } = sessionClaims(session);
  if (!session.refresh_token) throw lostSession('the access token expired and the session has no refresh token');
  const config = await discoverIssuer(issuer, clientId);
  let tokens;
  try {
    tokens = await oidc.refreshTokenGrant(config, session.refresh_token);
  } catch (err) {
    if (err instanceof oidc.ResponseBodyError && (err.error === 'invalid_grant' || err.error === 'unauthorized_client')) {
      throw lostSession(`the identity provider refused the refresh token (${err.error}); sign in again`);
    }
    throw oauthError(err, 'refresh', issuer);
  }
  const next = storedSessionFrom(tokens, nowSeconds, session);
  rememberSecrets(redactor, next);
  if (sessionClaims(next).subject !== subject) {
    throw new AgentprovError('INVALID_AUTHORIZATION_RESPONSE', 'the refreshed ID token names a different user; the session was not changed', { details: { issuer } });
  }
  return next;
}

/** RFC 7009: revoke the refresh token (which ends the grant) at the issuer. */
export async function revokeStoredSession(session: StoredSession): Promise<void> {
  const { issuer, clientId } = sessionClaims(session);
  const config = await discoverIssuer(issuer, clientId);
  try {
    if (session.refresh_token) await oidc.tokenRevocation(config, session.refresh_token, { token_type_hint: 'refresh_token' });
    else await oidc.tokenRevocation(config, session.access_token, { token_type_hint: 'access_token' });
  } catch (err) {
    throw oauthError(err, 'revocation', issuer);
  }
}
