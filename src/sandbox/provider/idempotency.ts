/**
 * Idempotency-Key handling (after draft-ietf-httpapi-idempotency-key-header):
 * a key is scoped to an account and bound to a fingerprint of the request
 * (service, name, config; NOT the payment token, so a retry with a fresh
 * token for the same operation is the same operation). A concurrent
 * duplicate waits for the first request, then sees its stored result.
 */
import { createHash } from 'node:crypto';
import { ApiError } from './http.js';

/** Longest a duplicate waits for the first request before answering 409. */
const WAIT_FOR_FIRST_MS = 15_000;

export function fingerprint(parts: { service: string; name: string; config: Record<string, unknown> }): string {
  return createHash('sha256').update(canonical(parts)).digest('base64url');
}

/** JSON with object keys sorted, so equal values give equal fingerprints. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function keyReused(): ApiError {
  return new ApiError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request', {
    field: 'Idempotency-Key',
  });
}

/** Requests being processed right now, per (account, key). */
export class InflightRequests {
  readonly #running = new Map<string, { fingerprint: string; done: Promise<unknown> }>();

  /**
   * Run `fn` unless the same (account, key) is running: then a different
   * fingerprint is refused (422) and an equal one waits for the first to
   * settle and tries again (finding the stored result).
   */
  async run<T>(accountId: string, key: string, fp: string, fn: () => Promise<T>): Promise<T> {
    const id = `${accountId}\n${key}`;
    for (;;) {
      const current = this.#running.get(id);
      if (!current) break;
      if (current.fingerprint !== fp) throw keyReused();
      const settled = await Promise.race([
        current.done.then(() => true, () => true),
        new Promise<false>((r) => setTimeout(() => r(false), WAIT_FOR_FIRST_MS).unref()),
      ]);
      if (!settled) {
        throw new ApiError(409, 'IDEMPOTENCY_IN_PROGRESS', 'a request with this Idempotency-Key is still being processed', {
          field: 'Idempotency-Key',
          headers: { 'Retry-After': '1' },
        });
      }
    }
    const done = fn();
    this.#running.set(id, { fingerprint: fp, done });
    try {
      return await done;
    } finally {
      this.#running.delete(id);
    }
  }
}
