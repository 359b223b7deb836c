/**
 * The agentprov provider protocol client (docs/protocol.md,
 * docs/protocol-auth.md) as a `Provider`. Commands get it through
 * src/provision/providers.ts, never directly.
 */
import type { Deps } from '../../core/deps.js';
import type { Provider } from '../provider.js';
import { ProtocolProvider } from './client.js';
import type { ProviderRef } from './ref.js';

export function openProtocolProvider(deps: Deps, entry: ProviderRef): Provider {
  return new ProtocolProvider(deps, entry);
}

export { ProtocolProvider };
export { forgetProtocolGrant } from './revoke.js';
