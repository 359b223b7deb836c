/**
 * Short-lived credentials at a provider (docs/protocol-auth.md §6): minted by
 * RFC 8693 token exchange of the stored grant's access token at the
 * provider's AS, revoked with RFC 7009.
 */
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { AgentprovError } from '../../core/errors.js';
// RFC 8693 `requested_expires_in` bounds the protocol allows (docs/protocol-auth.md §6), the same as --ttl's.
import { MAX_TTL_SECONDS, MIN_TTL_SECONDS } from '../../util/duration.js';
import { GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TokenExchangeResponseSchema } from '../../wire/provider-auth.js';
import type { ShortLivedCredential } from '../provider.js';
import type { ClientContext } from './context.js';
import { configFor } from './discovery.js';
import { invalidResponse, providerOAuthError, tokenErrorBody } from './errors.js';
import { readGrant } from './grant.js';
import { accessToken, notAuthorized, revokeToken } from './tokens.js';

/** RFC 8693 at the provider's AS: a short-lived, optionally narrower access token for the provider's resource. */
export async function mint(c: ClientContext, opts: { ttlSeconds: number; scopes?: string[] }): Promise<ShortLivedCredential> {
  const ttl = opts.ttlSeconds;
  if (!Number.isInteger(ttl) || ttl < MIN_TTL_SECONDS || ttl > MAX_TTL_SECONDS) {
    throw new AgentprovError('USAGE', `a short-lived credential lives ${MIN_TTL_SECONDS}-${MAX_TTL_SECONDS} seconds, not ${ttl}`);
  }
  const stored = await readGrant(await c.deps.vault(), c.id);
  if (!stored) throw notAuthorized(c, 'no stored grant');
  const server = await c.authServer.metadata(stored.issuer);
  const exchange = async (subject: string) => {
    const grant = await readGrant(await c.deps.vault(), c.id);
    if (!grant) throw notAuthorized(c, 'no stored grant');
    return oidc.genericGrantRequest(configFor(server, grant.client_id), GRANT_TOKEN_EXCHANGE, {
      subject_token: subject,
      subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
      requested_token_type: TOKEN_TYPE_ACCESS_TOKEN,
      requested_expires_in: String(ttl),
      resource: c.ref.descriptor.resource,
      ...(opts.scopes?.length ? { scope: opts.scopes.join(' ') } : {}),
    });
  };
  let tokens;
  try {
    tokens = await exchange(await accessToken(c));
  } catch (err) {
    // The subject was revoked or expired under us: refresh once and exchange again.
    if (tokenErrorBody(err)?.error !== 'invalid_grant') {
      c.authServer.forgetUnlessOAuth(err);
      throw providerOAuthError(err, c.id, 'token_exchange');
    }
    try {
      tokens = await exchange(await accessToken(c, true));
    } catch (again) {
      throw providerOAuthError(again, c.id, 'token_exchange');
    }
  }
  const parsed = TokenExchangeResponseSchema.safeParse(tokens);
  if (!parsed.success) throw invalidResponse(c.id, 'token_exchange', `token response: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  return {
    token: parsed.data.access_token,
    expiresAt: new Date((c.now() + parsed.data.expires_in) * 1000),
    // Opaque tokens may be their own jti (the sandbox's are): only a digest is safe to log.
    id: `sha256:${createHash('sha256').update(parsed.data.access_token).digest('hex').slice(0, 16)}`,
    shortLived: true,
  };
}

/** A minted credential revoked (RFC 7009), with the grant's client id, else agentprov's client identity at the AS. */
export async function revoke(c: ClientContext, credential: ShortLivedCredential): Promise<void> {
  const grant = await readGrant(await c.deps.vault(), c.id);
  const clientId = grant?.client_id ?? (await c.authServer.clientIdentity(await c.authServer.metadata())).clientId;
  await revokeToken(c, clientId, credential.token, grant?.issuer);
}
