/**
 * Issue 15, agentprov's own ledger: a spending cap is raised only for the
 * approval of that very pending change, checked against approval tokens this
 * test signs with its own key (test/helpers/cap-approval.ts). The rail's side
 * is in test/integration/sandbox/cap-approval.test.ts, the identity
 * provider's page and the CLI in test/e2e/cap-approval.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../../src/core/errors.js';
import { openLedger } from '../../../src/payment/ledger.js';
import { detailFor, LEDGER_RESOURCE, PendingCapChange, type SpendingCapDetail } from '../../../src/wire/cap-approval.js';
import { testApprover } from '../../helpers/cap-approval.js';
import { tempDir } from '../../helpers/cli.js';
import { rejection } from '../../helpers/errors.js';

const testIssuer = testApprover;

describe("agentprov's ledger applies a raise only for the approval of that pending change", () => {
  let issuer: Awaited<ReturnType<typeof testIssuer>>;
  beforeAll(async () => {
    issuer = await testIssuer();
  });
  const setup = () => {
    const home = tempDir();
    let t = Date.now();
    const clock = { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
    const ledger = openLedger({ paths: { state: join(home, 'state'), config: join(home, 'config'), cache: join(home, 'cache') }, clock });
    const verify = issuer.ledgerVerifier(clock.now);
    const subject = async () => 'user-demo';
    const ask = async (provider: string, amount: number) => {
      const e = await rejection(ledger.setCap(provider, amount, { subject }));
      expect([e.code, e.exitCode]).toEqual(['CAP_RAISE_APPROVAL_REQUIRED', EXIT.HUMAN_ACTION]);
      return PendingCapChange.parse(e.details);
    };
    const withApproval = (provider: string, amount: number, token: string) => ledger.setCap(provider, amount, { subject, approval: { token, verify } });
    const cap = async (provider = 'cloudflare') => (await ledger.spend()).providers.find((p) => p.provider === provider)?.cap;
    return { home, clock, ledger, ask, withApproval, cap, subject };
  };

  it('pending until approved; exactly the approved amount, once; lowering asks nothing', async () => {
    const l = setup();
    expect(await l.ledger.setCap('cloudflare', 5000, { subject: async () => { throw new Error('a lowering needs no session'); } })).toMatchObject({ cap: 5000 });
    const change = await l.ask('cloudflare', 20_000);
    expect(change).toMatchObject({ provider: 'cloudflare', amount: 20_000, previous_cap: 5000, resource: LEDGER_RESOURCE });
    expect(await l.cap()).toBe(5000);
    const token = await issuer.sign(detailFor(change), LEDGER_RESOURCE);
    expect(await l.withApproval('cloudflare', 20_000, token)).toMatchObject({ cap: 20_000, previous_cap: 5000, change: { id: change.change_id, approved_by: 'user-demo' } });
    expect(await l.cap()).toBe(20_000);
    const file = readFileSync(join(l.home, 'state', 'ledger.json'), 'utf8');
    expect(JSON.parse(file).cap_changes[change.change_id]).toMatchObject({ status: 'applied', approval_jti: expect.any(String), approved_by: 'user-demo' });
    expect(file).not.toContain(token);
    await l.ledger.setCap('cloudflare', 1000, { subject: l.subject });
    const replay = await rejection(l.withApproval('cloudflare', 20_000, token));
    expect([replay.code, replay.details.reason]).toEqual(['CAP_APPROVAL_INVALID', 'replayed']);
    expect(await l.cap()).toBe(1000);
  });

  it('forged, wrong-amount, wrong-provider, wrong-user, stale and expired approvals are refused; the cap stays', async () => {
    const l = setup();
    const change = await l.ask('cloudflare', 20_000);
    await l.ask('othercloud', 20_000);
    const good = await issuer.sign(detailFor(change), LEDGER_RESOURCE);
    const expectRefused = async (p: Promise<unknown>, code: string, reason: string) => {
      const e = await rejection(p);
      expect([e.code, e.details.reason, e.details.source], e.message).toEqual([code, reason, 'ledger']);
    };
    await expectRefused(l.withApproval('cloudflare', 10_000_000, good), 'CAP_APPROVAL_INVALID', 'mismatch');
    await expectRefused(l.withApproval('othercloud', 20_000, good), 'CAP_APPROVAL_INVALID', 'mismatch');
    await expectRefused(l.withApproval('cloudflare', 20_000, await issuer.sign(detailFor(change), LEDGER_RESOURCE, { key: 'stranger' })), 'CAP_APPROVAL_INVALID', 'invalid');
    await expectRefused(l.withApproval('cloudflare', 20_000, await issuer.sign(detailFor(change), 'http://127.0.0.1:9/rail')), 'CAP_APPROVAL_INVALID', 'invalid');
    await expectRefused(l.withApproval('cloudflare', 20_000, await issuer.sign({ ...detailFor(change), locations: ['http://127.0.0.1:9/rail'] }, LEDGER_RESOURCE)), 'CAP_APPROVAL_INVALID', 'mismatch');
    await expectRefused(l.withApproval('cloudflare', 20_000, await issuer.sign(detailFor(change), LEDGER_RESOURCE, { sub: 'user-second' })), 'CAP_APPROVAL_INVALID', 'wrong_user');
    await expectRefused(l.withApproval('cloudflare', 20_000, await issuer.sign(detailFor(change), LEDGER_RESOURCE, { authTime: Math.floor(Date.now() / 1000) - 600 })), 'CAP_APPROVAL_INVALID', 'stale');
    await expectRefused(l.withApproval('cloudflare', 20_000, await issuer.sign({ ...detailFor(change), type: 'payment' } as unknown as SpendingCapDetail, LEDGER_RESOURCE)), 'CAP_APPROVAL_INVALID', 'invalid');
    l.clock.advance(121_000 + 5000);
    await expectRefused(l.withApproval('cloudflare', 20_000, good), 'AUTHORIZATION_EXPIRED', 'expired');
    l.clock.advance(15 * 60 * 1000);
    await expectRefused(l.withApproval('cloudflare', 20_000, await issuer.sign(detailFor(change), LEDGER_RESOURCE, { iat: Math.floor(l.clock.now().getTime() / 1000) })), 'AUTHORIZATION_EXPIRED', 'expired');
    expect(await l.cap()).toBe(10_000);
    expect(JSON.parse(readFileSync(join(l.home, 'state', 'ledger.json'), 'utf8')).caps).toEqual({}); // neither cloudflare nor othercloud raised
  });
});
