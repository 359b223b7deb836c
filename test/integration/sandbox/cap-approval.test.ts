/**
 * Issue 15, the sandbox's payment rail in this process: a spending cap is
 * raised only for the approval of that very pending change, checked against
 * approval tokens this test signs with its own key
 * (test/helpers/cap-approval.ts): forged, replayed, expired, wrong-amount,
 * wrong-provider, wrong-user and stale approvals are refused. The ledger's
 * side is in test/unit/payment/cap-approval.test.ts.
 */
import { fetch } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../../src/core/errors.js';
import { railError } from '../../../src/payment/rail.js';
import { detailFor, PendingCapChange } from '../../../src/wire/cap-approval.js';
import { CapResponse, RailErrorBody } from '../../../src/wire/rail.js';
import { startRail, type RailOptions, type RunningRail } from '../../../src/sandbox/rail/index.js';
import { TEST_ISSUER, testApprover } from '../../helpers/cap-approval.js';

const ISSUER = TEST_ISSUER;
const testIssuer = testApprover;

const errorOf = (json: unknown) => RailErrorBody.parse(json).error;

describe('the rail applies a raise only for the approval of that pending change', () => {
  const USERS: Record<string, string> = { 'at-demo': 'user-demo', 'at-second': 'user-second' };
  const verifyAccessToken: RailOptions['verifyAccessToken'] = async (token) => {
    const sub = USERS[token];
    if (!sub) throw new Error('invalid token');
    return { sub, email: `${sub}@x`, authTime: Math.floor(Date.now() / 1000), scope: 'openid payments' };
  };
  let issuer: Awaited<ReturnType<typeof testIssuer>>;
  let r: RunningRail;
  let now = Date.now();

  beforeAll(async () => {
    issuer = await testIssuer();
  });
  afterEach(async () => {
    await r?.stop();
  });
  const start = async () => {
    now = Date.now();
    r = await startRail({ verifyAccessToken, providerClients: { localcloud: 's1', othercloud: 's2' }, clock: () => now, capApprovals: { issuer: ISSUER, jwks: issuer.jwks } });
    return r;
  };
  const put = async (target: string, body: Record<string, unknown>, bearer = 'at-demo') => {
    const res = await fetch(`${r.url}/v1/caps/${target}`, { method: 'PUT', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as unknown };
  };
  /** Asks for a raise: 403 with the pending change. */
  const ask = async (target: string, amount: number | null, bearer = 'at-demo') => {
    const asked = await put(target, { amount }, bearer);
    expect(asked.status).toBe(403);
    expect(errorOf(asked.json).code).toBe('CAP_RAISE_APPROVAL_REQUIRED');
    return PendingCapChange.parse(errorOf(asked.json).details);
  };
  const capOf = (provider: string, user = 'user-demo') => r.ledger().caps[user]?.providers[provider] ?? 10_000;

  it('a raise is a pending change until approved; lowering is immediate; the approval raises to exactly its amount, once', async () => {
    await start();
    const change = await ask('localcloud', 20_000);
    expect(change).toMatchObject({ provider: 'localcloud', amount: 20_000, previous_cap: 10_000, currency: 'USD', resource: r.url });
    expect(capOf('localcloud')).toBe(10_000);
    expect(r.ledger().cap_changes).toEqual([expect.objectContaining({ id: change.change_id, status: 'pending', user: 'user-demo' })]);

    const lowered = await put('othercloud', { amount: 5000 });
    expect(CapResponse.parse(lowered.json)).toMatchObject({ cap: 5000, previous_cap: 10_000 });

    const token = await issuer.sign(detailFor(change), r.url);
    const applied = await put('localcloud', { amount: 20_000, approval: token });
    expect(applied.status, JSON.stringify(applied.json)).toBe(200);
    expect(CapResponse.parse(applied.json)).toMatchObject({ cap: 20_000, previous_cap: 10_000, change: { id: change.change_id, approved_by: 'user-demo' } });
    expect(capOf('localcloud')).toBe(20_000);
    expect(r.ledger().cap_changes[0]).toMatchObject({ status: 'applied', approved_by: 'user-demo' });
    expect(JSON.stringify(r.ledger())).not.toContain(token);

    // Replayed: the same approval again (after a lowering, so it would be a raise again) is refused.
    await put('localcloud', { amount: 15_000 });
    const replay = await put('localcloud', { amount: 20_000, approval: token });
    expect([replay.status, errorOf(replay.json).code, errorOf(replay.json).details.reason]).toEqual([409, 'CAP_APPROVAL_USED', 'replayed']);
    expect(capOf('localcloud')).toBe(15_000);
  });

  it('approving 200.00 does not allow 100000.00; localcloud\'s approval raises neither othercloud nor the global cap; another user\'s or a forged one nothing', async () => {
    await start();
    const change = await ask('localcloud', 20_000);
    const token = await issuer.sign(detailFor(change), r.url);
    const refused = async (target: string, body: Record<string, unknown>, reason: string, code = 'CAP_APPROVAL_INVALID', bearer = 'at-demo') => {
      const res = await put(target, body, bearer);
      expect([res.status, errorOf(res.json).code, errorOf(res.json).details.reason], JSON.stringify(res.json)).toEqual([code === 'CAP_APPROVAL_USED' ? 409 : 403, code, reason]);
    };
    await refused('localcloud', { amount: 10_000_000, approval: token }, 'mismatch');
    await refused('othercloud', { amount: 20_000, approval: token }, 'mismatch');
    expect((await put('global', { amount: 5000 })).status).toBe(200); // from no limit: a lowering
    await refused('global', { amount: 20_000, approval: token }, 'mismatch');
    // A token whose details claim 100000.00 for the pending change is not what was asked for.
    await refused('localcloud', { amount: 10_000_000, approval: await issuer.sign({ ...detailFor(change), amount: 10_000_000 }, r.url) }, 'mismatch');
    // The second user presents the demo user's approval for their own raise; the demo user presents one the second user gave.
    const theirs = await ask('localcloud', 20_000, 'at-second');
    await refused('localcloud', { amount: 20_000, approval: token }, 'mismatch', 'CAP_APPROVAL_INVALID', 'at-second');
    await refused('localcloud', { amount: 20_000, approval: await issuer.sign(detailFor(theirs), r.url) }, 'mismatch');
    await refused('localcloud', { amount: 20_000, approval: await issuer.sign(detailFor(theirs), r.url, { sub: 'user-demo' }) }, 'mismatch', 'CAP_APPROVAL_INVALID', 'at-demo');
    await refused('localcloud', { amount: 20_000, approval: await issuer.sign(detailFor(change), r.url, { sub: 'user-second' }) }, 'wrong_user');
    // Forged: another key, another issuer, another audience, another type, a tampered payload, not a JWT.
    await refused('localcloud', { amount: 20_000, approval: await issuer.sign(detailFor(change), r.url, { key: 'stranger' }) }, 'invalid');
    await refused('localcloud', { amount: 20_000, approval: await issuer.sign(detailFor(change), r.url, { issuer: 'http://evil.test' }) }, 'invalid');
    await refused('localcloud', { amount: 20_000, approval: await issuer.sign(detailFor(change), 'http://127.0.0.1:1') }, 'invalid');
    await refused('localcloud', { amount: 20_000, approval: await issuer.sign(detailFor(change), r.url, { typ: 'JWT' }) }, 'invalid');
    const [h, , s] = token.split('.');
    const tampered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()), authorization_details: [{ ...detailFor(change), amount: 10_000_000 }] })).toString('base64url');
    await refused('localcloud', { amount: 10_000_000, approval: `${h}.${tampered}.${s}` }, 'invalid');
    await refused('localcloud', { amount: 20_000, approval: 'not-a-token' }, 'invalid');
    // Issued before the change was requested: not an approval of it.
    await refused('localcloud', { amount: 20_000, approval: await issuer.sign(detailFor(change), r.url, { iat: Math.floor(now / 1000) - 60 }) }, 'stale');
    expect(capOf('localcloud')).toBe(10_000);
    expect(capOf('othercloud')).toBe(10_000);
    expect(r.ledger().caps['user-demo']?.global).toBe(5000);
    // ...and the genuine one still works.
    expect((await put('localcloud', { amount: 20_000, approval: token })).status).toBe(200);
  });

  it('an expired approval token or an expired pending change leaves the cap unchanged (CAP_APPROVAL_EXPIRED → AUTHORIZATION_EXPIRED)', async () => {
    await start();
    // No global cap is no limit: 500.00 is a lowering, a raise from it back to none needs approval.
    expect((await put('global', { amount: 50_000 })).status).toBe(200);
    const back = await ask('global', null);
    expect(back).toMatchObject({ provider: 'global', amount: null, previous_cap: 50_000 });
    const old = await issuer.sign(detailFor(back), r.url, { exp: Math.floor(now / 1000) - 10, iat: Math.floor(now / 1000) - 130 });
    const expired = await put('global', { amount: null, approval: old });
    expect([expired.status, errorOf(expired.json).code]).toEqual([403, 'CAP_APPROVAL_EXPIRED']);
    const cli = railError(r.url, expired.status, expired.json);
    expect([cli.code, cli.exitCode, cli.message]).toEqual(['AUTHORIZATION_EXPIRED', EXIT.HUMAN_ACTION, expect.stringContaining('the cap is unchanged')]);
    now += 16 * 60 * 1000; // past the pending change's 15 minutes
    const late = await put('global', { amount: null, approval: await issuer.sign(detailFor(back), r.url, { iat: Math.floor(now / 1000) }) });
    expect([late.status, errorOf(late.json).code, errorOf(late.json).details.reason]).toEqual([403, 'CAP_APPROVAL_EXPIRED', 'expired']);
    expect(r.ledger().caps['user-demo']?.global).toBe(50_000);
  });
});
