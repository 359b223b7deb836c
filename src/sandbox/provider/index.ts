/**
 * `startProvider`: a sandbox provider (resource + provisioning server) with
 * its real authorization server from ./auth/ mounted under `/oauth`.
 */
import { createProviderAuth, type ProviderAuth } from './auth/index.js';
import { startProviderServer, type RunningProvider } from './server.js';
import type { ProviderOptions } from './types.js';

export { builtinCatalog, localcloudCatalog, othercloudCatalog } from './catalogs.js';
export { DEFAULT_TERMS_VERSION, PREREGISTERED_CLIENT_ID, type RunningProvider } from './server.js';
export type { FaultSwitches, ProviderOptions, ProviderResourceView, ServiceDefinition } from './types.js';

export type StartedProvider = RunningProvider<ProviderAuth>;

export function startProvider(options: ProviderOptions): Promise<StartedProvider> {
  return startProviderServer(options, createProviderAuth);
}
