/**
 * The stored grant's tokens at a provider (grant.ts keeps them in the vault):
 * saving a new grant, a valid access token, the refresh with rotation
 * (RFC 6749 §6), `rotate`, and revoking an access token (RFC 7009).
 *
 * Tokens at a provider rotate: every refresh happens under a per-provider
 * lock with a re-read first (the session's pattern, src/auth/session.ts).
 */
import * as oidc from 'openid-client';
import { AgentprovError } from '../../core/errors.js';
import { ProviderTokenResponseSchema, type ProviderTokenResponse } from '../../wire/provider-auth.js';
import type { ClientContext } from './context.js';
import { configFor } from './discovery.js';
import { invalidResponse, providerOAuthError, tokenErrorBody } from './errors.js';
import { consentEntry, grantEntry, grantValue, readGrant, type Grant } from './grant.js';

/** Refresh when the access token has less than this many seconds left (as the session does). */
export const REFRESH_MARGIN_SECONDS = 60;

/** A new grant (attested or consented) into the vault, replacing a consent under way. */
export async function saveGrant(c: ClientContext, issuer: string, clientId: string, r: ProviderTokenResponse, termsVersion: string | undefined): Promise<void> {
  const now = c.now();
  const grant: Grant = {
    issuer,
    client_id: clientId,
    account_id: r.account_id!,
    ...(r.scope !== undefined ? { scope: r.scope } : {}),
    ...(termsVersion !== undefined ? { terms_version: termsVersion } : {}),
    refresh_token: r.refresh_token!,
    access_token: r.access_token,
    access_token_expires_at: now + r.expires_in,
    updated_at: now,
  };
  remember(c, grant);
  const vault = await c.deps.vault();
  await c.locked(() =>
    vault.update((entries) => {
      entries[grantEntry(c.id)] = grantValue(grant);
      delete entries[consentEntry(c.id)];
    }),
  );
}

function remember(c: ClientContext, g: Grant): void {
  c.deps.io.redactor.add(g.refresh_token);
  c.deps.io.redactor.add(g.access_token);
}

export function notAuthorized(c: ClientContext, why: string): AgentprovError {
  return new AgentprovError('PROVIDER_NOT_AUTHORIZED', `agentprov holds no usable grant at ${c.id}: ${why}`, {
    details: { provider: c.id },
    nextSteps: [`agentprov add ${c.id}/<service>`],
  });
}

/** A valid access token: lock → re-read → refresh only if still needed → write. `force`: the provider refused the current one. */
export async function accessToken(c: ClientContext, force = false): Promise<string> {
  const vault = await c.deps.vault();
  const seen = await readGrant(vault, c.id);
  if (!seen) throw notAuthorized(c, 'no stored grant');
  const fresh = (g: Grant) => g.access_token_expires_at - c.now() >= REFRESH_MARGIN_SECONDS;
  if (!force && fresh(seen)) return seen.access_token;
  return c.locked(async () => {
    const current = await readGrant(vault, c.id);
    if (!current) throw notAuthorized(c, 'no stored grant');
    if (fresh(current) && (!force || current.access_token !== seen.access_token)) return current.access_token;
    return (await refresh(c, current)).access_token;
  });
}

/** RFC 6749 §6 with rotation; call under the provider lock. A refused refresh token forgets the grant. */
async function refresh(c: ClientContext, current: Grant): Promise<Grant> {
  const server = await c.authServer.metadata(current.issuer);
  let tokens;
  try {
    tokens = await oidc.refreshTokenGrant(configFor(server, current.client_id), current.refresh_token, { resource: c.ref.descriptor.resource });
  } catch (err) {
    const body = tokenErrorBody(err);
    if (body && (body.error === 'invalid_grant' || body.error === 'unauthorized_client')) {
      await (await c.deps.vault()).delete(grantEntry(c.id));
      throw notAuthorized(c, `the provider refused the stored grant (${body.error})`);
    }
    c.authServer.forgetUnlessOAuth(err);
    throw providerOAuthError(err, c.id, 'refresh');
  }
  const parsed = ProviderTokenResponseSchema.safeParse(tokens);
  if (!parsed.success) throw invalidResponse(c.id, 'refresh', `token response: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  const now = c.now();
  const next: Grant = {
    ...current,
    access_token: parsed.data.access_token,
    refresh_token: parsed.data.refresh_token ?? current.refresh_token,
    access_token_expires_at: now + parsed.data.expires_in,
    ...(parsed.data.scope !== undefined ? { scope: parsed.data.scope } : {}),
    updated_at: now,
  };
  remember(c, next);
  await (await c.deps.vault()).set(grantEntry(c.id), grantValue(next));
  return next;
}

/**
 * New long-lived credentials: a refresh with rotation (the AS consumes the
 * old refresh token; presenting it again revokes the whole grant), then the
 * old access token is revoked (RFC 7009). The old refresh token is not sent
 * to the revocation endpoint: RFC 7009 §2.1 lets an AS revoke the whole
 * grant for it, which would take the new refresh token along (oidc-provider
 * does exactly that).
 */
export async function rotate(c: ClientContext): Promise<void> {
  const vault = await c.deps.vault();
  const { old, next } = await c.locked(async () => {
    const current = await readGrant(vault, c.id);
    if (!current) throw notAuthorized(c, 'no stored grant');
    return { old: current, next: await refresh(c, current) };
  });
  if (next.refresh_token === old.refresh_token) {
    throw new AgentprovError('PROVIDER_ERROR', `provider ${c.id} does not rotate refresh tokens, so agentprov cannot replace its credential`, {
      details: { provider: c.id, step: 'refresh' },
    });
  }
  await revokeToken(c, old.client_id, old.access_token, old.issuer);
}

/** RFC 7009 for a token (an access token unless `hint` says otherwise), at the AS of the grant that issued it when there is one. */
export async function revokeToken(c: ClientContext, clientId: string, token: string, grantIssuer?: string, hint: 'access_token' | 'refresh_token' = 'access_token'): Promise<void> {
  const server = await c.authServer.metadata(grantIssuer);
  try {
    await oidc.tokenRevocation(configFor(server, clientId), token, { token_type_hint: hint });
  } catch (err) {
    c.authServer.forgetUnlessOAuth(err);
    throw providerOAuthError(err, c.id, 'revocation');
  }
}
