/**
 * `agentprov token <provider|resource> [--ttl D] [--scope S ...]`: a
 * short-lived access token minted from the stored grant (RFC 8693 at the
 * provider's AS, audience-bound, down-scoped with --scope). A cached one
 * with more than a minute left is printed without any network call, from
 * one read of the vault, and without loading openid-client, undici or zod
 * (issue 8 wants it within 1.5× a bare `node`). The long-lived grant is
 * never printed; the short-lived token is, on purpose (`reveal`).
 */
import type { Deps } from '../deps.js';
import { AgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';
import { parseTtl } from '../../util/duration.js';
import { cacheEntry, providerOfTarget, usableCachedToken, writeCachedToken } from '../../exec/token-cache.js';

interface TokenData {
  provider: string;
  resource?: string;
  token: string;
  expires_at: string;
  ttl_seconds: number;
  scopes: string[];
  cached: boolean;
}

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult<TokenData>> {
  const target = args[0] ?? '';
  const ttl = parseTtl(opts.ttl);
  const scopes = [...new Set(((opts.scope as string[] | undefined) ?? []).flatMap((s) => s.split(/\s+/)).filter(Boolean))].sort();
  // The keychain opens (binding, bus check) while the target is resolved; errors keep their order.
  const opening = deps.vault();
  opening.catch(() => undefined);
  const { provider: providerId, resource } = await providerOfTarget(deps, target);
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  const vault = await opening;
  const entries = await vault.entries();
  // Signed out (logout) means no more tokens, from the cache either.
  if (entries.session === undefined) {
    throw new AgentprovError('NOT_SIGNED_IN', 'nobody is signed in', { nextSteps: ['agentprov login'] });
  }
  const entry = cacheEntry(providerId, scopes);
  const cached = usableCachedToken(entries[entry], now);
  if (cached) return result({ provider: providerId, resource, token: cached.access_token, expiresAt: cached.expires_at, ttl, scopes, cached: true });

  const [{ getSession }, { gatherCatalog }, { openProvider }, { childCredential }, { appendAudit }] = await Promise.all([
    import('../../auth/session.js'),
    import('../../catalog/gather.js'),
    import('../../provision/providers.js'),
    import('../../exec/credentials.js'),
    import('../../audit/log.js'),
  ]);
  await getSession(deps); // an expired session that cannot be renewed: NOT_SIGNED_IN (exit 3)
  // A stale cached catalog serves (only the provider's URL is read): a token costs its mint and nothing else.
  const provider = await openProvider(deps, providerId, await gatherCatalog(deps, { refresh: false, staleOk: true }));
  const credential = await childCredential(provider, ttl, scopes).catch(async (err: unknown) => {
    throw await (await import('../../exec/way-back.js')).withWayBack(deps, err);
  });
  if (!credential.shortLived) {
    throw new AgentprovError('SHORT_LIVED_UNSUPPORTED', `${providerId} only has a long-lived key, which agentprov never prints; wrap the command instead`, {
      details: { provider: providerId },
      nextSteps: [`agentprov run --provider ${providerId} -- <command>`],
    });
  }
  deps.io.redactor.add(credential.token);
  const expiresAt = Math.floor(credential.expiresAt.getTime() / 1000);
  await writeCachedToken(vault, entry, { access_token: credential.token, expires_at: expiresAt, ...(credential.id ? { id: credential.id } : {}) }, now);
  await appendAudit(deps, {
    command: 'token',
    provider: providerId,
    ...(resource ? { resource } : {}),
    decision: 'credential_minted',
    details: { credential_id: credential.id ?? null, ttl_seconds: ttl, scopes: scopes.join(' ') || null, expires_at: credential.expiresAt.toISOString() },
  });
  return result({ provider: providerId, resource, token: credential.token, expiresAt, ttl, scopes, cached: false });
}

function result(r: { provider: string; resource?: string; token: string; expiresAt: number; ttl: number; scopes: string[]; cached: boolean }): CommandResult<TokenData> {
  const expires = new Date(r.expiresAt * 1000).toISOString();
  return {
    data: {
      provider: r.provider,
      ...(r.resource ? { resource: r.resource } : {}),
      token: r.token,
      expires_at: expires,
      ttl_seconds: r.ttl,
      scopes: r.scopes,
      cached: r.cached,
    },
    bare: r.token,
    human: `${r.token}\n# ${r.provider} access token, expires ${expires}${r.cached ? ' (cached)' : ''}`,
    reveal: [r.token],
  };
}
