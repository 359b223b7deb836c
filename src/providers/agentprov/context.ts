/**
 * What the parts of the agentprov protocol client share: client.ts builds one
 * context per provider and hands it to the modules beside it that do the
 * work; none of them keeps state of its own beyond what the context holds.
 */
import type * as oidc from 'openid-client';
import type { Deps } from '../../core/deps.js';
import { createFetcher, type Fetcher } from '../../http/fetch.js';
import { DEADLINE_MS } from './discovery.js';
import type { ClientSource, ProviderRef } from './ref.js';

/** Who agentprov is at the provider's AS (docs/protocol.md §5.2). */
export interface ClientIdentity {
  clientId: string;
  source: ClientSource;
}

/** The provider's authorization server as this client knows it (auth-server.ts). */
export interface AuthServer {
  /** Its metadata, learnt once per process; `grantIssuer`: a request made with a stored grant, which may use the cache. */
  metadata(grantIssuer?: string): Promise<oidc.ServerMetadata>;
  /** A request to it failed without an OAuth error answer: ask it again next time. */
  forgetUnlessOAuth(err: unknown): void;
  /** The client id to use there, registering once if it offers registration. */
  clientIdentity(server: oidc.ServerMetadata): Promise<ClientIdentity>;
}

/** The provider, the deps, the clock and the lock: all but the authorization server. */
export interface ClientBase {
  readonly id: string;
  readonly deps: Deps;
  readonly ref: ProviderRef;
  /** Epoch seconds by the deps' clock. */
  now(): number;
  /** `fn` under the per-provider lock. */
  locked<T>(fn: () => Promise<T>): Promise<T>;
}

export interface ClientContext extends ClientBase {
  readonly authServer: AuthServer;
}

/** One bounded fetcher for `fn`, closed after it. */
export async function withFetcher<T>(fn: (f: Fetcher) => Promise<T>): Promise<T> {
  const fetcher = createFetcher({ headersTimeoutMs: DEADLINE_MS, bodyTimeoutMs: DEADLINE_MS });
  try {
    return await fn(fetcher);
  } finally {
    await fetcher.close().catch(() => undefined);
  }
}
