/**
 * The APP 0.1d client (docs/protocol.md §APP) as a `Provider`. Commands get
 * it through src/provision/providers.ts, which picks it by the registry
 * entry's `protocol`. The CIMD and code relay are the orchestrator's unless
 * the user gave `--client-id`.
 */
import type { Deps } from '../../core/deps.js';
import type { Provider } from '../provider.js';
import type { AppClient } from './context.js';
import { AppProvider, type AppProviderRef } from './provider.js';

export function openAppProvider(deps: Deps, ref: AppProviderRef, orchestratorClient: () => Promise<AppClient | undefined>): Provider {
  return new AppProvider(deps, ref, orchestratorClient);
}
export { forgetAppGrant } from './revoke.js';
