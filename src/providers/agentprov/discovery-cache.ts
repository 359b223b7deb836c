/**
 * What agentprov remembers of a provider's authorization server, in
 * `<cache>/providers/`: the issuer found through RFC 9728, the client id
 * chosen there, and the RFC 8414 metadata for as long as its answer allows.
 * Not secret, and not trusted: every read passes the origin rule again and
 * remembered metadata is used only for requests made with a stored grant
 * (cachedServer says when).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type * as oidc from 'openid-client';
import * as z from 'zod';
import { freshFor } from '../../http/fetch.js';
import { writeJsonAtomic } from '../../util/atomic-file.js';
import { isLoopbackHost } from '../../util/loopback.js';
import { issuerAllowed } from '../../wire/origin.js';
import type { ProviderRef } from './ref.js';

const MAX_METADATA_BYTES = 64 * 1024;

const endpoint = z.string().max(2048).optional();
/**
 * RFC 8414 metadata as remembered in the cache: the whole document (it came
 * through openid-client's checks), its endpoints typed, at most 64 KiB.
 */
const ServerMetadataSchema = z
  .looseObject({
    issuer: z.string().max(2048),
    token_endpoint: endpoint,
    revocation_endpoint: endpoint,
    registration_endpoint: endpoint,
    device_authorization_endpoint: endpoint,
    authorization_endpoint: endpoint,
  })
  .refine((m) => JSON.stringify(m).length <= MAX_METADATA_BYTES, { message: 'metadata larger than 64 KiB' });

const CachedDiscovery = z.object({
  v: z.literal(1),
  provider_id: z.string().max(63),
  descriptor_url: z.string().max(4096),
  resource: z.string().max(2048),
  resource_metadata: z.string().max(2048),
  issuer: z.string().max(2048),
  client_id: z.string().min(1).max(255).optional(),
  client_source: z.enum(['registered', 'descriptor']).optional(),
  updated_at: z.number(),
  /** The AS's RFC 8414 metadata and until when (epoch s) it may be used without asking again. */
  server: ServerMetadataSchema.optional(),
  server_expires_at: z.number().optional(),
});
export type CachedDiscovery = z.infer<typeof CachedDiscovery>;

function cacheFile(cacheRoot: string, descriptorUrl: string): string {
  return join(cacheRoot, 'providers', createHash('sha256').update(descriptorUrl).digest('hex').slice(0, 32) + '.json');
}

export function readDiscoveryCache(cacheRoot: string, p: ProviderRef): CachedDiscovery | undefined {
  try {
    const file = cacheFile(cacheRoot, p.descriptorUrl);
    if (statSync(file).size > 2 * MAX_METADATA_BYTES) return undefined;
    const parsed = CachedDiscovery.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) return undefined;
    const c = parsed.data;
    // A descriptor that moved its resource invalidates what was learnt from it; the cache is not trusted with the origin rule.
    const same = c.provider_id === p.id && c.descriptor_url === p.descriptorUrl && c.resource === p.descriptor.resource;
    return same && issuerAllowed(p.descriptorUrl, c.issuer, p.vouchedIssuers) ? c : undefined;
  } catch {
    return undefined;
  }
}

export function writeDiscoveryCache(cacheRoot: string, c: CachedDiscovery): void {
  writeJsonAtomic(cacheFile(cacheRoot, c.descriptor_url), c);
}

/** How long AS metadata is used without asking again when its answer says nothing (Cache-Control absent). */
export const DEFAULT_SERVER_METADATA_TTL_S = 600;
const MAX_SERVER_METADATA_TTL_S = 24 * 3600;

/** Seconds the answer may be reused for: its max-age less its Age (none for no-store/no-cache), else the default. */
export function metadataTtl(cacheControl: string | null, age: string | null = null): number {
  if (!cacheControl || !/max-age|no-store|no-cache/i.test(cacheControl)) return DEFAULT_SERVER_METADATA_TTL_S;
  return Math.min(freshFor(cacheControl, age), MAX_SERVER_METADATA_TTL_S);
}

const SERVER_ENDPOINTS = ['token_endpoint', 'revocation_endpoint', 'registration_endpoint', 'device_authorization_endpoint', 'authorization_endpoint'] as const;

/**
 * The remembered AS metadata, for requests made with a stored grant only.
 * The cache is not a trust boundary (CI systems save and restore cache
 * directories), so it is used only while fresh (never beyond
 * MAX_SERVER_METADATA_TTL_S ahead), when it describes the very issuer the
 * grant in the vault (authenticated, encrypted) came from, and when every
 * endpoint is on that issuer's origin: a forged file can at worst send the
 * request to the real authorization server. Anything else is undefined, and
 * the metadata is discovered from the issuer again.
 */
export function cachedServer(cached: CachedDiscovery | undefined, nowS: number, grantIssuer: string): oidc.ServerMetadata | undefined {
  const server = cached?.server;
  const expires = cached?.server_expires_at ?? 0;
  if (!server || server.issuer !== grantIssuer || cached.issuer !== grantIssuer) return undefined;
  if (!(nowS < expires) || expires - nowS > MAX_SERVER_METADATA_TTL_S) return undefined;
  const origin = URL.parse(grantIssuer);
  if (!origin || !(origin.protocol === 'https:' || (origin.protocol === 'http:' && isLoopbackHost(origin.hostname)))) return undefined;
  for (const key of SERVER_ENDPOINTS) {
    const url = server[key];
    if (url !== undefined && URL.parse(url)?.origin !== origin.origin) return undefined;
  }
  return server as oidc.ServerMetadata;
}

/** The cache entry without remembered AS metadata (the next use asks the AS again). */
export function withoutServer(c: CachedDiscovery): CachedDiscovery {
  const { server: _server, server_expires_at: _expires, ...rest } = c;
  return rest;
}

/** What to remember of `server` (the members of ServerMetadataSchema), given its ttl. */
export function rememberServer(server: oidc.ServerMetadata, ttlS: number, nowS: number): Pick<CachedDiscovery, 'server' | 'server_expires_at'> {
  if (ttlS <= 0) return {};
  const parsed = ServerMetadataSchema.safeParse(server);
  return parsed.success ? { server: parsed.data, server_expires_at: nowS + ttlS } : {};
}
