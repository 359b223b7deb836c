/**
 * Sending a request that carries the journal's Idempotency-Key again after a
 * transient failure (docs/protocol.md §8: 502/503 and network failures are
 * retried with the SAME key), shared by the provision step and the update
 * flow (src/provision/update.ts): the provider answers the first request's
 * outcome, never a second one.
 */
import type { Deps } from '../../core/deps.js';
import { isAgentprovError, type AgentprovError } from '../../core/errors.js';

/** Errors after which the same key may be sent again at once. */
export function transient(err: unknown): boolean {
  if (!isAgentprovError(err)) return false;
  if (err.code === 'PROVIDER_UNREACHABLE' || err.details.retryable === true) return true;
  if (err.code !== 'PROVIDER_ERROR') return false;
  const status = err.details.status;
  const code = err.details.provider_code ?? err.details.code;
  return (typeof status === 'number' && status >= 500) || code === 'SERVICE_UNAVAILABLE' || code === 'IDEMPOTENCY_IN_PROGRESS' || code === 'PAYMENT_RAIL_UNAVAILABLE';
}

const RETRY_DELAYS_MS = [300, 1000, 2500];

/** `send` (which presents the same Idempotency-Key every time), retried after transient failures. */
export async function withSameKey<T>(deps: Deps, what: string, send: () => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await send();
    } catch (err) {
      if (!transient(err) || tries >= RETRY_DELAYS_MS.length) throw err;
      deps.debug(`${what} attempt ${tries + 1} failed (${(err as AgentprovError).code}); retrying with the same Idempotency-Key`);
      await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[tries]));
    }
  }
}
