/**
 * Getting and giving back the short-lived credentials `token` and `run`
 * hand out (docs/protocol-auth.md §6). A provider with a native child credential
 * (the optional `childCredential` hook, e.g. Cloudflare API tokens with
 * `expires_on`) is asked for one; otherwise `mint` (RFC 8693 for the
 * protocol client). A static key (`shortLived: false`) is injected but never
 * revoked, and said so.
 */
import type { Provider, ShortLivedCredential } from '../providers/provider.js';
import { retrying } from '../util/retry.js';

export const REVOKE_ATTEMPTS = 3;
const RETRY_DELAYS_MS = [200, 800];

export async function childCredential(provider: Provider, ttlSeconds: number, scopes: string[] | undefined): Promise<ShortLivedCredential> {
  const opts = { ttlSeconds, ...(scopes?.length ? { scopes } : {}) };
  return provider.childCredential ? provider.childCredential(opts) : provider.mint(opts);
}

export interface RevokeOutcome {
  revoked: boolean;
  attempts: number;
  /** The last error's code and message, when it was not revoked. */
  error?: { code: string; message: string };
}

/** RFC 7009 with retries; never throws. A long-lived credential is not revoked (it is the provider's static key). */
export async function revokeWithRetry(provider: Provider, credential: ShortLivedCredential, sleep?: (ms: number) => Promise<void>): Promise<RevokeOutcome> {
  if (!credential.shortLived) return { revoked: false, attempts: 0 };
  const r = retrying(() => provider.revoke(credential), { attempts: REVOKE_ATTEMPTS, delaysMs: RETRY_DELAYS_MS, ...(sleep ? { sleep } : {}) });
  try {
    await r.value;
    return { revoked: true, attempts: r.attempts() };
  } catch (last) {
    const e = last as { code?: string; message?: string };
    return { revoked: false, attempts: r.attempts(), error: { code: e?.code ?? 'INTERNAL', message: String(e?.message ?? last).slice(0, 300) } };
  }
}
