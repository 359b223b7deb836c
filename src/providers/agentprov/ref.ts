/**
 * A provider speaking the agentprov protocol, as the registry and its
 * descriptor name it, and how agentprov identifies itself at its
 * authorization server.
 */
import type { ProviderDescriptor } from '../../wire/provider.js';

export interface ProviderRef {
  id: string;
  descriptorUrl: string;
  descriptor: ProviderDescriptor;
  /** Authorization servers off the descriptor's origin that the orchestrator vouched for. */
  vouchedIssuers?: readonly string[];
}

/** How agentprov identifies itself at this provider's AS (docs/protocol.md §5.2). */
export type ClientSource = 'registered' | 'descriptor';
