/**
 * Provider descriptors remembered for their `Cache-Control` max-age (at most
 * a day), as HTTP caching allows: a catalog whose own, usually shorter,
 * max-age has run out is then fetched without asking for the descriptor
 * again, and `token`/`run` open a provider without a request.
 *
 * The cache is not a trust boundary (CI systems save and restore cache
 * directories; anyone may edit a file there), and a descriptor says where
 * access tokens go. So a remembered descriptor is used only when it, where
 * it was fetched from, and every URL it names are on the origin of the
 * registered descriptor URL (which comes from the config, not the cache),
 * and only after zod has validated it again. A forged file can at worst send
 * a request to the provider's own origin. Anything else is fetched anew.
 */
import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isFresh, nameHash } from './cache.js';
import { writeJsonAtomic } from '../util/atomic-file.js';
import { offOriginMember, originOf, type REQUEST_MEMBERS } from '../wire/origin.js';

export const MAX_DESCRIPTOR_BYTES = 64 * 1024;
const MAX_AGE_S = 24 * 3600;

type UrlMembers = Partial<Record<(typeof REQUEST_MEMBERS)[number], string>>;

export interface RememberedDescriptor {
  /** The descriptor as JSON gave it back: not validated yet. */
  value: Record<string, unknown>;
  /** Where it was finally fetched from (after redirects); on the registered URL's origin. */
  finalUrl: string;
}

function fileFor(cacheRoot: string, url: string): string {
  return join(cacheRoot, 'descriptors', `${nameHash(url)}.json`);
}

/** The fresh remembered descriptor of `url`; undefined when absent, stale, oversized, off `url`'s origin or not what rememberDescriptor writes. */
export function readRememberedDescriptor(cacheRoot: string, url: string, nowMs: number): RememberedDescriptor | undefined {
  try {
    const file = fileFor(cacheRoot, url);
    if (statSync(file).size > 2 * MAX_DESCRIPTOR_BYTES) return undefined;
    const entry = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
    if (!entry || typeof entry !== 'object') return undefined;
    const { v, final_url, fetched_at, max_age, descriptor } = entry;
    if (v !== 1 || entry.url !== url || typeof fetched_at !== 'number' || typeof max_age !== 'number' || max_age > MAX_AGE_S) return undefined;
    if (!isFresh({ fetched_at, max_age }, nowMs) || !descriptor || typeof descriptor !== 'object' || Array.isArray(descriptor)) return undefined;
    if (originOf(final_url) !== originOf(url)) return undefined;
    return { value: descriptor as Record<string, unknown>, finalUrl: final_url as string };
  } catch {
    return undefined; // absent or unreadable: fetched again
  }
}

/** The catalog URL a remembered descriptor names, before it is validated: only to send that request early, and only on its own origin. */
export function peekCatalogUrl(r: RememberedDescriptor, url: string): string | undefined {
  const catalog = r.value.catalog_url;
  return typeof catalog === 'string' && originOf(catalog) === originOf(url) ? catalog : undefined;
}

/** The remembered descriptor validated by `parse` (zod), or undefined when it fails or names a URL off `url`'s origin. */
export function validRemembered<D extends UrlMembers>(r: RememberedDescriptor, url: string, parse: (value: unknown) => D): D | undefined {
  let descriptor: D;
  try {
    descriptor = parse(r.value);
  } catch {
    return undefined;
  }
  return onOrigin(descriptor, url) ? descriptor : undefined;
}

/** Whether every URL `descriptor` sends requests to is on `url`'s origin (src/wire/origin.ts; nothing vouched for is remembered). */
function onOrigin(descriptor: UrlMembers | Record<string, unknown>, url: string): boolean {
  return offOriginMember(url, descriptor) === undefined;
}

/** readRememberedDescriptor, then validRemembered. */
export function recallDescriptor<D extends UrlMembers>(cacheRoot: string, url: string, nowMs: number, parse: (value: unknown) => D): D | undefined {
  const r = readRememberedDescriptor(cacheRoot, url, nowMs);
  return r && validRemembered(r, url, parse);
}

/**
 * Remember a descriptor just fetched, validated and accepted. An answer
 * without a max-age (absent, no-store, no-cache), or one the reading side
 * would refuse, forgets the earlier copy instead, so what was just fetched
 * is what the next command sees. Never throws.
 */
export function rememberDescriptor(cacheRoot: string, url: string, finalUrl: string, descriptor: Record<string, unknown>, maxAgeS: number, nowMs: number): void {
  // Nothing the reading side would refuse is written: no max-age, fetched from or naming another origin.
  if (maxAgeS <= 0 || originOf(finalUrl) !== originOf(url) || !onOrigin(descriptor, url)) return forgetDescriptor(cacheRoot, url);
  writeJsonAtomic(fileFor(cacheRoot, url), { v: 1, url, final_url: finalUrl, fetched_at: nowMs, max_age: Math.min(maxAgeS, MAX_AGE_S), descriptor });
}

/** Drop the remembered descriptor of `url` (a provider removed, a catalog it led to failing). Never throws. */
export function forgetDescriptor(cacheRoot: string, url: string): void {
  try {
    unlinkSync(fileFor(cacheRoot, url));
  } catch {
    /* absent */
  }
}
