/**
 * Changing the user's provider list: add a descriptor URL (after fetching and
 * validating the descriptor, and refusing an id another provider already
 * has), and remove one by id or URL. Reads through the registry, writes
 * through `conf` under the config lock (updateConfig).
 */
import { AgentprovError } from '../core/errors.js';
import { updateConfig } from '../config/settings.js';
import type { Paths } from '../core/paths.js';
import { readCachedCatalog, removeCacheEntry } from './cache.js';
import { forgetDescriptor } from './descriptor-cache.js';
import { loadRegistry, normalizeProviderUrl, type ProviderEntry, type Registry } from './registry.js';

export interface KnownProvider extends ProviderEntry {
  /** The id from the config, or else from the cached descriptor. */
  knownId: string | null;
  name: string | null;
  services: number | null;
  cached_at: string | null;
}

export async function knownProviders(paths: Paths, cwd: string): Promise<{ providers: KnownProvider[]; warnings: string[] }> {
  const registry = await loadRegistry({ paths, cwd });
  return { providers: describe(registry.entries, paths.cache), warnings: registry.warnings };
}

function describe(entries: ProviderEntry[], cacheRoot: string): KnownProvider[] {
  return entries.map((e) => {
    // The header says all this (its count is checksummed with the services): no need to parse them.
    const c = readCachedCatalog(cacheRoot, e.url)?.header;
    return {
      ...e,
      knownId: c?.provider_id ?? e.id ?? null,
      name: c?.provider_name ?? null,
      services: c ? c.count : null,
      cached_at: c ? new Date(c.fetched_at).toISOString() : null,
    };
  });
}

/**
 * Record `url` (already validated to serve a descriptor for `id`) as a user
 * provider. `registry` is the caller's, loaded once per command; the ids are
 * read from the cache now, so they include what the validation just fetched.
 */
export async function addUserProvider(paths: Paths, registry: Registry, url: string, id: string): Promise<{ added: boolean }> {
  const clash = describe(registry.entries, paths.cache).find((p) => p.knownId === id && p.url !== url);
  if (clash) throw idTaken(id, url, clash);
  const catalogUrl = readCachedCatalog(paths.cache, url)?.header.catalog_url;
  return updateConfig(paths.config, (config) => {
    // Again under the lock: another `providers add` may have taken the id since the registry was read.
    const taken = config.providers.find((p) => p.id === id && safeNormalize(p.url) !== url);
    if (taken) throw idTaken(id, url, { url: safeNormalize(taken.url), source: taken.source });
    const existing = config.providers.find((p) => safeNormalize(p.url) === url);
    if (existing) {
      existing.id = id;
      if (catalogUrl) existing.catalog_url = catalogUrl;
    } else {
      config.providers.push({ id, url, source: 'user', ...(catalogUrl ? { catalog_url: catalogUrl } : {}) });
    }
    return { added: !existing };
  });
}

/**
 * The human's yes to the providers a project's agentprov.json names: each
 * one not registered yet becomes a user provider, so it is trusted with
 * credentials from now on (src/provision/providers.ts refuses manifest-only
 * ones). Returns what was newly trusted.
 */
export async function trustManifestProviders(paths: Paths, cwd: string): Promise<ProviderEntry[]> {
  const registry = await loadRegistry({ paths, cwd });
  const fromManifest = registry.entries.filter((e) => e.source === 'manifest');
  if (fromManifest.length === 0) return [];
  await updateConfig(paths.config, (config) => {
    for (const e of fromManifest) {
      if (config.providers.some((p) => safeNormalize(p.url) === e.url)) continue;
      config.providers.push({ url: e.url, source: 'user', ...(e.id ? { id: e.id } : {}) });
    }
  });
  return fromManifest;
}

export async function removeProvider(paths: Paths, cwd: string, idOrUrl: string): Promise<KnownProvider[]> {
  const { providers } = await knownProviders(paths, cwd);
  let asUrl: string | undefined;
  try {
    asUrl = /^https?:/i.test(idOrUrl) ? normalizeProviderUrl(idOrUrl) : undefined;
  } catch {
    asUrl = undefined;
  }
  const matches = providers.filter((p) => p.knownId === idOrUrl || p.url === asUrl);
  if (matches.length === 0) {
    throw new AgentprovError('PROVIDER_NOT_FOUND', `no provider "${idOrUrl}" is registered`, { nextSteps: ['agentprov providers list'] });
  }
  const removable = matches.filter((p) => p.source !== 'manifest');
  if (removable.length === 0) {
    throw new AgentprovError('USAGE', `provider "${idOrUrl}" comes from the project manifest; remove it from agentprov.json`, {
      details: { urls: matches.map((m) => m.url) },
    });
  }
  const urls = new Set(removable.map((p) => p.url));
  await updateConfig(paths.config, (config) => {
    config.providers = config.providers.filter((p) => !urls.has(safeNormalize(p.url)));
  });
  for (const u of urls) {
    removeCacheEntry(paths.cache, u);
    forgetDescriptor(paths.cache, u);
  }
  return removable;
}

function idTaken(id: string, url: string, holder: { url: string; source: string }): AgentprovError {
  return new AgentprovError('USAGE', `provider id "${id}" is already taken by ${holder.url} (${holder.source})`, {
    details: { reason: 'PROVIDER_ID_COLLISION', id, url, existing: { url: holder.url, source: holder.source } },
    nextSteps: [holder.source === 'manifest' ? 'edit the providers of agentprov.json' : `agentprov providers remove ${id}`],
  });
}

function safeNormalize(url: string): string {
  try {
    return normalizeProviderUrl(url);
  } catch {
    return url;
  }
}
