/**
 * Short-lived tokens `agentprov token` minted, cached in the vault (one
 * entry per provider + scopes) so a repeated call within their lifetime
 * costs no network round trip. The token sits under a secret-named field,
 * so every other command's output masks it; only `token` prints it.
 *
 * On the warm path: no openid-client, no undici (only the vault).
 */
import { z } from 'zod';
import type { Vault } from '../vault/vault.js';

/** A cached token is reused only while it has more than this many seconds left. */
export const REUSE_MARGIN_SECONDS = 60;

const CachedToken = z.object({
  v: z.literal(1),
  access_token: z.string().min(1).max(16_384),
  /** Epoch seconds. */
  expires_at: z.number().int().nonnegative(),
  /** The credential's id (jti or a digest), for the audit log. */
  id: z.string().max(256).optional(),
});
export type CachedToken = Omit<z.infer<typeof CachedToken>, 'v'>;

export function cacheEntry(providerId: string, scopes: readonly string[]): string {
  return `token-cache:${providerId}:${[...new Set(scopes)].sort().join(' ') || '*'}`;
}

/** A cached token with more than a minute left, or undefined. */
export async function readCachedToken(vault: Vault, name: string, nowSeconds: number): Promise<CachedToken | undefined> {
  const parsed = CachedToken.safeParse(await vault.get(name));
  if (!parsed.success || parsed.data.expires_at - nowSeconds <= REUSE_MARGIN_SECONDS) return undefined;
  const { v: _v, ...token } = parsed.data;
  return token;
}

/** Store a fresh token and drop expired entries of every provider. */
export async function writeCachedToken(vault: Vault, name: string, token: CachedToken, nowSeconds: number): Promise<void> {
  await vault.update((entries) => {
    for (const [k, v] of Object.entries(entries)) {
      if (!k.startsWith('token-cache:')) continue;
      const p = CachedToken.safeParse(v);
      if (!p.success || p.data.expires_at <= nowSeconds) delete entries[k];
    }
    entries[name] = CachedToken.parse({ v: 1, ...token });
  });
}
