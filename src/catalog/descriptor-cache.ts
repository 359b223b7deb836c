/**
 * Provider descriptors remembered for their `Cache-Control` max-age (at most
 * a day), as HTTP caching allows: a catalog whose own, usually shorter,
 * max-age has run out is then fetched without asking for the descriptor
 * again, and `token`/`run` open a provider without a request. What is read
 * here is unvalidated: every user parses it again (zod) before trusting it.
 * Not secret; in the user's own cache directory.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isFresh, nameHash, writeJsonAtomic } from './cache.js';

export const MAX_DESCRIPTOR_BYTES = 64 * 1024;
const MAX_AGE_S = 24 * 3600;

export interface RememberedDescriptor {
  /** The descriptor as JSON bytes, as parseDescriptor takes it. */
  body: Buffer;
  /** Where it was finally fetched from (after redirects): the loopback rule is judged from it. */
  finalUrl: string;
}

function fileFor(cacheRoot: string, url: string): string {
  return join(cacheRoot, 'descriptors', `${nameHash(url)}.json`);
}

/** The fresh remembered descriptor of `url`; undefined when absent, stale, oversized or not what rememberDescriptor writes. */
export function readRememberedDescriptor(cacheRoot: string, url: string, nowMs: number): RememberedDescriptor | undefined {
  try {
    const file = fileFor(cacheRoot, url);
    if (statSync(file).size > 2 * MAX_DESCRIPTOR_BYTES) return undefined;
    const entry = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
    if (!entry || typeof entry !== 'object') return undefined;
    const { v, final_url, fetched_at, max_age, descriptor } = entry;
    if (v !== 1 || entry.url !== url || typeof final_url !== 'string' || typeof fetched_at !== 'number' || typeof max_age !== 'number') return undefined;
    if (max_age > MAX_AGE_S || !isFresh({ fetched_at, max_age }, nowMs) || typeof descriptor !== 'object' || descriptor === null) return undefined;
    return { body: Buffer.from(JSON.stringify(descriptor)), finalUrl: final_url };
  } catch {
    return undefined; // absent or unreadable: fetched again
  }
}

/** Remember a descriptor just fetched and validated. No max-age (absent, no-store, no-cache) remembers nothing; never throws. */
export function rememberDescriptor(cacheRoot: string, url: string, finalUrl: string, descriptor: unknown, maxAgeS: number, nowMs: number): void {
  if (maxAgeS <= 0) return;
  writeJsonAtomic(fileFor(cacheRoot, url), { v: 1, url, final_url: finalUrl, fetched_at: nowMs, max_age: Math.min(maxAgeS, MAX_AGE_S), descriptor });
}

/** The catalog URL a remembered descriptor names, read without validating it (only to send that request early). */
export function peekCatalogUrl(r: RememberedDescriptor): string | undefined {
  try {
    const url = (JSON.parse(r.body.toString('utf8')) as { catalog_url?: unknown }).catalog_url;
    return typeof url === 'string' && url.length <= 2048 ? url : undefined;
  } catch {
    return undefined;
  }
}
