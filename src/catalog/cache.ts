/**
 * The on-disk catalog cache: one file per provider descriptor URL under
 * `<cache>/catalog/`, holding the already-validated, already-sanitized
 * services, the catalog's ETag and its freshness lifetime (Cache-Control
 * max-age). A file that does not parse is treated as absent: the cache is
 * an optimisation, never a source of truth.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CatalogService } from './validate.js';

/** One cached catalog: what the last successful fetch or revalidation left. */
export interface CacheEntry {
  v: 1;
  url: string;
  provider_id: string;
  provider_name: string;
  catalog_url: string;
  etag?: string;
  /** Epoch ms of the last successful fetch or revalidation. */
  fetched_at: number;
  /** Cache-Control max-age of that answer, seconds. */
  max_age: number;
  services: CatalogService[];
  warnings: string[];
}

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

/**
 * Narrow a parsed cache file field by field. Hand-written rather than zod so
 * a warm `catalog` does not pay for loading zod; what is checked is the shape
 * this module writes (the content was validated and sanitized before).
 */
export function narrowCacheEntry(raw: unknown): CacheEntry | undefined {
  if (!isObj(raw) || raw.v !== 1) return undefined;
  const { url, provider_id, provider_name, catalog_url, etag, fetched_at, max_age, services, warnings } = raw;
  if (!isStr(url, 4096) || !isStr(provider_id, 63) || !PROVIDER_ID.test(provider_id) || !isStr(provider_name, 200) || !isStr(catalog_url, 4096)) return undefined;
  if (etag !== undefined && !isStr(etag, 512)) return undefined;
  if (typeof fetched_at !== 'number' || !Number.isFinite(fetched_at) || typeof max_age !== 'number' || !(max_age >= 0 && max_age <= MAX_AGE_S)) return undefined;
  if (!isStrArray(warnings, 600, 1000) || !Array.isArray(services) || services.length > 500) return undefined;
  for (const s of services) {
    if (!isObj(s) || s.provider !== provider_id || !isStr(s.id, 100) || !isStr(s.name, 200) || !isStr(s.description, 2000)) return undefined;
    if (!isStrArray(s.categories, 10, 40) || !isStrArray(s.scopes, 20, 64) || typeof s.async !== 'boolean') return undefined;
    if (s.kind !== 'resource' && s.kind !== 'plan') return undefined;
    if (!isPricing(s.pricing) || !isObj(s.config_schema) || !isEnv(s.env)) return undefined;
  }
  return raw as unknown as CacheEntry;
}

export function cacheDir(cacheRoot: string): string {
  return join(cacheRoot, 'catalog');
}

function fileFor(cacheRoot: string, url: string): string {
  return join(cacheDir(cacheRoot), createHash('sha256').update(url).digest('hex').slice(0, 32) + '.json');
}

export function readCacheEntry(cacheRoot: string, url: string): CacheEntry | undefined {
  let text: string;
  try {
    text = readFileSync(fileFor(cacheRoot, url), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const entry = narrowCacheEntry(JSON.parse(text));
    return entry && entry.url === url ? entry : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Write `value` as JSON to `file` atomically (temporary file, then rename),
 * creating its directory. Never throws: what this writes is an optimisation,
 * so an unwritable cache must not fail the command that fetched the data.
 */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
  }
}

export function writeCacheEntry(cacheRoot: string, entry: CacheEntry): void {
  writeJsonAtomic(fileFor(cacheRoot, entry.url), entry);
}

export function removeCacheEntry(cacheRoot: string, url: string): void {
  try {
    unlinkSync(fileFor(cacheRoot, url));
  } catch {
    /* absent */
  }
}

export function isFresh(entry: CacheEntry, nowMs: number): boolean {
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
