/**
 * Gathering every provider's catalog at once. Per provider: a fresh cache
 * entry is used as is (no network, undici is not even loaded); otherwise the
 * descriptor and catalog are fetched concurrently with all other providers
 * under one deadline each, revalidating with If-None-Match, and a provider
 * that fails falls back to its stale cache with a warning saying how old it
 * is. One provider's failure never affects another's services.
 */
import { sanitizeLine } from '../util/sanitize.js';
import type { ProviderEntry } from '../providers/registry.js';
import { describeAge, isFresh, readCacheEntry, writeCacheEntry, type CacheEntry } from './cache.js';
import type { Fetcher } from '../http/fetch.js';
import { isLoopbackHost } from '../util/loopback.js';
import type { CatalogService } from './validate.js';

export const MAX_DESCRIPTOR_BYTES = 64 * 1024;
export const MAX_CATALOG_BYTES = 8 * 1024 * 1024;

/** `builtin`: a provider built into agentprov (src/providers/builtin.ts), listed from its versioned catalog, never fetched. */
export type ProviderState = 'cached' | 'fetched' | 'revalidated' | 'stale' | 'failed' | 'skipped' | 'builtin';

export interface ProviderReport {
  id: string | null;
  name: string | null;
  url: string;
  source: ProviderEntry['source'] | 'builtin';
  status: ProviderState;
  services: number;
  /** Seconds since the catalog was last fetched or revalidated. */
  age_s: number | null;
  error?: string;
  /** Built-in providers: the version of their catalog (shipped with agentprov). */
  version?: string;
}

export interface AggregateResult {
  services: CatalogService[];
  providers: ProviderReport[];
  warnings: string[];
  /** True when at least one provider's services are shown (fresh, fetched or stale). */
  anyAnswered: boolean;
}

export interface AggregateOptions {
  entries: ProviderEntry[];
  cacheRoot: string;
  deadlineMs: number;
  refresh: boolean;
  now: () => number;
  /** Injected for tests; by default undici is loaded only when some provider needs the network. */
  fetcher?: Fetcher;
}

interface Outcome {
  entry: ProviderEntry;
  cache?: CacheEntry;
  status: ProviderState;
  error?: string;
  warnings: string[];
}

export async function aggregateCatalogs(opts: AggregateOptions): Promise<AggregateResult> {
  const now = opts.now();
  const cached = opts.entries.map((entry) => ({ entry, cache: readCacheEntry(opts.cacheRoot, entry.url) }));
  const needNetwork = cached.filter((c) => opts.refresh || !c.cache || !isFresh(c.cache, now));

  let fetcher = opts.fetcher;
  let ownFetcher: Fetcher | undefined;
  if (needNetwork.length > 0) void import('./validate.js'); // start loading zod while undici loads and connects
  if (needNetwork.length > 0 && !fetcher) {
    const { createFetcher } = await import('../http/fetch.js');
    fetcher = ownFetcher = createFetcher({ headersTimeoutMs: opts.deadlineMs, bodyTimeoutMs: opts.deadlineMs });
  }
  try {
    const outcomes = await Promise.all(
      cached.map(async ({ entry, cache }): Promise<Outcome> => {
        if (cache && !opts.refresh && isFresh(cache, now)) return { entry, cache, status: 'cached', warnings: [] };
        return refreshOne(entry, cache, fetcher!, opts);
      }),
    );
    return assemble(outcomes, opts.now());
  } finally {
    await ownFetcher?.close().catch(() => undefined);
  }
}

async function refreshOne(entry: ProviderEntry, cache: CacheEntry | undefined, fetcher: Fetcher, opts: AggregateOptions): Promise<Outcome> {
  const signal = AbortSignal.timeout(opts.deadlineMs);
  const started = opts.now();
  let descriptorId: string | undefined;
  try {
    // The catalog URL we knew last time (cache, or the config entry written by
    // `providers add`) lets the catalog request run beside the descriptor's.
    const guess = cache?.catalog_url ?? entry.catalogUrl;
    const catalogFor = (url: string) =>
      fetcher.get(url, { signal, maxBytes: MAX_CATALOG_BYTES, etag: cache && cache.catalog_url === url ? cache.etag : undefined });
    const early = guess ? catalogFor(guess) : undefined;
    early?.catch(() => undefined);

    const descDoc = await fetcher.get(entry.url, { signal, maxBytes: MAX_DESCRIPTOR_BYTES });
    if (descDoc.status !== 200 || !descDoc.body) throw new Error('descriptor answered 304 to a request without a validator');
    // Loaded only on this path, so a warm run never pays for zod or undici.
    const [{ parseCatalog, parseDescriptor }, { assertFetchableUrl }] = await Promise.all([import('./validate.js'), import('../http/fetch.js')]);
    const descriptor = parseDescriptor(descDoc.body);
    descriptorId = descriptor.provider_id;
    const catalogUrl = new URL(descriptor.catalog_url);
    assertFetchableUrl(catalogUrl);
    if (isLoopbackHost(new URL(descDoc.url).hostname) && !isLoopbackHost(catalogUrl.hostname)) {
      throw new Error(`catalog_url ${catalogUrl.host} leaves loopback`);
    }
    const sameAsCache = cache && cache.catalog_url === descriptor.catalog_url && cache.provider_id === descriptor.provider_id;
    const doc = await (early && guess === descriptor.catalog_url ? early : catalogFor(descriptor.catalog_url));
    const base = {
      v: 1 as const,
      url: entry.url,
      provider_id: descriptor.provider_id,
      provider_name: sanitizeLine(descriptor.name).slice(0, 200),
      catalog_url: descriptor.catalog_url,
      fetched_at: opts.now(),
      max_age: doc.maxAge,
    };
    if (doc.status === 304) {
      if (!sameAsCache || !cache) throw new Error('catalog answered 304 Not Modified without a cached copy');
      const next: CacheEntry = { ...cache, ...base, ...(doc.etag ? { etag: doc.etag } : {}) };
      writeCacheEntry(opts.cacheRoot, next);
      return { entry, cache: next, status: 'revalidated', warnings: [] };
    }
    const parsed = parseCatalog(doc.body!, descriptor.provider_id);
    const next: CacheEntry = { ...base, ...(doc.etag ? { etag: doc.etag } : {}), services: parsed.services, warnings: parsed.warnings };
    writeCacheEntry(opts.cacheRoot, next);
    return { entry, cache: next, status: 'fetched', warnings: [] };
  } catch (err) {
    const reason = sanitizeLine((err as Error)?.message ?? String(err)).slice(0, 300);
    const name = descriptorId ?? cache?.provider_id ?? entry.id ?? '(unknown id)';
    if (cache) {
      return {
        entry,
        cache,
        status: 'stale',
        error: reason,
        warnings: [`provider ${name} (${entry.url}) is unreachable (${reason}); showing its catalog cached ${describeAge(started - cache.fetched_at)} ago`],
      };
    }
    return { entry, status: 'failed', error: reason, warnings: [`provider ${name} (${entry.url}) failed: ${reason}`] };
  }
}

function assemble(outcomes: Outcome[], now: number): AggregateResult {
  const services: CatalogService[] = [];
  const providers: ProviderReport[] = [];
  const warnings: string[] = [];
  const owners = new Map<string, string>();
  let anyAnswered = false;
  for (const o of outcomes) {
    warnings.push(...o.warnings);
    const c = o.cache;
    if (!c || o.status === 'failed') {
      providers.push({ id: o.entry.id ?? null, name: null, url: o.entry.url, source: o.entry.source, status: 'failed', services: 0, age_s: null, ...(o.error ? { error: o.error } : {}) });
      continue;
    }
    const owner = owners.get(c.provider_id);
    if (owner !== undefined) {
      warnings.push(`provider ${c.provider_id} (${o.entry.url}) skipped: its id collides with ${owner}, which claimed "${c.provider_id}" first`);
      providers.push({ id: c.provider_id, name: c.provider_name, url: o.entry.url, source: o.entry.source, status: 'skipped', services: 0, age_s: null, error: `provider id collides with ${owner}` });
      continue;
    }
    owners.set(c.provider_id, o.entry.url);
    if (o.entry.id && o.entry.id !== c.provider_id) {
      warnings.push(`provider ${c.provider_id} (${o.entry.url}) was registered as "${o.entry.id}"; its descriptor says "${c.provider_id}"`);
    }
    warnings.push(...c.warnings);
    anyAnswered = true;
    services.push(...c.services);
    providers.push({
      id: c.provider_id,
      name: c.provider_name,
      url: o.entry.url,
      source: o.entry.source,
      status: o.status,
      services: c.services.length,
      age_s: Math.max(0, Math.round((now - c.fetched_at) / 1000)),
      ...(o.error ? { error: o.error } : {}),
    });
  }
  return { services, providers, warnings, anyAnswered };
}
