/**
 * Short-lived tokens `agentprov token` minted, cached in the vault (one
 * entry per provider + scopes) so a repeated call within their lifetime
 * costs no network round trip. The token sits under a secret-named field,
 * so every other command's output masks it; only `token` prints it.
 *
 * On the warm path: no openid-client, no undici, no zod (only the vault).
 * An entry is narrowed by hand with the bounds it is written with; it lives
 * inside the authenticated vault, so it is what agentprov itself stored.
 */
import { join } from 'node:path';
import { readIndexFile } from '../util/index-file.js';
import { nameHash } from '../catalog/cache.js';
import { currentFingerprint } from '../util/file-fingerprint.js';
import { writeJsonAtomic } from '../util/atomic-file.js';
import { findManifest } from '../project/locate.js';
import type { SecretVault } from '../core/deps.js';

/** A cached token is reused only while it has more than this many seconds left. */
export const REUSE_MARGIN_SECONDS = 60;

const MAX_TOKEN = 16_384;
const MAX_ID = 256;

export interface CachedToken {
  access_token: string;
  /** Epoch seconds. */
  expires_at: number;
  /** The credential's id (jti or a digest), for the audit log. */
  id?: string;
}

/** The stored form of a cached token, or undefined when `raw` is not one. */
export function narrowCachedToken(raw: unknown): CachedToken | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { v, access_token, expires_at, id } = raw as Record<string, unknown>;
  if (v !== 1) return undefined;
  if (typeof access_token !== 'string' || access_token.length < 1 || access_token.length > MAX_TOKEN) return undefined;
  if (!Number.isSafeInteger(expires_at) || (expires_at as number) < 0) return undefined;
  if (id !== undefined && (typeof id !== 'string' || id.length > MAX_ID)) return undefined;
  return { access_token, expires_at: expires_at as number, ...(id !== undefined ? { id } : {}) };
}

export function cacheEntry(providerId: string, scopes: readonly string[]): string {
  return `token-cache:${providerId}:${[...new Set(scopes)].sort().join(' ') || '*'}`;
}

/** The prefix of every cache entry of one provider (`''`: of every provider). */
export function cachePrefix(providerId: string): string {
  return providerId === '' ? 'token-cache:' : `token-cache:${providerId}:`;
}

/** Every token cached for a provider (`revoke` gives them back before dropping them). */
export async function cachedTokensOf(vault: SecretVault, providerId: string): Promise<CachedToken[]> {
  const prefix = cachePrefix(providerId);
  return Object.entries(await vault.entries())
    .filter(([k]) => k.startsWith(prefix))
    .map(([, v]) => narrowCachedToken(v))
    .filter((t): t is CachedToken => t !== undefined);
}

/** Drop every cached token of a provider (`''`: of all); how many there were. No write when there are none. */
export async function dropCachedTokens(vault: SecretVault, providerId: string): Promise<number> {
  const prefix = cachePrefix(providerId);
  if (!(await vault.names()).some((n) => n.startsWith(prefix))) return 0;
  return vault.update((entries) => {
    let n = 0;
    for (const k of Object.keys(entries)) {
      if (!k.startsWith(prefix)) continue;
      delete entries[k];
      n++;
    }
    return n;
  });
}

/** A cached token with more than a minute left, or undefined. */
export function usableCachedToken(raw: unknown, nowSeconds: number): CachedToken | undefined {
  const token = narrowCachedToken(raw);
  return token && token.expires_at - nowSeconds > REUSE_MARGIN_SECONDS ? token : undefined;
}

/** Store a fresh token and drop expired entries of every provider. */
export async function writeCachedToken(vault: SecretVault, name: string, token: CachedToken, nowSeconds: number): Promise<void> {
  const entry = { v: 1 as const, access_token: token.access_token, expires_at: token.expires_at, ...(token.id !== undefined ? { id: token.id } : {}) };
  if (!narrowCachedToken(entry)) throw new Error('refusing to cache a token outside the cache bounds');
  await vault.update((entries) => {
    for (const [k, v] of Object.entries(entries)) {
      if (!k.startsWith('token-cache:')) continue;
      const p = narrowCachedToken(v);
      if (!p || p.expires_at <= nowSeconds) delete entries[k];
    }
    entries[name] = entry;
  });
}

/**
 * Which provider a `token` target names, without zod on the warm path. A
 * resource of the project's agentprov.json wins over a provider id of the
 * same name (exec/targets.ts). The manifest's resource → provider pairs are
 * remembered beside the catalog cache, keyed by the manifest's path, inode,
 * size, mtime and ctime: written only after the manifest passed its zod
 * schema, read only while the file is unchanged. Anything else (a changed,
 * invalid or unreadable manifest) takes the full path, which validates and
 * fails exactly as before.
 */
export async function providerOfTarget(deps: { cwd: string; paths: { cache: string } }, target: string): Promise<{ provider: string; resource?: string }> {
  const manifest = findManifest(deps.cwd);
  if (!manifest) return { provider: target };
  const fingerprint = statKey(manifest);
  const file = indexFile(deps.paths.cache, manifest);
  const known = fingerprint ? readTargetIndex(file, fingerprint) : undefined;
  if (known) {
    const provider = known.get(target);
    return provider !== undefined ? { provider, resource: target } : { provider: target };
  }
  const { loadManifest } = await import('../project/manifest.js');
  const m = await loadManifest(manifest);
  if (fingerprint && fingerprint === statKey(manifest)) {
    writeJsonAtomic(file, { v: 1, fingerprint, resources: m.resources.map((r) => [r.name, r.provider]) });
  }
  const resource = m.resources.find((r) => r.name === target);
  return resource ? { provider: resource.provider, resource: resource.name } : { provider: target };
}

/** The manifest's identity: its path and the fingerprint of the file there now. */
function statKey(file: string): string | undefined {
  const fp = currentFingerprint(file);
  return fp && `${file}:${fp}`;
}

function indexFile(cacheRoot: string, manifest: string): string {
  return join(cacheRoot, 'catalog', `targets-${nameHash(manifest)}.json`);
}

/** The manifest's resource → provider pairs, when the index is there, matches `fingerprint` and is what this module writes. */
function readTargetIndex(file: string, fingerprint: string): Map<string, string> | undefined {
  const resources = readIndexFile(file, fingerprint)?.resources;
  if (!Array.isArray(resources) || resources.length > 1000) return undefined;
  const map = new Map<string, string>();
  for (const pair of resources as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) return undefined;
    const [name, provider] = pair as unknown[];
    if (typeof name !== 'string' || name.length > 63 || typeof provider !== 'string' || provider.length < 1 || provider.length > 64) return undefined;
    if (!map.has(name)) map.set(name, provider);
  }
  return map;
}
