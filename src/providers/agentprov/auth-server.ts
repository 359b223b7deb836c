/**
 * The provider's authorization server as the protocol client knows it:
 * discovered once per process (RFC 9728 → RFC 8414, discovery.ts) and
 * remembered in the cache, forgotten when a request to it fails without an
 * OAuth answer, and agentprov's client identity there (RFC 7591 registration
 * or the client id the descriptor publishes, docs/protocol.md §5.2).
 */
import type * as oidc from 'openid-client';
import { AgentprovError } from '../../core/errors.js';
import { GRANT_DEVICE_CODE, GRANT_TOKEN_EXCHANGE } from '../../wire/provider-auth.js';
import { withFetcher, type AuthServer, type ClientBase, type ClientIdentity } from './context.js';
import { cachedServer, readDiscoveryCache, rememberServer, withoutServer, writeDiscoveryCache } from './discovery-cache.js';
import { discoverAuthorizationServer, discoverIssuer, registerClient } from './discovery.js';
import { tokenErrorBody } from './errors.js';

/** The error codes an AS's token and revocation endpoints answer with (RFC 6749 §5.2, RFC 8693 §2.2.2, RFC 7009 §2.2.1). */
const OAUTH_ERROR_CODES = new Set(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'invalid_target', 'unsupported_token_type']);

/** Grant types agentprov registers for (RFC 7591); an ID-JAG names the orchestrator's client, never this one. */
const REGISTERED_GRANT_TYPES = [GRANT_DEVICE_CODE, 'refresh_token', GRANT_TOKEN_EXCHANGE];

export class ProviderAuthServer implements AuthServer {
  readonly #c: ClientBase;
  #as: Promise<oidc.ServerMetadata> | undefined;

  constructor(c: ClientBase) {
    this.#c = c;
  }

  /**
   * The provider's AS (RFC 9728 → RFC 8414), learnt once per process and
   * remembered in the cache: the issuer until it fails, its metadata for as
   * long as its answer allows (DEFAULT_SERVER_METADATA_TTL_S without
   * Cache-Control). Requests made with a stored grant pass its issuer and
   * may use the remembered metadata (cachedServer says when), so a warm
   * `token` or `run` sends only its own requests; the others always ask.
   */
  metadata(grantIssuer?: string): Promise<oidc.ServerMetadata> {
    const { id, deps, ref } = this.#c;
    this.#as ??= (async () => {
      const cacheRoot = deps.paths.cache;
      const nowS = this.#c.now();
      const cached = readDiscoveryCache(cacheRoot, ref);
      const remembered = grantIssuer === undefined ? undefined : cachedServer(cached, nowS, grantIssuer);
      if (remembered) return remembered;
      if (cached) {
        try {
          const { server, ttl_s } = await discoverAuthorizationServer(id, cached.issuer);
          writeDiscoveryCache(cacheRoot, { ...withoutServer(cached), ...rememberServer(server, ttl_s, nowS) });
          return server;
        } catch (err) {
          deps.debug(`cached authorization server of ${id} failed (${(err as Error).message}); discovering again`);
        }
      }
      const found = await withFetcher((f) => discoverIssuer(ref, f));
      const { server, ttl_s } = await discoverAuthorizationServer(id, found.issuer);
      const keep = cached && cached.issuer === server.issuer ? cached : undefined;
      writeDiscoveryCache(cacheRoot, {
        v: 1,
        provider_id: id,
        descriptor_url: ref.descriptorUrl,
        resource: ref.descriptor.resource,
        resource_metadata: found.resourceMetadata,
        issuer: server.issuer,
        ...(keep?.client_id ? { client_id: keep.client_id, client_source: keep.client_source } : {}),
        updated_at: nowS,
        ...rememberServer(server, ttl_s, nowS),
      });
      return server;
    })();
    this.#as.catch(() => (this.#as = undefined));
    return this.#as;
  }

  /**
   * A request to the AS failed without one of the OAuth error answers its
   * endpoints define (unreachable, 404, a web server's own error JSON): the
   * remembered metadata may be out of date, so the next attempt, in this
   * process or the next, asks the AS again instead of reusing it.
   */
  forgetUnlessOAuth(err: unknown): void {
    if (err instanceof AgentprovError || OAUTH_ERROR_CODES.has(tokenErrorBody(err)?.error ?? '')) return;
    this.#as = undefined; // a retry in this process (revokeWithRetry) asks the AS again too
    const cached = readDiscoveryCache(this.#c.deps.paths.cache, this.#c.ref);
    if (cached?.server) writeDiscoveryCache(this.#c.deps.paths.cache, withoutServer(cached));
  }

  /**
   * docs/protocol.md §5.2: register with RFC 7591 when the AS offers it (once;
   * the client id is kept), else the client id the descriptor publishes.
   */
  async clientIdentity(server: oidc.ServerMetadata): Promise<ClientIdentity> {
    const { id, deps, ref } = this.#c;
    const cacheRoot = deps.paths.cache;
    const cached = readDiscoveryCache(cacheRoot, ref);
    if (cached?.client_id && cached.client_source && cached.issuer === server.issuer) return { clientId: cached.client_id, source: cached.client_source };
    let chosen: ClientIdentity;
    if (server.registration_endpoint) {
      chosen = { clientId: await registerClient(id, server, REGISTERED_GRANT_TYPES), source: 'registered' };
    } else if (ref.descriptor.client_id) {
      chosen = { clientId: ref.descriptor.client_id, source: 'descriptor' };
    } else {
      throw new AgentprovError('PROVIDER_ERROR', `provider ${id} offers no client registration (RFC 7591) and publishes no client_id for agentprov`, {
        details: { provider: id, issuer: server.issuer },
      });
    }
    deps.debug(`client identity at ${id}: ${chosen.source}`);
    if (cached) writeDiscoveryCache(cacheRoot, { ...cached, client_id: chosen.clientId, client_source: chosen.source });
    return chosen;
  }
}
