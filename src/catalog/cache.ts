/**
 * The on-disk catalog cache: one file per provider descriptor URL under
 * `<cache>/catalog/`, holding the already-validated, already-sanitized
 * services, the catalog's ETag and its freshness lifetime (Cache-Control
 * max-age). A file that does not parse is treated as absent: the cache is
 * an optimisation, never a source of truth.
 *
 * File format (v2): one line of header JSON, a newline, then the services as
 * one JSON array, exactly as `catalog --json` prints them. The header
 * carries the array's length and a CRC-32 of header and array, so a warm
 * `catalog --json` can check the file is intact, as this module wrote it,
 * and copy the array to the output without parsing and re-serializing it
 * (issue 5's warm targets); every other reader parses it on first use
 * (`CachedCatalog.services`) and drops services that do not narrow.
 *
 * The checksum catches accidents (a truncated, partly rewritten or edited
 * file: it is then absent, and fetched again), not forgery: like the files
 * themselves (0600 in a 0700 directory), it only keeps honest mistakes out.
 * Someone who can write the user's cache can write it in any format.
 *
 * Hand-narrowed rather than zod, and named without node:crypto, so a warm
 * run loads neither: what is checked is the shape this module writes (the
 * content was validated and sanitized before it was written).
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { CatalogService } from './service.js';
import { writeTextAtomic } from '../util/atomic-file.js';

/** What the last successful fetch or revalidation of one provider left, without its services. */
export interface CacheHeader {
  v: 2;
  url: string;
  provider_id: string;
  provider_name: string;
  catalog_url: string;
  etag?: string;
  /** Epoch ms of the last successful fetch or revalidation. */
  fetched_at: number;
  /** Cache-Control max-age of that answer, seconds. */
  max_age: number;
  warnings: string[];
  /** How many services the array holds. */
  count: number;
}

/** One cached catalog, services included (what `readCacheEntry` gives other modules). */
export interface CacheEntry extends Omit<CacheHeader, 'v' | 'count'> {
  v: 2;
  services: CatalogService[];
}

/**
 * One cached catalog with its services both as JSON text (exactly what was
 * written) and, parsed on first use, as objects.
 */
export interface CachedCatalog {
  readonly header: CacheHeader;
  readonly servicesJson: string;
  readonly services: CatalogService[];
}

// node:zlib through require(), not an ESM import: no facade of the whole
// module to build at start-up, and loaded only once a checksum is needed.
const nodeRequire = createRequire(import.meta.url);
const crc32 = (data: string, value?: number): number => (nodeRequire('node:zlib') as typeof import('node:zlib')).crc32(data, value);

const MAX_SERVICES = 500;
const PROVIDER_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** http/fetch.ts's parseMaxAge never gives more than a week. */
const MAX_AGE_S = 7 * 24 * 3600;
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const isStrArray = (v: unknown, maxItems: number, maxLen: number): v is string[] =>
  Array.isArray(v) && v.length <= maxItems && v.every((x) => isStr(x, maxLen));
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const optional = (v: unknown, ok: (v: unknown) => boolean): boolean => v === undefined || ok(v);
/** The pricing fields the renderers read, with the bounds of protocol/provider.ts's PricingSchema. */
const isPricing = (p: unknown): boolean =>
  isObj(p) &&
  ['free', 'one_time', 'recurring', 'usage'].includes(p.type as string) &&
  optional(p.amount, (a) => typeof a === 'number' && Number.isFinite(a)) &&
  optional(p.currency, (c) => isStr(c, 3)) &&
  optional(p.interval, (i) => isStr(i, 16)) &&
  optional(p.unit, (u) => isStr(u, 64));
const isEnv = (e: unknown): boolean => isObj(e) && Object.keys(e).length <= 20 && Object.entries(e).every(([k, v]) => k.length <= 64 && isStr(v, 100));

/** A parsed header line, or undefined when it is not what this module writes. */
export function narrowCacheHeader(raw: unknown): CacheHeader | undefined {
  if (!isObj(raw) || raw.v !== 2) return undefined;
  const { url, provider_id, provider_name, catalog_url, etag, fetched_at, max_age, warnings, count } = raw;
  if (!isStr(url, 4096) || !isStr(provider_id, 63) || !PROVIDER_ID.test(provider_id) || !isStr(provider_name, 200) || !isStr(catalog_url, 4096)) return undefined;
  if (etag !== undefined && !isStr(etag, 512)) return undefined;
  if (typeof fetched_at !== 'number' || !Number.isFinite(fetched_at) || typeof max_age !== 'number' || !(max_age >= 0 && max_age <= MAX_AGE_S)) return undefined;
  if (!isStrArray(warnings, 600, 1000) || !Number.isInteger(count) || (count as number) < 0 || (count as number) > MAX_SERVICES) return undefined;
  return { v: 2, url, provider_id, provider_name, catalog_url, ...(etag !== undefined ? { etag } : {}), fetched_at, max_age, warnings, count: count as number };
}

/** Parsed services of `providerId`, or undefined when they are not what this module writes. */
export function narrowServices(raw: unknown, providerId: string): CatalogService[] | undefined {
  if (!Array.isArray(raw) || raw.length > MAX_SERVICES) return undefined;
  for (const s of raw) {
    if (!isObj(s) || s.provider !== providerId || !isStr(s.id, 100) || !isStr(s.name, 200) || !isStr(s.description, 2000)) return undefined;
    if (!isStrArray(s.categories, 10, 40) || !isStrArray(s.scopes, 20, 64) || typeof s.async !== 'boolean') return undefined;
    if (s.kind !== 'resource' && s.kind !== 'plan') return undefined;
    if (!isPricing(s.pricing) || !isObj(s.config_schema) || !isEnv(s.env)) return undefined;
    if (s.allowed_updates !== undefined && !isStrArray(s.allowed_updates, 50, 100)) return undefined;
  }
  return raw as CatalogService[];
}

/**
 * A catalog from a header and its services' JSON text (already checked to be
 * the text written under that header). The services are parsed on first
 * use; text that does not narrow gives no services (it cannot come from this
 * module, whose writes are checked below).
 */
function cachedCatalog(header: CacheHeader, servicesJson: string, parsed?: CatalogService[]): CachedCatalog {
  let services = parsed;
  return {
    header,
    servicesJson,
    get services(): CatalogService[] {
      if (!services) {
        let raw: unknown;
        try {
          raw = JSON.parse(servicesJson);
        } catch {
          raw = undefined;
        }
        services = narrowServices(raw, header.provider_id) ?? [];
      }
      return services;
    },
  };
}

export function cacheDir(cacheRoot: string): string {
  return join(cacheRoot, 'catalog');
}

function fileFor(cacheRoot: string, url: string): string {
  return join(cacheDir(cacheRoot), `${nameHash(url)}.v2.json`);
}

/** The cached catalog of `url`, its services not yet parsed; undefined when absent or not intact. */
export function readCachedCatalog(cacheRoot: string, url: string): CachedCatalog | undefined {
  let text: string;
  try {
    text = readFileSync(fileFor(cacheRoot, url), 'utf8');
  } catch {
    return undefined;
  }
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text.slice(0, nl));
  } catch {
    return undefined;
  }
  const header = narrowCacheHeader(raw);
  if (!header || header.url !== url || !isObj(raw)) return undefined;
  const servicesJson = text.slice(nl + 1);
  if (servicesJson.length !== raw.length || servicesJson[0] !== '[' || servicesJson[servicesJson.length - 1] !== ']') return undefined;
  if (checksum(header, servicesJson) !== raw.crc32) return undefined;
  return cachedCatalog(header, servicesJson);
}

/** The cached catalog of `url` with its services, or undefined (for readers that need them all). */
export function readCacheEntry(cacheRoot: string, url: string): CacheEntry | undefined {
  const c = readCachedCatalog(cacheRoot, url);
  if (!c) return undefined;
  const services = c.services;
  if (services.length !== c.header.count) return undefined;
  const { count: _count, ...header } = c.header;
  return { ...header, services };
}

/**
 * A catalog from freshly validated services, serialized once here for the
 * file and for `catalog --json` alike. `cacheable` is false when it would
 * not pass this module's own read (outside the cache's bounds): it is then
 * shown but not written, and fetched again next time, as before.
 */
export function newCachedCatalog(entry: Omit<CacheEntry, 'v'>): { catalog: CachedCatalog; cacheable: boolean } {
  const { services, ...rest } = entry;
  const narrowed = narrowCacheHeader({ ...rest, v: 2, count: services.length });
  const header: CacheHeader = narrowed ?? { ...rest, v: 2, count: services.length };
  return { catalog: cachedCatalog(header, JSON.stringify(services), services), cacheable: narrowed !== undefined && narrowServices(services, entry.provider_id) !== undefined };
}

/** The same catalog with a new header (a revalidation: 304 Not Modified); `cacheable` as for newCachedCatalog. */
export function withHeader(c: CachedCatalog, changes: Partial<Omit<CacheHeader, 'v' | 'count'>>): { catalog: CachedCatalog; cacheable: boolean } {
  const merged: CacheHeader = { ...c.header, ...changes, v: 2, count: c.header.count };
  const next = narrowCacheHeader(merged);
  return { catalog: cachedCatalog(next ?? merged, c.servicesJson), cacheable: next !== undefined };
}

/** CRC-32 of the header (as narrowCacheHeader orders it) and the services text: any change to either shows. */
function checksum(header: CacheHeader, servicesJson: string): number {
  return crc32(servicesJson, crc32(JSON.stringify(header)));
}

function fileText(c: CachedCatalog): string {
  return `${JSON.stringify({ ...c.header, length: c.servicesJson.length, crc32: checksum(c.header, c.servicesJson) })}\n${c.servicesJson}`;
}

/**
 * Write one catalog (atomically, never throws: an unwritable cache must not
 * fail the command that fetched it). Synchronous on purpose: a few small
 * files, where fs/promises would add a file handle, a thread-pool hop and
 * promises per call to the tail of a cold catalog of many providers.
 */
export function writeCachedCatalog(cacheRoot: string, c: CachedCatalog): void {
  writeTextAtomic(fileFor(cacheRoot, c.header.url), fileText(c));
}

export function removeCacheEntry(cacheRoot: string, url: string): void {
  try {
    unlinkSync(fileFor(cacheRoot, url));
  } catch {
    /* absent */
  }
}

export function isFresh(entry: Pick<CacheHeader, 'fetched_at' | 'max_age'>, nowMs: number): boolean {
  return nowMs - entry.fetched_at < entry.max_age * 1000 && nowMs >= entry.fetched_at - 60_000;
}

/** "3 minutes", "2 hours", "5 days". */
export function describeAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} minutes`;
  const h = Math.round(m / 60);
  if (h < 36) return `${h} hours`;
  return `${Math.round(h / 24)} days`;
}

// Small files beside the catalog cache (the registry index, token's target
// index) are named and written the same way.

function fnv1a(key: string, from: number, step: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i >= 0 && i < key.length; i += step) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * 16 hex digits naming a file for `key` (a URL, a path): FNV-1a forwards and
 * backwards, 64 bits in all. Not a security boundary (every such file names
 * its key and is checked on read): a collision costs a cache miss.
 */
export function nameHash(key: string): string {
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  return `${hex(fnv1a(key, 0, 1))}${hex(fnv1a(key, key.length - 1, -1))}`;
}

