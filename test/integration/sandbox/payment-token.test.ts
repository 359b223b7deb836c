/**
 * Payment tokens at the sandbox's payment rail (src/sandbox/rail/), in this
 * process: one token pays for one service, once, up to its maximum, and an
 * unredeemed one expires and releases its hold. Paid adds through the CLI
 * are in test/e2e/paid.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { fetch } from 'undici';
import { RailErrorBody } from '../../../src/wire/rail.js';
import { startRail } from '../../../src/sandbox/rail/index.js';

describe('rail: a payment token pays for one service, once, up to its maximum', () => {
  it('refuses another service, a second redemption and more than the maximum', async () => {
    const rail = await startRail({
      verifyAccessToken: async () => ({ sub: 'u', email: 'u@x', authTime: Math.floor(Date.now() / 1000), scope: 'payments' }),
      providerClients: { p: 'p-secret' },
    });
    try {
      const basic = `Basic ${Buffer.from('p:p-secret').toString('base64')}`;
      const minted = (await (await fetch(`${rail.url}/v1/payment_tokens`, { method: 'POST', headers: { authorization: 'Bearer x', 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'p', service: 'registrar:domain', max_amount: 1200, currency: 'USD' }) })).json()) as { payment_token: string };
      const redeem = async (service: string, amount: number) => {
        const res = await fetch(`${rail.url}/v1/redemptions`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/json' }, body: JSON.stringify({ payment_token: minted.payment_token, service, amount, currency: 'USD', reference: 'r' }) });
        return { status: res.status, body: (await res.json()) as unknown };
      };
      const wrong = await redeem('db:postgres', 1200);
      expect(wrong.status).toBe(403);
      expect(RailErrorBody.parse(wrong.body).error.code).toBe('WRONG_SERVICE');
      const over = await redeem('registrar:domain', 1201);
      expect(RailErrorBody.parse(over.body).error.code).toBe('AMOUNT_EXCEEDS_MAXIMUM');
      expect((await redeem('registrar:domain', 1200)).status).toBe(200);
      const twice = await redeem('registrar:domain', 1200);
      expect(RailErrorBody.parse(twice.body).error.code).toBe('TOKEN_ALREADY_REDEEMED');
      expect(rail.ledger().redemptions).toHaveLength(1);
    } finally {
      await rail.stop();
    }
  });
});

describe('an unredeemed payment token expires and its hold is released', () => {
  it('holds, then releases after the short TTL', async () => {
    let now = Date.now();
    const rail = await startRail({
      verifyAccessToken: async () => ({ sub: 'u', email: 'u@x', authTime: Math.floor(now / 1000), scope: 'payments' }),
      providerClients: { p: 's' },
      tokenTtlSeconds: 2,
      clock: () => now,
    });
    try {
      const res = await fetch(`${rail.url}/v1/payment_tokens`, { method: 'POST', headers: { authorization: 'Bearer x', 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'p', service: 's:x', max_amount: 3000, currency: 'USD', idempotency_key: 'agentprov-k' }) });
      expect(res.status).toBe(201);
      const spend = async () => (await (await fetch(`${rail.url}/v1/spend`, { headers: { authorization: 'Bearer x' } })).json()) as { held: number };
      expect((await spend()).held).toBe(3000);
      now += 3000;
      expect((await spend()).held).toBe(0);
    } finally {
      await rail.stop();
    }
  });
});
