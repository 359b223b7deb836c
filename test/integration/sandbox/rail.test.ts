/**
 * The sandbox payment rail over real HTTP on 127.0.0.1. `verifyAccessToken`
 * is backed by an in-test table of tokens (the real IdP is wired in by the
 * sandbox composer); the clock is controlled by the test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fetch } from 'undici';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CapExceededDetails,
  CapResponse,
  PaymentTokenResponse,
  PaymentTokenStatusResponse,
  RailErrorBody,
  RedemptionResponse,
  SpendResponse,
} from '../../../src/wire/rail.js';
import { startRail, type RailOptions, type RunningRail } from '../../../src/sandbox/rail/index.js';
import { detailFor, PendingCapChange } from '../../../src/wire/cap-approval.js';
import { TEST_ISSUER, testApprover } from '../../helpers/cap-approval.js';

const START = Date.UTC(2026, 10, 22, 12, 0, 0);
let now = START;
const clock = (): number => now;

/** token → user; `fresh` users signed in 10 s ago, the others an hour ago. */
const USERS: Record<string, { sub: string; email: string; fresh: boolean }> = {
  'at-demo': { sub: 'user-demo', email: 'demo@agentprov.test', fresh: false },
  'at-demo-fresh': { sub: 'user-demo', email: 'demo@agentprov.test', fresh: true },
  'at-second': { sub: 'user-second', email: 'second@agentprov.test', fresh: true },
  'at-third': { sub: 'user-third', email: 'third@agentprov.test', fresh: true },
};
const verifyAccessToken: RailOptions['verifyAccessToken'] = async (token) => {
  const u = USERS[token];
  if (!u) throw new Error('invalid token');
  const authTime = Math.floor(now / 1000) - (u.fresh ? 10 : 3600);
  return { sub: u.sub, email: u.email, authTime, scope: 'openid payments' };
};

const PROVIDERS = { registry: 'registry-secret', kv: 'kv-secret' };
const running: RunningRail[] = [];
const dirs: string[] = [];

async function rail(extra: Partial<RailOptions> = {}): Promise<RunningRail> {
  const r = await startRail({
    verifyAccessToken, providerClients: PROVIDERS, usersWithoutPaymentMethod: ['user-second'], clock, ...extra,
  });
  running.push(r);
  return r;
}
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rail-test-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  now = START;
});

interface CallOpts { bearer?: string; basic?: [string, string]; body?: unknown; raw?: string }
async function call(r: RunningRail, method: string, path: string, o: CallOpts = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
  if (o.basic) headers.authorization = `Basic ${Buffer.from(o.basic.join(':')).toString('base64')}`;
  const body = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  const res = await fetch(r.url + path, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text.startsWith('{') ? (JSON.parse(text) as unknown) : text };
}
const errorOf = (json: unknown) => RailErrorBody.parse(json).error;

const mint = (r: RunningRail, max: number, extra: Record<string, unknown> = {}, bearer = 'at-demo') =>
  call(r, 'POST', '/v1/payment_tokens', {
    bearer, body: { provider: 'registry', service: 'registrar:domain', max_amount: max, currency: 'USD', ...extra },
  });
const redeem = (r: RunningRail, token: string, amount: number, creds: [string, string] = ['registry', 'registry-secret'], currency = 'USD') =>
  call(r, 'POST', '/v1/redemptions', { basic: creds, body: { payment_token: token, service: 'registrar:domain', amount, currency, reference: 'prov-1' } });
const spend = async (r: RunningRail, bearer = 'at-demo') =>
  SpendResponse.parse((await call(r, 'GET', '/v1/spend', { bearer })).json);
const registryOf = (s: SpendResponse) => s.providers.find((p) => p.provider === 'registry');

describe('sandbox payment rail', () => {
  it('mints and redeems a token; spend shows the hold, then the charge', async () => {
    const dataDir = tempDir();
    const r = await rail({ dataDir });
    const minted = await mint(r, 2500);
    expect(minted.status).toBe(201);
    const tok = PaymentTokenResponse.parse(minted.json);
    expect(tok.payment_token.startsWith('pt_')).toBe(true);
    expect(tok.expires_at).toBe(new Date(START + 900_000).toISOString());
    expect(registryOf(await spend(r))).toEqual({ provider: 'registry', cap: 10000, spent: 0, held: 2500, remaining: 7500 });
    // Only the hash is persisted.
    expect(readFileSync(join(dataDir, 'rail.json'), 'utf8')).not.toContain(tok.payment_token);
    expect(r.ledger().tokens[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);

    const redeemed = await redeem(r, tok.payment_token, 1800);
    expect(redeemed.status).toBe(200);
    const red = RedemptionResponse.parse(redeemed.json);
    expect(red).toMatchObject({ amount: 1800, currency: 'USD', provider: 'registry', service: 'registrar:domain', user: 'user-demo' });

    const s = await spend(r);
    expect(s).toMatchObject({ month: '2026-11', currency: 'USD', global_cap: null, spent: 1800, held: 0 });
    expect(registryOf(s)).toEqual({ provider: 'registry', cap: 10000, spent: 1800, held: 0, remaining: 8200 });

    const status = await call(r, 'GET', `/v1/payment_tokens/${tok.id}`, { basic: ['registry', 'registry-secret'] });
    expect(PaymentTokenStatusResponse.parse(status.json)).toMatchObject({ status: 'redeemed', redeemed_amount: 1800 });
    const other = await call(r, 'GET', `/v1/payment_tokens/${tok.id}`, { basic: ['kv', 'kv-secret'] });
    expect(other.status).toBe(404);
  });

  it('refuses over-amount, wrong provider, wrong currency, replay and expiry without charging', async () => {
    const r = await rail();
    const tok = PaymentTokenResponse.parse((await mint(r, 1000)).json);

    const over = await redeem(r, tok.payment_token, 1001);
    expect([over.status, errorOf(over.json).code]).toEqual([400, 'AMOUNT_EXCEEDS_MAXIMUM']);
    const wrong = await redeem(r, tok.payment_token, 500, ['kv', 'kv-secret']);
    expect([wrong.status, errorOf(wrong.json).code]).toEqual([403, 'WRONG_PROVIDER']);
    const badSecret = await redeem(r, tok.payment_token, 500, ['registry', 'kv-secret']);
    expect(badSecret.status).toBe(401);
    expect(badSecret.headers.get('www-authenticate')).toMatch(/^Basic /);
    const eur = await redeem(r, tok.payment_token, 500, undefined, 'EUR');
    expect([eur.status, errorOf(eur.json).code]).toEqual([400, 'CURRENCY_MISMATCH']);
    const lower = await redeem(r, tok.payment_token, 500, undefined, 'usd');
    expect([lower.status, errorOf(lower.json).details.field]).toEqual([400, 'currency']);
    const unknown = await redeem(r, 'pt_' + 'A'.repeat(43), 500);
    expect([unknown.status, errorOf(unknown.json).code]).toEqual([400, 'TOKEN_UNKNOWN']);
    expect(r.ledger().redemptions).toHaveLength(0);
    expect(r.ledger().tokens[0]?.status).toBe('held');

    expect((await redeem(r, tok.payment_token, 700)).status).toBe(200);
    const replay = await redeem(r, tok.payment_token, 700);
    expect([replay.status, errorOf(replay.json).code]).toEqual([409, 'TOKEN_ALREADY_REDEEMED']);
    expect(r.ledger().redemptions).toHaveLength(1);
    expect(registryOf(await spend(r))?.spent).toBe(700);

    const late = PaymentTokenResponse.parse((await mint(r, 1000)).json);
    now += 901_000;
    const expired = await redeem(r, late.payment_token, 100);
    expect([expired.status, errorOf(expired.json).code]).toEqual([409, 'TOKEN_EXPIRED']);
    expect(r.ledger().tokens.find((t) => t.id === late.id)?.status).toBe('expired');
    expect(r.ledger().redemptions).toHaveLength(1);
  });

  it('redeems exactly once under concurrent redemptions', async () => {
    const r = await rail();
    const tok = PaymentTokenResponse.parse((await mint(r, 1000)).json);
    const results = await Promise.all(Array.from({ length: 20 }, () => redeem(r, tok.payment_token, 900)));
    expect(results.filter((x) => x.status === 200)).toHaveLength(1);
    expect(results.filter((x) => x.status === 409)).toHaveLength(19);
    expect(r.ledger().redemptions).toHaveLength(1);
  });

  it('lets exactly 3 of 50 concurrent 3000 mints through a 10000 cap', async () => {
    const r = await rail();
    const results = await Promise.all(Array.from({ length: 50 }, () => mint(r, 3000)));
    expect(results.filter((x) => x.status === 201)).toHaveLength(3);
    const refused = results.filter((x) => x.status === 402);
    expect(refused).toHaveLength(47);
    const details = CapExceededDetails.parse(errorOf(refused[0]?.json).details);
    expect(details).toEqual({
      scope: 'provider', cap: 10000, spent: 0, held: 9000, needed: 3000, provider: 'registry', currency: 'USD', month: '2026-11',
    });
    expect(r.ledger().tokens).toHaveLength(3);
    expect(registryOf(await spend(r))).toMatchObject({ held: 9000, remaining: 1000 });
  });

  it('releases the hold of an expired token', async () => {
    const r = await rail({ tokenTtlSeconds: 60 });
    expect((await mint(r, 6000)).status).toBe(201);
    expect(errorOf((await mint(r, 6000)).json).code).toBe('CAP_EXCEEDED');
    now += 60_000;
    expect((await mint(r, 6000)).status).toBe(201);
    expect(registryOf(await spend(r))).toMatchObject({ held: 6000, spent: 0 });
    expect(r.ledger().tokens.map((t) => t.status)).toEqual(['expired', 'held']);
  });

  it('asks the second user for a payment method', async () => {
    const r = await rail();
    const res = await mint(r, 100, {}, 'at-second');
    expect(res.status).toBe(402);
    const err = errorOf(res.json);
    expect(err.code).toBe('PAYMENT_METHOD_REQUIRED');
    expect(err.details).toEqual({ url: `${r.url}/payment-methods` });
    const page = await fetch(`${r.url}/payment-methods`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<h1>Payment methods</h1>');
    expect(r.ledger().tokens).toHaveLength(0);
  });

  it("raises a cap only with the approval of that raise, however fresh the sign-in; never needs one to lower", async () => {
    const approver = await testApprover();
    const r = await rail({ capApprovals: { issuer: TEST_ISSUER, jwks: approver.jwks } });
    const put = (path: string, body: Record<string, unknown>, bearer = 'at-demo') => call(r, 'PUT', path, { bearer, body });
    /** Asks for the raise (403 with the pending change), then presents the approval the human gave for it. */
    const approved = async (path: string, amount: number | null, bearer = 'at-demo-fresh') => {
      const asked = await put(path, { amount }, bearer);
      expect([asked.status, errorOf(asked.json).code]).toEqual([403, 'CAP_RAISE_APPROVAL_REQUIRED']);
      const change = PendingCapChange.parse(errorOf(asked.json).details);
      expect(change).toMatchObject({ amount, currency: 'USD', resource: r.url });
      return put(path, { amount, approval: await approver.sign(detailFor(change), r.url, { iat: Math.floor(now / 1000) }) }, bearer);
    };

    const stale = await put('/v1/caps/registry', { amount: 20000 }, 'at-demo-fresh');
    expect([stale.status, errorOf(stale.json).code]).toEqual([403, 'CAP_RAISE_APPROVAL_REQUIRED']);
    expect(errorOf(stale.json).details).toMatchObject({ provider: 'registry', amount: 20000, previous_cap: 10000 });
    const lowered = await put('/v1/caps/registry', { amount: 5000 });
    expect(CapResponse.parse(lowered.json)).toMatchObject({ scope: 'provider', cap: 5000, previous_cap: 10000 });
    expect((await put('/v1/caps/registry', { amount: 5000 })).status).toBe(200);
    expect((await approved('/v1/caps/registry', 20000)).status).toBe(200);
    expect(registryOf(await spend(r))?.cap).toBe(20000);

    expect((await put('/v1/caps/global', { amount: 8000 })).status).toBe(200); // from "no limit": a lowering
    expect(errorOf((await put('/v1/caps/global', { amount: 9000 }, 'at-demo-fresh')).json).code).toBe('CAP_RAISE_APPROVAL_REQUIRED');
    expect(errorOf((await put('/v1/caps/global', { amount: null }, 'at-demo-fresh')).json).code).toBe('CAP_RAISE_APPROVAL_REQUIRED');
    expect((await spend(r)).global_cap).toBe(8000);
    expect((await mint(r, 6000)).status).toBe(201);
    const overGlobal = await mint(r, 3000, { provider: 'kv', service: 'kv:namespace' });
    expect(CapExceededDetails.parse(errorOf(overGlobal.json).details)).toMatchObject({ scope: 'global', cap: 8000, held: 6000 });
    expect((await approved('/v1/caps/global', null)).status).toBe(200);
    expect((await mint(r, 3000, { provider: 'kv', service: 'kv:namespace' })).status).toBe(201);
  });

  it('without a trusted identity provider for approvals, no cap can be raised', async () => {
    const r = await rail();
    const asked = await call(r, 'PUT', '/v1/caps/registry', { bearer: 'at-demo-fresh', body: { amount: 20000 } });
    expect(errorOf(asked.json).code).toBe('CAP_RAISE_APPROVAL_REQUIRED');
    const forged = await call(r, 'PUT', '/v1/caps/registry', { bearer: 'at-demo-fresh', body: { amount: 20000, approval: 'a.b.c' } });
    expect([forged.status, errorOf(forged.json).code]).toEqual([403, 'CAP_APPROVAL_INVALID']);
    expect(registryOf(await spend(r))).toBeUndefined();
  });

  it('keeps the ledger, caps and token secrets across a restart', async () => {
    const dataDir = tempDir();
    const first = await rail({ dataDir });
    const held = PaymentTokenResponse.parse((await mint(first, 1000, { idempotency_key: 'k-1' })).json);
    const spent = PaymentTokenResponse.parse((await mint(first, 2000)).json);
    expect((await redeem(first, spent.payment_token, 1500)).status).toBe(200);
    await call(first, 'PUT', '/v1/caps/registry', { bearer: 'at-demo', body: { amount: 9000 } });
    const before = first.ledger();
    await first.stop();

    const second = await rail({ dataDir });
    expect(second.ledger()).toEqual(before);
    expect(registryOf(await spend(second))).toEqual({ provider: 'registry', cap: 9000, spent: 1500, held: 1000, remaining: 6500 });
    const again = PaymentTokenResponse.parse((await mint(second, 1000, { idempotency_key: 'k-1' })).json);
    expect(again).toEqual(held);
    expect((await redeem(second, held.payment_token, 1000)).status).toBe(200);
  });

  it('answers a repeated idempotency_key with the same token and one hold', async () => {
    const r = await rail();
    const results = await Promise.all(Array.from({ length: 5 }, () => mint(r, 4000, { idempotency_key: 'same' })));
    const tokens = results.map((x) => PaymentTokenResponse.parse(x.json));
    expect(new Set(tokens.map((t) => t.payment_token)).size).toBe(1);
    expect(results.filter((x) => x.headers.get('idempotent-replayed') === 'true')).toHaveLength(4);
    expect(r.ledger().tokens).toHaveLength(1);
    expect(registryOf(await spend(r))?.held).toBe(4000);

    const changed = await mint(r, 4500, { idempotency_key: 'same' });
    expect([changed.status, errorOf(changed.json).code]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED']);
    const otherUser = PaymentTokenResponse.parse((await mint(r, 4000, { idempotency_key: 'same' }, 'at-third')).json);
    expect(otherUser.id).not.toBe(tokens[0]?.id);
  });

  it('rejects bad input and bad credentials with named errors', async () => {
    const r = await rail();
    const none = await call(r, 'POST', '/v1/payment_tokens', { body: {} });
    expect([none.status, errorOf(none.json).code]).toEqual([401, 'UNAUTHORIZED']);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const forged = await mint(r, 100, {}, 'at-nobody');
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toContain('invalid_token');

    const malformed = await call(r, 'POST', '/v1/payment_tokens', { bearer: 'at-demo', raw: '{"provider":' });
    expect([malformed.status, errorOf(malformed.json).details.field]).toEqual([400, 'body']);
    expect(errorOf(malformed.json).message).toMatch(/malformed JSON/);
    const missing = await call(r, 'POST', '/v1/payment_tokens', { bearer: 'at-demo', body: { provider: 'registry', service: 's', currency: 'USD' } });
    expect(errorOf(missing.json).details.field).toBe('max_amount');
    expect(errorOf((await mint(r, 1.5)).json).details.field).toBe('max_amount');
    expect(errorOf((await mint(r, 100, { currency: 'usd' })).json).details.field).toBe('currency');
    expect(errorOf((await mint(r, 100, { provider: 'nope' })).json).details.field).toBe('provider');
    expect(errorOf((await mint(r, 100, { extra: 1 })).json).code).toBe('INVALID_REQUEST');
    const huge = await call(r, 'POST', '/v1/payment_tokens', { bearer: 'at-demo', raw: JSON.stringify({ pad: 'x'.repeat(17 * 1024) }) });
    expect([huge.status, errorOf(huge.json).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const badCap = await call(r, 'PUT', '/v1/caps/Bad%20Id', { bearer: 'at-demo', body: { amount: 1 } });
    expect(errorOf(badCap.json).details.field).toBe('provider');

    expect((await call(r, 'GET', '/v1/nothing')).status).toBe(404);
    const wrongMethod = await call(r, 'GET', '/v1/redemptions');
    expect([wrongMethod.status, wrongMethod.headers.get('allow')]).toEqual([405, 'POST']);
    expect(r.ledger().tokens).toHaveLength(0);
  });
});
