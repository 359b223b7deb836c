/**
 * agentprov's own spending ledger (issue 9 §3): holds, charges, releases, the
 * cap per provider per month, the human's approval of a raise, a corrupt file,
 * stale holds of abandoned adds, and 20 concurrent processes against one file.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../../src/core/errors.js';
import { openLedger, type HoldRequest, type Ledger } from '../../../src/payment/ledger.js';
import { billedByLedger, LEDGER_PROVIDERS, ledgerPath, MAX_LEDGER_BYTES } from '../../../src/payment/ledger-file.js';
import { DEFAULT_PROVIDER_CAP } from '../../../src/wire/rail.js';
import { detailFor, LEDGER_RESOURCE, PendingCapChange } from '../../../src/wire/cap-approval.js';
import { testApprover } from '../../helpers/cap-approval.js';
import { journalAbandons, journalSlot, newIdempotencyKey, writeJournal } from '../../../src/provision/journal.js';
import { run as budget } from '../../../src/cli/commands/budget.js';
import { run as spend } from '../../../src/cli/commands/spend.js';
import { createDeps } from '../../../src/cli/deps.js';
import { bufferIO } from '../../helpers/io.js';
import { bundleFixture } from '../../helpers/bundle.js';
import { tempDir } from '../../helpers/cli.js';
import { rejection } from '../../helpers/errors.js';

const run = promisify(execFile);

/** A clock the test moves. */
function clockAt(iso: string) {
  let t = Date.parse(iso);
  return { now: () => new Date(t), set: (s: string) => void (t = Date.parse(s)), advance: (ms: number) => void (t += ms) };
}

function newLedger(iso = '2026-03-10T12:00:00Z', opts: Parameters<typeof openLedger>[1] = {}) {
  const home = tempDir();
  const state = join(home, 'state');
  const clock = clockAt(iso);
  const ledger = openLedger({ paths: { state, config: join(home, 'config'), cache: join(home, 'cache') }, clock }, opts);
  return { home, state, clock, ledger };
}

const req = (key: string, amount: number, extra: Partial<HoldRequest> = {}): HoldRequest => ({
  key,
  provider: 'cloudflare',
  service: 'registrar:domain',
  resource: key.replace(/[^a-z0-9-]/g, '-').slice(0, 63),
  description: `${key}.com for 1 year`,
  amount,
  currency: 'USD',
  ...extra,
});

const refusal = rejection;

const row = async (l: Ledger, provider = 'cloudflare') => (await l.spend()).providers.find((p) => p.provider === provider);

describe('spending ledger', () => {
  it('is keyed by provider id: exactly cloudflare bills outside the rail today', () => {
    expect([...LEDGER_PROVIDERS]).toEqual(['cloudflare']);
    expect(billedByLedger('cloudflare')).toBe(true);
    expect(billedByLedger('localcloud')).toBe(false);
  });

  it('holds, charges (never above the hold) and releases; the file is 0600 and only what happened is in it', async () => {
    const { ledger, state } = newLedger();
    const s0 = await ledger.spend();
    expect(s0).toMatchObject({ month: '2026-03', currency: 'USD', global_cap: null, spent: 0, held: 0 });
    expect(s0.providers).toEqual([{ provider: 'cloudflare', cap: DEFAULT_PROVIDER_CAP, spent: 0, held: 0, remaining: DEFAULT_PROVIDER_CAP }]);

    const a = await ledger.hold(req('a', 3000));
    expect(a).toMatchObject({ replayed: false, entry: { state: 'held', amount: 3000, month: '2026-03' } });
    await ledger.hold(req('b', 2000));
    expect(await row(ledger)).toMatchObject({ spent: 0, held: 5000, remaining: 5000 });

    const above = await refusal(ledger.charge('a', 3001));
    expect(above.code).toBe('LEDGER_CHARGE_ABOVE_HOLD');
    expect((await ledger.get('a'))?.state).toBe('held');

    const charged = await ledger.charge('a', 2500);
    expect(charged).toMatchObject({ state: 'charged', amount: 2500, held_amount: 3000 });
    expect(await ledger.charge('a', 2500)).toMatchObject({ state: 'charged', amount: 2500 }); // idempotent
    expect((await refusal(ledger.charge('a', 2400))).code).toBe('LEDGER_CHARGE_CONFLICT');
    expect((await refusal(ledger.release('a'))).code).toBe('LEDGER_CHARGE_CONFLICT'); // a charge is never released

    const released = await ledger.release('b', 'PAYMENT_METHOD_REQUIRED');
    expect(released).toMatchObject({ state: 'released', released_reason: 'PAYMENT_METHOD_REQUIRED' });
    expect(await ledger.release('b')).toMatchObject({ state: 'released' });
    expect(await ledger.release('nope')).toBeUndefined();
    expect((await refusal(ledger.charge('nope'))).code).toBe('LEDGER_NO_HOLD');
    expect(await row(ledger)).toMatchObject({ spent: 2500, held: 0, remaining: 7500 });

    const file = ledgerPath(state);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(Object.keys(doc.entries).sort()).toEqual(['a', 'b']);
  });

  it('a hold is idempotent per key: the same add gets its own hold back, never a second one', async () => {
    const { ledger } = newLedger();
    const first = await ledger.hold(req('k', 3000));
    const again = await ledger.hold(req('k', 3000));
    expect(again.replayed).toBe(true);
    expect(again.entry.created_at).toBe(first.entry.created_at);
    expect(await row(ledger)).toMatchObject({ held: 3000 });
    // a re-quote of the same add before anything was sent moves the hold, it does not add one
    const moved = await ledger.hold(req('k', 3500));
    expect(moved.entry.amount).toBe(3500);
    expect(await row(ledger)).toMatchObject({ held: 3500 });
    // the same key for something else is a bug, not a second hold
    expect((await refusal(ledger.hold(req('k', 3500, { service: 'workers:script' })))).code).toBe('IDEMPOTENCY_KEY_REUSED');
    // once charged, a re-run gets the charge back and holds nothing more
    await ledger.charge('k');
    expect(await ledger.hold(req('k', 3500))).toMatchObject({ replayed: true, entry: { state: 'charged' } });
    expect(await row(ledger)).toMatchObject({ spent: 3500, held: 0 });
  });

  it('refuses with the rail\'s CAP_EXCEEDED (exit 4, source ledger) when spent + held + amount > cap', async () => {
    const { ledger } = newLedger();
    await ledger.hold(req('a', 4000));
    await ledger.charge('a');
    await ledger.hold(req('b', 4000));
    const e = await refusal(ledger.hold(req('c', 2001)));
    expect(e.code).toBe('CAP_EXCEEDED');
    expect(e.exitCode).toBe(EXIT.MONEY_REFUSED);
    expect(e.message).toBe('the monthly cap for provider cloudflare would be exceeded: cap 100.00 USD, spent 40.00 USD, held 40.00 USD, needed 20.01 USD');
    expect(e.details).toMatchObject({ scope: 'provider', provider: 'cloudflare', cap: 10_000, spent: 4000, held: 4000, needed: 2001, currency: 'USD', month: '2026-03', source: 'ledger' });
    expect(e.nextSteps[0]).toBe('agentprov budget set cloudflare 100.01   (a human approves the raise)');
    expect((await ledger.hold(req('c', 2000))).entry.state).toBe('held'); // exactly at the cap is allowed
    expect(await ledger.get('c')).toBeDefined();
    // caps are per provider
    expect((await ledger.hold(req('d', 9000, { provider: 'otherbill' }))).entry.state).toBe('held');
  });

  it('spent counts charges of the current UTC month; live holds count in any month', async () => {
    const { ledger, clock } = newLedger('2026-01-31T23:00:00Z');
    await ledger.hold(req('jan', 3000));
    clock.set('2026-01-31T23:30:00Z');
    await ledger.charge('jan');
    await ledger.hold(req('late', 2000)); // held in January, charged in February
    expect(await ledger.spend()).toMatchObject({ month: '2026-01', spent: 3000, held: 2000 });

    clock.set('2026-02-01T00:30:00Z');
    expect(await ledger.spend()).toMatchObject({ month: '2026-02', spent: 0, held: 2000 });
    expect((await ledger.get('late'))?.month).toBe('2026-01');
    await ledger.charge('late');
    expect(await row(ledger)).toMatchObject({ spent: 2000, held: 0, remaining: 8000 });
    // a fresh month's cap is whole again (January's 30.00 no longer counts)
    expect((await ledger.hold(req('feb', 8000))).entry.month).toBe('2026-02');
    expect((await refusal(ledger.hold(req('feb2', 1)))).code).toBe('CAP_EXCEEDED');
  });

  it('a corrupt ledger is never replaced: LEDGER_CORRUPT names the file and the field, nothing is held, the file is kept', async () => {
    const { ledger, state } = newLedger();
    await ledger.hold(req('a', 1000));
    const file = ledgerPath(state);
    const good = JSON.parse(readFileSync(file, 'utf8'));

    const cases: Array<[string, string]> = [
      ['{"version":1,"caps":{},"entr', '(root)'],
      [JSON.stringify({ ...good, entries: { a: { ...good.entries.a, amount: -5 } } }), 'entries.a.amount'],
      [JSON.stringify({ ...good, caps: { cloudflare: 'lots' } }), 'caps.cloudflare'],
      [JSON.stringify({ ...good, entries: { b: good.entries.a } }), 'entries.b.key'],
      [JSON.stringify({ ...good, version: 2 }), 'version'],
    ];
    for (const [text, field] of cases) {
      writeFileSync(file, text);
      for (const op of [() => ledger.hold(req('x', 100)), () => ledger.spend(), () => ledger.charge('a'), () => ledger.release('a')]) {
        const e = await refusal(op());
        expect(e.code).toBe('LEDGER_CORRUPT');
        expect(e.exitCode).toBe(EXIT.OTHER);
        expect(e.details).toEqual({ path: file, field });
        expect(e.message).toContain(file);
      }
      expect(readFileSync(file, 'utf8')).toBe(text);
    }
    const big = '{"version":1,"caps":{},"entries":{}}' + ' '.repeat(MAX_LEDGER_BYTES);
    writeFileSync(file, big);
    expect((await refusal(ledger.spend())).details).toEqual({ path: file, field: '(file)' });
    expect(statSync(file).size).toBe(Buffer.byteLength(big));
  });

  it("raising a cap needs the human's approval of that raise, never a session; lowering is immediate and asks nothing", async () => {
    const { ledger, clock } = newLedger();
    const approver = await testApprover();
    let asked = 0;
    const subject = async () => (asked++, 'user-demo');

    const lower = await ledger.setCap('cloudflare', 5000, { subject });
    expect(lower).toEqual({ scope: 'provider', provider: 'cloudflare', cap: 5000, previous_cap: DEFAULT_PROVIDER_CAP, currency: 'USD' });
    expect(asked).toBe(0);
    expect(await row(ledger)).toMatchObject({ cap: 5000, remaining: 5000 });
    expect((await refusal(ledger.hold(req('a', 5001)))).details).toMatchObject({ cap: 5000 });

    // However fresh the session: a raise is only a pending change.
    const e = await refusal(ledger.setCap('cloudflare', 6000, { subject }));
    expect([e.code, e.exitCode]).toEqual(['CAP_RAISE_APPROVAL_REQUIRED', EXIT.HUMAN_ACTION]);
    expect(PendingCapChange.parse(e.details)).toMatchObject({ provider: 'cloudflare', amount: 6000, previous_cap: 5000, resource: LEDGER_RESOURCE });
    expect(e.details.source).toBe('ledger');
    expect(await row(ledger)).toMatchObject({ cap: 5000 });
    expect(asked).toBe(1);
    // An approval of that 60.00 does not raise to 250.00.
    const sixty = await approver.sign(detailFor(PendingCapChange.parse(e.details)), LEDGER_RESOURCE, { iat: Math.floor(clock.now().getTime() / 1000) });
    const over = await refusal(ledger.setCap('cloudflare', 25_000, { subject, approval: { token: sixty, verify: approver.ledgerVerifier(clock.now) } }));
    expect([over.code, over.details.reason]).toEqual(['CAP_APPROVAL_INVALID', 'mismatch']);
    expect(await row(ledger)).toMatchObject({ cap: 5000 });

    const raised = await approver.raiseLedger(ledger, 'cloudflare', 25_000, clock.now);
    expect(raised).toMatchObject({ cap: 25_000, previous_cap: 5000 });
    expect(await row(ledger)).toMatchObject({ cap: 25_000 });
    expect(await ledger.setCap('cloudflare', 25_000, { subject })).toMatchObject({ cap: 25_000, previous_cap: 25_000 }); // the same value is no raise
  });

  it('a hold older than 24 h whose add was abandoned is released on read; a live add keeps its hold', async () => {
    const { ledger, clock, state } = newLedger('2026-03-10T12:00:00Z', {});
    const withJournal = openLedger({ paths: { state, config: '', cache: '' }, clock }, { abandoned: journalAbandons(state) });
    const slot = (n: string) => journalSlot('/p/agentprov.json', 'cloudflare', 'registrar:domain', n);
    const entry = (n: string, key: string, s: 'sent' | 'failed') => ({
      v: 1 as const, slot: slot(n), manifest: '/p/agentprov.json', provider: 'cloudflare', service: 'registrar:domain', name: n, config: {}, idempotency_key: key, state: s, created_at: '', updated_at: '',
    });
    const keys = { live: newIdempotencyKey(), failed: newIdempotencyKey(), gone: newIdempotencyKey(), moved: newIdempotencyKey(), young: newIdempotencyKey() };
    await writeJournal(state, entry('live', keys.live, 'sent'));
    await writeJournal(state, entry('failed', keys.failed, 'failed'));
    await writeJournal(state, entry('moved', newIdempotencyKey(), 'sent'));
    for (const [n, k] of Object.entries(keys)) if (n !== 'young') await ledger.hold(req(k, 1000, { resource: n, slot: slot(n) }));
    await ledger.hold(req('noslot', 1000));
    clock.advance(25 * 3600 * 1000);
    await ledger.hold(req(keys.young, 1000, { resource: 'young', slot: slot('young') }));
    // without the journal check nothing is released
    expect(await row(ledger)).toMatchObject({ held: 6000 });
    // a read-only view (add --preflight) neither sweeps nor writes
    const before = readFileSync(ledgerPath(state), 'utf8');
    expect((await withJournal.spend({ readOnly: true })).providers[0]).toMatchObject({ held: 6000 });
    expect(readFileSync(ledgerPath(state), 'utf8')).toBe(before);
    const view = await withJournal.spend();
    expect(view.providers[0]).toMatchObject({ held: 3000 }); // live, young (< 24 h), noslot
    for (const n of ['failed', 'gone', 'moved'] as const) expect(await withJournal.get(keys[n])).toMatchObject({ state: 'released', released_reason: 'abandoned' });
    expect((await withJournal.get(keys.live))?.state).toBe('held');
  });
});

describe('spending ledger across processes', () => {
  let holder: string;
  beforeAll(async () => {
    holder = await bundleFixture('test/fixtures/ledger-holder.ts');
  });

  it('20 concurrent processes each holding 30.00 under the 100.00 cap: exactly 3 succeed, the rest exit 4 CAP_EXCEEDED', async () => {
    const home = tempDir();
    mkdirSync(join(home, 'state'));
    const env = { ...process.env, AGENTPROV_HOME: home };
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        run(process.execPath, [holder, `add-${i}`, 'cloudflare', '3000'], { env, timeout: 60_000 }).then(
          (r) => ({ code: 0, out: JSON.parse(r.stdout) as { ok: boolean; code?: string } }),
          (e: { code: number; stdout: string }) => ({ code: e.code, out: JSON.parse(e.stdout) as { ok: boolean; code?: string } }),
        ),
      ),
    );
    const ok = runs.filter((r) => r.code === 0);
    expect(ok.length, JSON.stringify(runs.filter((r) => r.code !== 0 && r.code !== 4))).toBe(3);
    const refused = runs.filter((r) => r.code === 4);
    expect(refused).toHaveLength(17);
    for (const r of refused) expect(r.out.code).toBe('CAP_EXCEEDED');
    const doc = JSON.parse(readFileSync(join(home, 'state', 'ledger.json'), 'utf8'));
    const held = Object.values(doc.entries as Record<string, { state: string; amount: number }>).filter((e) => e.state === 'held');
    expect(held).toHaveLength(3);
    expect(held.reduce((n, e) => n + e.amount, 0)).toBe(9000);
  }, 120_000);
});

describe('budget and spend with the ledger', () => {
  const depsFor = (home: string) =>
    createDeps({ json: true, input: false, verbose: false }, { AGENTPROV_HOME: home, PATH: process.env.PATH }, bufferIO({ columns: 80 }), []);

  it('no payment rail configured: ledger rows only, each saying who bills; budget set lowers the ledger cap at once, a raise wants a signed-in human', async () => {
    const home = tempDir();
    const deps = depsFor(home);
    const ledger = openLedger(deps);
    await ledger.hold(req('a', 1200));
    await ledger.charge('a');

    const show = await budget(deps, ['show'], {});
    expect(show.data).toMatchObject({ global_cap: null, spent: 1200, held: 0, rail: null, ledger: { spent: 1200, held: 0 } });
    expect((show.data as { providers: unknown[] }).providers).toEqual([{ provider: 'cloudflare', cap: 10_000, spent: 1200, held: 0, remaining: 8800, billed_by: 'provider' }]);
    expect(show.human).toContain('no payment rail configured');
    expect(show.human).toMatch(/cloudflare\s+cloudflare\s+100\.00 USD\s+12\.00 USD/);

    const lower = await budget(deps, ['set', 'cloudflare', '50'], {});
    expect(lower.data).toMatchObject({ scope: 'provider', provider: 'cloudflare', cap: 5000, previous_cap: 10_000, billed_by: 'provider' });
    const s = await spend(deps, [], { provider: 'cloudflare' });
    expect((s.data as { providers: unknown[] }).providers).toEqual([{ provider: 'cloudflare', cap: 5000, spent: 1200, held: 0, remaining: 3800, billed_by: 'provider' }]);
    expect(((await spend(deps, [], { provider: 'localcloud' })).data as { providers: unknown[] }).providers).toEqual([]);

    // Raising: no session here, so nobody who could approve it; without an orchestrator the next step is to set one up.
    const e = await refusal(budget(deps, ['set', 'cloudflare', '150'], {}));
    expect(e.code).toBe('NOT_SIGNED_IN');
    expect(e.nextSteps.join(' ')).toContain('agentprov init');
    expect((await row(ledger))?.cap).toBe(5000);
    // the global cap stays the rail's
    expect((await refusal(budget(deps, ['set', '80'], { global: true }))).code).toBe('NOT_SIGNED_IN');
    const audit = readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8');
    expect(audit).toContain('"cap_changed"');
    expect(audit).toContain('"cap_change_refused"');
  });
});
