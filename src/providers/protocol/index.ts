/**
 * The agentprov provider protocol client (docs/protocol.md,
 * docs/protocol-auth.md) as a `Provider`. Commands get it through
 * src/provision/providers.ts, never directly.
 */
import type { Deps } from '../../cli/deps.js';
import type { ProviderDescriptor } from '../../protocol/provider.js';
import type { Provider } from '../provider.js';
import { ProtocolProvider } from './client.js';

export function openProtocolProvider(deps: Deps, entry: { id: string; descriptorUrl: string; descriptor: ProviderDescriptor }): Provider {
  return new ProtocolProvider(deps, entry);
}

export { ProtocolProvider };
