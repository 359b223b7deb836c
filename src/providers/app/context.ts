/**
 * What the parts of the APP client share: the provider id and base URL, the
 * deps, the clock, the per-provider lock, one bounded fetcher per call, and
 * where agentprov's Client ID Metadata Document is (the `--client-id` given to
 * `providers add`, else the orchestrator's `app_client_id`).
 */
import type { Deps } from '../../core/deps.js';
import type { Fetcher } from '../../http/fetch.js';

export interface AppClient {
  clientId: string;
  /** The orchestrator's code relay, when the CIMD is the orchestrator's. */
  relay?: string;
}

export interface AppContext {
  readonly id: string;
  /** The APP base URL, ending in `/`. */
  readonly base: string;
  readonly deps: Deps;
  now(): number;
  locked<T>(fn: () => Promise<T>): Promise<T>;
  fetch<T>(fn: (f: Fetcher) => Promise<T>): Promise<T>;
  clientId(): Promise<AppClient>;
}
