/** Revoking a short-lived credential (src/exec/credentials.ts): retried, its failure reported, a long-lived key left alone. */
import { describe, expect, it } from 'vitest';
import { revokeWithRetry } from '../../../src/exec/credentials.js';
import type { Provider, ShortLivedCredential } from '../../../src/providers/provider.js';

describe('revocation, unit', () => {
  it('revocation is retried and its failure reported; a long-lived key is never revoked', async () => {
    let calls = 0;
    const failing = {
      revoke: async () => {
        calls++;
        throw Object.assign(new Error('down'), { code: 'PROVIDER_UNREACHABLE' });
      },
    } as unknown as Provider;
    const cred: ShortLivedCredential = { token: 't'.repeat(20), expiresAt: new Date(), shortLived: true };
    const out = await revokeWithRetry(failing, cred, async () => {});
    expect(out).toMatchObject({ revoked: false, attempts: 3, error: { code: 'PROVIDER_UNREACHABLE' } });
    expect(calls).toBe(3);
    let flaky = 0;
    const second = { revoke: async () => { if (++flaky < 2) throw new Error('once'); } } as unknown as Provider;
    expect(await revokeWithRetry(second, cred, async () => {})).toMatchObject({ revoked: true, attempts: 2 });
    const never = { revoke: async () => { throw new Error('must not be called'); } } as unknown as Provider;
    expect(await revokeWithRetry(never, { ...cred, shortLived: false })).toMatchObject({ revoked: false, attempts: 0 });
  });
});
