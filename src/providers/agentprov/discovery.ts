/**
 * Finding a provider's authorization server the way a client without a
 * token does (docs/protocol.md §3):
 *
 * 1. the provisioning endpoint answers `401` with
 *    `WWW-Authenticate: Bearer resource_metadata="…"` (RFC 9728 §5.1);
 * 2. that metadata URL must be on the provider's own origin (the origin of
 *    its registered descriptor URL), else PROVIDER_UNTRUSTED_METADATA;
 * 3. the metadata (RFC 9728 §3) names the resource (must be the
 *    descriptor's) and `authorization_servers[0]`, which must be on that
 *    origin too unless the orchestrator vouched for it (src/wire/
 *    origin.ts), else PROVIDER_UNTRUSTED_METADATA: a provider must never
 *    send its clients to someone else's authorization server (the mix-up);
 * 4. that issuer's RFC 8414 metadata, through openid-client.
 *
 * What is learnt (issuer, metadata URL, the client id chosen for the
 * provider) is not secret and is kept in `<cache>/providers/`
 * (discovery-cache.ts); a remembered issuer passes the same origin rule
 * again when it is read.
 */
import * as oidc from 'openid-client';
import { AgentprovError } from '../../core/errors.js';

import { HTTP_TIMEOUT_SECONDS, boundedFetch } from '../../auth/issuer.js';
import { type Fetcher } from '../../http/fetch.js';
import { issuerAllowed, originOf } from '../../wire/origin.js';
import { ProtectedResourceMetadataSchema } from '../../wire/provider.js';
import { isLoopbackHost } from '../../util/loopback.js';
import { MAX_JSON_DEPTH, tooDeepAt } from '../../util/json-depth.js';
import { metadataTtl } from './discovery-cache.js';
import { clean, invalidResponse, providerOAuthError, unreachable } from './errors.js';
import type { ProviderRef } from './ref.js';

const MAX_METADATA_BYTES = 64 * 1024;
export const DEADLINE_MS = 15_000;

/** RFC 9728 §3.1 well-known suffix, used when a 401 carries no `resource_metadata`. */
const WELL_KNOWN_RESOURCE = '/.well-known/oauth-protected-resource';

/** The `resource_metadata` parameter of a Bearer challenge (RFC 9728 §5.1), if any. */
export function resourceMetadataParam(wwwAuthenticate: string | string[] | undefined): string | undefined {
  const values = Array.isArray(wwwAuthenticate) ? wwwAuthenticate : wwwAuthenticate ? [wwwAuthenticate] : [];
  for (const v of values) {
    if (v.length > 8192 || !/^\s*bearer\b/i.test(v)) continue;
    const m = /(?:^|[\s,])resource_metadata\s*=\s*"([^"]{1,2048})"/i.exec(v);
    if (m) return m[1];
  }
  return undefined;
}

const sameResource = (a: string, b: string): boolean => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/** Steps 1-3: the issuer of the provider's authorization server and the metadata URL it came from. */
export async function discoverIssuer(p: ProviderRef, fetcher: Fetcher): Promise<{ issuer: string; resourceMetadata: string }> {
  const endpoint = new URL(p.descriptor.provisioning_endpoint);
  const home = originOf(p.descriptorUrl);
  const signal = AbortSignal.timeout(DEADLINE_MS);
  let res;
  try {
    res = await fetcher.request(endpoint.href, { method: 'GET', signal, maxBytes: MAX_METADATA_BYTES, followRedirects: false });
  } catch (err) {
    throw unreachable(p.id, 'discovery', err);
  }
  if (res.status !== 401) {
    throw invalidResponse(p.id, 'discovery', `its provisioning endpoint answered HTTP ${res.status} to a request without a token (expected 401 with a Bearer challenge)`);
  }
  const named = resourceMetadataParam(res.headers['www-authenticate']);
  const metadataUrl = URL.parse(named ?? p.descriptor.protected_resource_metadata ?? new URL(WELL_KNOWN_RESOURCE, p.descriptor.resource).href);
  if (!metadataUrl || metadataUrl.origin !== home || metadataUrl.username || metadataUrl.password) {
    throw untrusted(p, 'resource_metadata', metadataUrl?.origin ?? clean(String(named), 200), home);
  }

  let doc;
  try {
    doc = await fetcher.get(metadataUrl.href, { signal, maxBytes: MAX_METADATA_BYTES, followRedirects: false });
  } catch (err) {
    if ((err as { reason?: string }).reason === 'http_status' || (err as { reason?: string }).reason === 'too_large') {
      throw invalidResponse(p.id, 'discovery', `protected resource metadata: ${(err as Error).message}`);
    }
    throw unreachable(p.id, 'discovery', err);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(doc.body!.toString('utf8'));
  } catch {
    throw invalidResponse(p.id, 'discovery', 'its protected resource metadata is not JSON');
  }
  const deep = tooDeepAt(raw);
  if (deep !== undefined) throw invalidResponse(p.id, 'discovery', `protected resource metadata, field "${clean(deep, 80)}": nested deeper than ${MAX_JSON_DEPTH} levels`);
  const parsed = ProtectedResourceMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidResponse(p.id, 'discovery', `protected resource metadata, field "${issue?.path.join('.') || '(root)'}": ${issue?.message}`);
  }
  // RFC 9728 §3.3: the metadata must be about the resource it was fetched for.
  if (!sameResource(parsed.data.resource, p.descriptor.resource)) {
    throw invalidResponse(p.id, 'discovery', `its protected resource metadata describes ${parsed.data.resource}, not ${p.descriptor.resource}`);
  }
  const issuer = parsed.data.authorization_servers[0]!;
  if (!issuerAllowed(p.descriptorUrl, issuer, p.vouchedIssuers)) throw untrusted(p, 'authorization_servers[0]', originOf(issuer) ?? clean(issuer, 200), home);
  return { issuer, resourceMetadata: metadataUrl.href };
}

/** PROVIDER_UNTRUSTED_METADATA: `field` of the provider's metadata leaves its origin. */
function untrusted(p: ProviderRef, field: string, origin: string, expected: string | undefined): AgentprovError {
  return new AgentprovError(
    'PROVIDER_UNTRUSTED_METADATA',
    `provider ${p.id} names ${field} on ${origin}, off its own origin ${expected}; refusing it before any credential is asked for (a provider's URLs must share one origin)`,
    {
      details: { provider: p.id, field, origin, expected_origin: expected ?? null },
      nextSteps: ['report this to the provider; do not use it until it is fixed'],
    },
  );
}

/** openid-client options for a provider's AS: bounded, plain http on loopback only. */
function requestOptions(issuer: URL): oidc.DiscoveryRequestOptions {
  return {
    algorithm: 'oauth2',
    timeout: HTTP_TIMEOUT_SECONDS,
    [oidc.customFetch]: boundedFetch,
    ...(issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname) ? { execute: [oidc.allowInsecureRequests] } : {}),
  };
}

function issuerUrl(providerId: string, issuer: string): URL {
  const url = URL.parse(issuer);
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) || url.username || url.password) {
    throw invalidResponse(providerId, 'discovery', `its authorization server ${clean(issuer, 200)} is not an https URL (http only on loopback)`);
  }
  return url;
}

/**
 * Step 4: RFC 8414 metadata of the AS (issuer checked by openid-client),
 * with how many seconds it may be reused (ttl_s, from its Cache-Control).
 */
export async function discoverAuthorizationServer(providerId: string, issuer: string): Promise<{ server: oidc.ServerMetadata; ttl_s: number }> {
  const url = issuerUrl(providerId, issuer);
  let cacheControl: string | null = null;
  let age: string | null = null;
  const capture: oidc.CustomFetch = async (input, init) => {
    const res = await boundedFetch(input, init);
    cacheControl = res.headers.get('cache-control');
    age = res.headers.get('age');
    return res;
  };
  try {
    const config = await oidc.discovery(url, 'agentprov-discovery', undefined, oidc.None(), { ...requestOptions(url), [oidc.customFetch]: capture });
    return { server: config.serverMetadata(), ttl_s: metadataTtl(cacheControl, age) };
  } catch (err) {
    throw providerOAuthError(err, providerId, 'discovery');
  }
}

/** An openid-client Configuration for `clientId` at an already-discovered AS (no request). */
export function configFor(server: oidc.ServerMetadata, clientId: string): oidc.Configuration {
  const config = new oidc.Configuration(server, clientId, undefined, oidc.None());
  config.timeout = HTTP_TIMEOUT_SECONDS;
  config[oidc.customFetch] = boundedFetch;
  const url = new URL(server.issuer);
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) oidc.allowInsecureRequests(config);
  return config;
}

/** RFC 7591 registration of agentprov as a public native client (docs/protocol-auth.md §2). */
export async function registerClient(providerId: string, server: oidc.ServerMetadata, grantTypes: string[]): Promise<string> {
  const url = issuerUrl(providerId, server.issuer);
  try {
    const config = await oidc.dynamicClientRegistration(
      url,
      {
        client_name: 'agentprov',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        response_types: [],
        grant_types: grantTypes,
      },
      oidc.None(),
      requestOptions(url),
    );
    const clientId = config.clientMetadata().client_id;
    if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 255) {
      throw invalidResponse(providerId, 'registration', 'the registration response has no usable client_id');
    }
    return clientId;
  } catch (err) {
    throw providerOAuthError(err, providerId, 'registration');
  }
}

