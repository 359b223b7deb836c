/**
 * The OAuth form of the Cloudflare link (vault entry `cloudflare_link`, v2):
 * the refresh token a human's consent produced, bound to the signed-in
 * agentprov user, and the current access token.
 *
 *   { v:2, kind:'oauth', api_url, oauth_url, client_id, account_id,
 *     account_name, scope, refresh_token, access_token,
 *     access_token_expires_at, issuer, subject, linked_at, updated_at }
 *
 * Both tokens are secret-named fields, so the vault teaches the redactor their
 * values whenever it is read. The refresh token never leaves this module but
 * towards Cloudflare's token and revocation endpoints.
 *
 * Refresh tokens rotate: every refresh runs under a cross-process lock with a
 * re-read first (as src/providers/agentprov/tokens.ts does), so two agentprov
 * processes never both spend the same refresh token (Cloudflare, like any
 * RFC 6819 §5.2.2.3 server, may revoke the whole grant when one is reused).
 */
import { join } from 'node:path';
import * as oidc from 'openid-client';
import * as z from 'zod';
import type { Deps } from '../../core/deps.js';
import { AgentprovError } from '../../core/errors.js';
import { withFileLock } from '../../util/file-lock.js';
import { CLOUDFLARE_PROVIDER_ID as PROVIDER, LINK_ONLY_SCOPES, oauthScopeOf } from '../../catalog/builtin/cloudflare.js';
import { RELINK } from './errors.js';
import { oauthConfig, oauthErrorCode, oauthFailure, parseTokens, type CloudflareTokenResponse } from './oauth.js';

export const LINK_ENTRY = 'cloudflare_link';
/** Refresh when the access token has less than this many seconds left. */
export const REFRESH_MARGIN_SECONDS = 60;

const Secret = z.string().regex(/^[\x21-\x7e]{16,4096}$/);
export const OAuthLinkSchema = z.object({
  v: z.literal(2),
  kind: z.literal('oauth'),
  api_url: z.string().url().max(2048),
  oauth_url: z.string().url().max(2048),
  client_id: z.string().min(1).max(255),
  account_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  account_name: z.string().max(200),
  scope: z.string().max(8192),
  refresh_token: Secret,
  access_token: Secret,
  access_token_expires_at: z.number().int(),
  issuer: z.string().max(2048),
  subject: z.string().min(1).max(255),
  linked_at: z.string().max(64),
  updated_at: z.number().int(),
});
export type OAuthLink = z.infer<typeof OAuthLinkSchema>;

const nowS = (deps: Deps): number => Math.floor(deps.clock.now().getTime() / 1000);

/** The stored OAuth link, or undefined (none, or the pasted-token kind). */
export async function readOAuthLink(deps: Deps): Promise<OAuthLink | undefined> {
  const parsed = OAuthLinkSchema.safeParse(await (await deps.vault()).get(LINK_ENTRY));
  return parsed.success ? parsed.data : undefined;
}

/** Does the grant let agentprov create API tokens (so a child can be narrower and shorter-lived than the access token)? */
export function grantCreatesTokens(link: Pick<OAuthLink, 'scope'>): boolean {
  const granted = new Set(link.scope.split(/\s+/));
  return (LINK_ONLY_SCOPES['api_tokens:write'] ?? []).every((g) => granted.has(oauthScopeOf(g)));
}

/** The link record for a fresh consent (the caller stores it). */
export function newOAuthLink(deps: Deps, base: Omit<OAuthLink, 'v' | 'kind' | 'refresh_token' | 'access_token' | 'access_token_expires_at' | 'updated_at' | 'scope'>, t: CloudflareTokenResponse, requestedScope: string): OAuthLink {
  if (!t.refresh_token) {
    throw new AgentprovError('PROVIDER_ERROR', 'Cloudflare granted no refresh token: agentprov could not keep working after the access token expires (does the OAuth client allow the refresh_token grant?)', {
      details: { provider: PROVIDER, step: 'token' },
      nextSteps: ['add the refresh_token grant type to the OAuth client in the Cloudflare dashboard', RELINK],
    });
  }
  deps.io.redactor.add(t.refresh_token);
  deps.io.redactor.add(t.access_token);
  const now = nowS(deps);
  return { v: 2, kind: 'oauth', ...base, scope: t.scope ?? requestedScope, refresh_token: t.refresh_token, access_token: t.access_token, access_token_expires_at: now + t.expires_in, updated_at: now };
}

function locked<T>(deps: Deps, fn: () => Promise<T>): Promise<T> {
  return withFileLock(join(deps.paths.state, 'cloudflare-oauth'), { code: 'VAULT_LOCKED', what: 'the Cloudflare OAuth grant' }, fn);
}

export function grantRefused(why: string): AgentprovError {
  return new AgentprovError('PROVIDER_NOT_LINKED', `agentprov is no longer linked to Cloudflare: ${why}; a human links the account again`, {
    details: { provider: PROVIDER },
    nextSteps: [RELINK],
  });
}

/**
 * A usable access token of the link: lock → re-read → refresh only when it
 * still has less than `minSeconds` (at least the margin) left, or `force` and
 * nobody refreshed since `seen` → write. A refused refresh token
 * (invalid_grant) forgets the link.
 */
export async function oauthAccessToken(deps: Deps, seen: OAuthLink, opts: { minSeconds?: number; force?: boolean } = {}): Promise<OAuthLink> {
  const need = Math.max(opts.minSeconds ?? 0, REFRESH_MARGIN_SECONDS);
  const fresh = (l: OAuthLink) => l.access_token_expires_at - nowS(deps) >= need;
  if (!opts.force && fresh(seen)) return seen;
  return locked(deps, async () => {
    const current = await readOAuthLink(deps);
    if (!current || current.subject !== seen.subject) throw grantRefused('the link was removed meanwhile');
    if (fresh(current) && (!opts.force || current.access_token !== seen.access_token)) return current;
    let tokens;
    try {
      tokens = parseTokens(await oidc.refreshTokenGrant(oauthConfig(current.oauth_url, current.client_id), current.refresh_token), 'refresh');
    } catch (err) {
      const code = oauthErrorCode(err);
      if (code === 'invalid_grant' || code === 'unauthorized_client') {
        await (await deps.vault()).delete(LINK_ENTRY);
        throw grantRefused(`Cloudflare refused the stored grant (${code})`);
      }
      throw oauthFailure(err, 'refresh');
    }
    if (tokens.refresh_token) deps.io.redactor.add(tokens.refresh_token);
    deps.io.redactor.add(tokens.access_token);
    const now = nowS(deps);
    const next: OAuthLink = {
      ...current,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token ?? current.refresh_token,
      access_token_expires_at: now + tokens.expires_in,
      ...(tokens.scope !== undefined ? { scope: tokens.scope } : {}),
      updated_at: now,
    };
    await (await deps.vault()).set(LINK_ENTRY, next);
    return next;
  });
}

/**
 * RFC 7009 at Cloudflare's revocation endpoint with the refresh token: the
 * grant ends, with every access token issued from it (RFC 7009 §2.1). Under
 * the lock, so no refresh runs beside it.
 */
export async function revokeOAuthGrant(deps: Deps, link: OAuthLink): Promise<void> {
  await locked(deps, async () => {
    const current = (await readOAuthLink(deps)) ?? link;
    try {
      await oidc.tokenRevocation(oauthConfig(current.oauth_url, current.client_id), current.refresh_token, { token_type_hint: 'refresh_token' });
    } catch (err) {
      throw oauthFailure(err, 'revocation');
    }
  });
}
