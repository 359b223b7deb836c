/**
 * Gathering every provider's catalog at once. Per provider: a fresh cache
 * entry is used as is (no network, undici is not even loaded); otherwise the
 * descriptor and catalog are fetched concurrently with all other providers
 * under one deadline each, revalidating with If-None-Match, and a provider
 * that fails falls back to its stale cache with a warning saying how old it
 * is. One provider's failure never affects another's services. What only
 * the network path needs (validators, the HTTP client, sanitizing) is
 * imported there, off the warm path.
 */
import type { ProviderEntry } from './registry.js';
import { describeAge, isFresh, newCachedCatalog, readCachedCatalog, withHeader, writeCachedCatalog, type CachedCatalog } from './cache.js';
import type { FetchedDocument, Fetcher } from '../http/fetch.js';
import type { CatalogService } from './service.js';

export const MAX_CATALOG_BYTES = 8 * 1024 * 1024;

/** `builtin`: a provider built into agentprov (src/catalog/builtin/), listed from its versioned catalog, never fetched. */
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
  /** Authorization servers off its origin that the orchestrator vouched for. */
  authorization_servers?: string[];
  /** `app`: an APP 0.1d provider (src/providers/app/), with the CIMD URL the user gave; absent: the agentprov protocol. */
  protocol?: 'app';
  client_id?: string;
}

export interface AggregateResult {
  /** Every shown provider's services, in provider order (parsed from the cache on first use). */
  readonly services: CatalogService[];
  providers: ProviderReport[];
  warnings: string[];
  /** True when at least one provider's services are shown (fresh, fetched or stale). */
  anyAnswered: boolean;
  /**
   * The JSON text of `services`, exactly what JSON.stringify(services)
   * gives, spliced from the cached text without parsing it (`catalog --json`).
   */
  servicesJson(): string;
  /** The first of `services`, parsing at most one provider's catalog. */
  firstService(): CatalogService | undefined;
}

export interface AggregateOptions {
  entries: ProviderEntry[];
  cacheRoot: string;
  deadlineMs: number;
  refresh: boolean;
  /**
   * A cached catalog of any age is used without asking the provider (`run`
   * and `token`, which need only the env mapping and the provider's URL,
   * never prices): a stale one is revalidated by the next `catalog`.
   */
  staleOk?: boolean;
  now: () => number;
  /** Injected for tests; by default undici is loaded only when some provider needs the network. */
  fetcher?: Fetcher;
}

interface Outcome {
  entry: ProviderEntry;
  cache?: CachedCatalog;
  status: ProviderState;
  error?: string;
  warnings: string[];
}

export async function aggregateCatalogs(opts: AggregateOptions): Promise<AggregateResult> {
  const now = opts.now();
  const cached = opts.entries.map((entry) => ({ entry, cache: readCachedCatalog(opts.cacheRoot, entry.url) }));
  const usable = (c: CachedCatalog | undefined): c is CachedCatalog => Boolean(c && !opts.refresh && (opts.staleOk || isFresh(c.header, now)));
  const needNetwork = cached.filter((c) => !usable(c.cache));

  let fetcher = opts.fetcher;
  let ownFetcher: Fetcher | undefined;
  let net: NetPath | undefined;
  if (needNetwork.length > 0) {
    // What sending needs, loaded only here: a warm run loads none of it.
    const [{ createFetcher }, memory, origin] = await Promise.all([import('../http/fetch.js'), import('./descriptor-cache.js'), import('../wire/origin.js')]);
    fetcher ??= ownFetcher = createFetcher({ headersTimeoutMs: opts.deadlineMs, bodyTimeoutMs: opts.deadlineMs });
    net = { memory, origin };
  }
  // The validators (zod: a large chunk to compile) are loaded, and primed on a sample, once every first
  // request has left, so both overlap the round trip instead of delaying it; a slow connect does not hold them long.
  let unsent = 0;
  let loadValidators!: () => void;
  const validators = new Promise<void>((go) => (loadValidators = go))
    .then(networkHelpers)
    .then((h) => {
      try {
        h.primeValidators();
      } catch {
        // priming only saves time later
      }
      return h;
    });
  validators.catch(() => undefined);
  const sent = (): void => void (--unsent === 0 && loadValidators());
  let timer: NodeJS.Timeout | undefined;
  try {
    const pending = cached.map(async ({ entry, cache }): Promise<Outcome> => {
      if (usable(cache)) return { entry, cache, status: 'cached', warnings: [] };
      // An APP provider has no descriptor: its own catalog path (catalog/app-catalog.ts).
      if (entry.protocol === 'app') return import('./app-catalog.js').then((m) => m.refreshAppCatalog(entry, fetcher!, opts, cache)).then((o) => ({ entry, ...o }));
      unsent++;
      return refreshOne(entry, cache, fetcher!, net!, opts, sent, validators);
    });
    if (unsent > 0) timer = setTimeout(loadValidators, 25);
    const outcomes = await Promise.all(pending);
    return assemble(outcomes, opts.now());
  } finally {
    clearTimeout(timer);
    await ownFetcher?.close().catch(() => undefined);
  }
}

/** What refreshOne needs before the validators: the descriptor memory and the origin rule. */
interface NetPath {
  memory: typeof import('./descriptor-cache.js');
  origin: typeof import('../wire/origin.js');
}

type Helpers = typeof import('./validate.js') & typeof import('../http/fetch.js') & typeof import('../util/sanitize.js');
let helpers: Promise<Helpers> | undefined;

/** What only the network path needs (zod above all), loaded once per process, never on a warm run. */
function networkHelpers(): Promise<Helpers> {
  return (helpers ??= Promise.all([import('./validate.js'), import('../http/fetch.js'), import('../util/sanitize.js')]).then((ms) =>
    Object.assign({}, ...ms),
  ));
}

/**
 * One provider's catalog. Its descriptor is the one remembered while its
 * max-age lasts (descriptor-cache.ts), else fetched beside the catalog. The
 * catalog request goes out at once when its URL is known (remembered
 * descriptor, cache, or the config entry `providers add` wrote); the answer
 * is used only if the validated descriptor names that URL.
 */
async function refreshOne(
  entry: ProviderEntry,
  cache: CachedCatalog | undefined,
  fetcher: Fetcher,
  { memory, origin }: NetPath,
  opts: AggregateOptions,
  onSent: () => void,
  validators: Promise<Helpers>,
): Promise<Outcome> {
  const signal = AbortSignal.timeout(opts.deadlineMs);
  const started = opts.now();
  const sent = once(onSent);
  let descriptorId: string | undefined;
  let recalled = false;
  try {
    const remembered = opts.refresh ? undefined : memory.readRememberedDescriptor(opts.cacheRoot, entry.url, started);
    const guess = (remembered && memory.peekCatalogUrl(remembered, entry.url)) ?? cache?.header.catalog_url ?? entry.catalogUrl;
    const catalogFor = (url: string, onCatalogSent?: () => void) =>
      fetcher.get(url, { signal, maxBytes: MAX_CATALOG_BYTES, etag: cache && cache.header.catalog_url === url ? cache.header.etag : undefined, ...(onCatalogSent ? { onSent: onCatalogSent } : {}) });
    // Never early to another origin (the rule below, before the descriptor is even read: a cached URL is not trusted either).
    const early = guess && origin.originOf(guess) === origin.originOf(entry.url) ? catalogFor(guess, sent) : undefined;
    early?.catch(() => undefined);

    const fetchDescriptor = async () => {
      const doc = await fetcher.get(entry.url, { signal, maxBytes: memory.MAX_DESCRIPTOR_BYTES, onSent: sent });
      if (doc.status !== 200 || !doc.body) throw new Error('descriptor answered 304 to a request without a validator');
      return doc;
    };
    // Without a remembered descriptor, its request goes out now, beside the catalog's (a failure ends this at once).
    let descDoc: FetchedDocument | undefined;
    let h: Helpers;
    if (remembered) h = await validators;
    else [h, descDoc] = await Promise.all([validators, fetchDescriptor()]);
    const { parseCatalog, parseDescriptor, parseDescriptorValue, assertFetchableUrl, sanitizeLine } = h;
    let descriptor = remembered && memory.validRemembered(remembered, entry.url, parseDescriptorValue);
    if (descriptor) recalled = true;
    else {
      descDoc ??= await fetchDescriptor();
      descriptor = parseDescriptor(descDoc.body!);
    }
    descriptorId = descriptor.provider_id;
    assertFetchableUrl(new URL(descriptor.catalog_url));
    // One origin per provider (src/wire/origin.ts), for a remembered descriptor as for a fetched one.
    const off = origin.offOriginMember(entry.url, descriptor, entry.authorizationServers);
    if (off) throw new Error(origin.describeViolation(off));
    // Remembered only once it passed those checks: a refused descriptor is asked for again next time.
    if (descDoc) memory.rememberDescriptor(opts.cacheRoot, entry.url, descDoc.url, descriptor, descDoc.maxAge, opts.now());
    const sameAsCache = cache && cache.header.catalog_url === descriptor.catalog_url && cache.header.provider_id === descriptor.provider_id;
    const doc = await (early && guess === descriptor.catalog_url ? early : catalogFor(descriptor.catalog_url));
    const base = {
      url: entry.url,
      provider_id: descriptor.provider_id,
      provider_name: sanitizeLine(descriptor.name).slice(0, 200),
      catalog_url: descriptor.catalog_url,
      fetched_at: opts.now(),
      max_age: doc.maxAge,
    };
    if (doc.status === 304) {
      if (!sameAsCache || !cache) throw new Error('catalog answered 304 Not Modified without a cached copy');
      const { catalog: next, cacheable } = withHeader(cache, { ...base, ...(doc.etag ? { etag: doc.etag } : {}) });
      if (cacheable) writeCachedCatalog(opts.cacheRoot, next);
      return { entry, cache: next, status: 'revalidated', warnings: [] };
    }
    const parsed = parseCatalog(doc.body!, descriptor.provider_id);
    const { catalog: next, cacheable } = newCachedCatalog({ ...base, ...(doc.etag ? { etag: doc.etag } : {}), services: parsed.services, warnings: parsed.warnings });
    if (cacheable) writeCachedCatalog(opts.cacheRoot, next);
    return { entry, cache: next, status: 'fetched', warnings: [] };
  } catch (err) {
    // A catalog the remembered descriptor led to failed: it may have moved, so the next run asks for the descriptor again.
    if (recalled) memory.forgetDescriptor(opts.cacheRoot, entry.url);
    const { sanitizeLine } = await import('../util/sanitize.js');
    const reason = sanitizeLine((err as Error)?.message ?? String(err)).slice(0, 300);
    const name = descriptorId ?? cache?.header.provider_id ?? entry.id ?? '(unknown id)';
    if (cache) {
      return {
        entry,
        cache,
        status: 'stale',
        error: reason,
        warnings: [`provider ${name} (${entry.url}) is unreachable (${reason}); showing its catalog cached ${describeAge(started - cache.header.fetched_at)} ago`],
      };
    }
    return { entry, status: 'failed', error: reason, warnings: [`provider ${name} (${entry.url}) failed: ${reason}`] };
  }
}

/** `fn` at most once (a request that fails before it is sent never calls it: the timer above, which loads them anyway, covers that). */
function once(fn: () => void): () => void {
  let called = false;
  return () => {
    if (!called) {
      called = true;
      fn();
    }
  };
}

function assemble(outcomes: Outcome[], now: number): AggregateResult {
  const shown: CachedCatalog[] = [];
  const providers: ProviderReport[] = [];
  const warnings: string[] = [];
  const owners = new Map<string, string>();
  let anyAnswered = false;
  for (const o of outcomes) {
    warnings.push(...o.warnings);
    const c = o.cache?.header;
    if (!c || o.status === 'failed') {
      providers.push({ id: o.entry.id ?? null, name: null, url: o.entry.url, source: o.entry.source, ...(o.entry.protocol ? { protocol: o.entry.protocol } : {}), status: 'failed', services: 0, age_s: null, ...(o.error ? { error: o.error } : {}) });
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
    shown.push(o.cache!);
    providers.push({
      id: c.provider_id,
      name: c.provider_name,
      url: o.entry.url,
      source: o.entry.source,
      ...(o.entry.authorizationServers ? { authorization_servers: o.entry.authorizationServers } : {}),
      ...(o.entry.protocol ? { protocol: o.entry.protocol, ...(o.entry.clientId ? { client_id: o.entry.clientId } : {}) } : {}),
      status: o.status,
      services: c.count,
      age_s: Math.max(0, Math.round((now - c.fetched_at) / 1000)),
      ...(o.error ? { error: o.error } : {}),
    });
  }
  let services: CatalogService[] | undefined;
  return {
    get services() {
      return (services ??= shown.flatMap((c) => c.services));
    },
    providers,
    warnings,
    anyAnswered,
    servicesJson: () => `[${shown.filter((c) => c.header.count > 0).map((c) => c.servicesJson.slice(1, -1)).join(',')}]`,
    firstService: () => (services ?? shown.find((c) => c.header.count > 0)?.services)?.[0],
  };
}
