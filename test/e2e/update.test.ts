/**
 * `agentprov update` (issue 21) against the sandbox in this process, the
 * bundled CLI as child processes driven the way an agent runs it (`--json
 * --no-input`), the real Secret Service for the vault:
 *
 * - localcloud's KV plans: a free namespace refuses its 101st key; after an
 *   update to the paid Pro plan (one charge at the rail, the manifest
 *   records the plan) it takes it; a downgrade that the data does not fit is
 *   refused, one that fits refunds nothing and says so, and the limit is
 *   back; `up` replays the recorded plan;
 * - an update its service's `allowed_updates` does not name: exit 2;
 * - a paid update over the cap: exit 4, nothing changed at the provider, the
 *   rail or in the manifest;
 * - updates killed (SIGKILL) at a random moment and re-run: one change and
 *   one charge each;
 * - APP: `update_service` within `allowed_updates` at appcloud, a paid plan
 *   refused with PAYMENT_METHOD_REQUIRED before anything is sent.
 *
 * AGENTPROV_UPDATE_CRASH_RUNS sets the kill -9 rounds (default 4).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PAYMENT_TOKEN_PREFIX } from '../../src/wire/rail.js';
import { expectNoSecretLeaks, vaultSecrets } from '../helpers/canary.js';
import { BIN, filesUnder, isolatedEnv, runCli, runCliKilledAtRandom, tempDir, type CliResult } from '../helpers/cli.js';
import { requireSecretService } from '../helpers/keyring.js';
import { useSandbox } from '../helpers/sandbox.js';

const haveKeyring = requireSecretService();
const CRASH_RUNS = Number(process.env.AGENTPROV_UPDATE_CRASH_RUNS ?? 4);
const outputs: CliResult[] = [];
const h = { home: tempDir(), cwd: tempDir('agentprov-project-'), env: {} as NodeJS.ProcessEnv };
h.env = isolatedEnv(h.home, { AGENTPROV_NO_BROWSER: '1' });
const dirs = [h.home, h.cwd];

async function cli(args: string[], cwd = h.cwd): Promise<CliResult> {
  const dash = args.indexOf('--');
  const full = dash < 0 ? [...args, '--json', '--no-input'] : [...args.slice(0, dash), '--json', '--no-input', ...args.slice(dash)];
  const r = await runCli(full, { env: h.env, cwd, timeoutMs: 120_000 });
  outputs.push(r);
  return r;
}

type ManifestEntry = { name: string; provider: string; service: string; id?: string; status?: string; config: Record<string, unknown>; charge?: { amount: number } };
const manifest = (cwd = h.cwd): { resources: ManifestEntry[] } => JSON.parse(readFileSync(join(cwd, 'agentprov.json'), 'utf8'));
const entry = (name: string): ManifestEntry => manifest().resources.find((r) => r.name === name)!;

/** PUT keys k<from>..k<to-1> into the resource's namespace through `agentprov run`; the HTTP status of each. */
async function putKeys(resource: string, from: number, to: number): Promise<number[]> {
  const script = `(async () => {
    const u = process.env.LOCALCLOUD_KV_URL, t = process.env.LOCALCLOUD_TOKEN, codes = [];
    for (let i = ${from}; i < ${to}; i++) codes.push((await fetch(u + '/keys/k' + i, { method: 'PUT', headers: { authorization: 'Bearer ' + t }, body: 'v' })).status);
    console.log('codes=' + JSON.stringify(codes));
  })();`;
  const r = await runCli(['run', '--resource', resource, '--no-input', '--', process.execPath, '-e', script], { env: h.env, cwd: h.cwd, timeoutMs: 120_000 });
  outputs.push(r);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return JSON.parse(/codes=(\[.*\])/.exec(r.stdout)![1]!);
}

/** Run the CLI on a pseudo-terminal (util-linux `script`), answering its one yes/no question with `answer`. */
function onTerminal(args: string[], answer: 'y' | 'n'): Promise<{ code: number | null; out: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', quoted, '/dev/null'], { env: { ...h.env, CI: undefined, TERM: 'dumb' } as NodeJS.ProcessEnv, cwd: h.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let answered = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const onData = (d: Buffer): void => {
      out += d.toString('utf8');
      if (!answered && out.includes('Pay it?')) {
        answered = true;
        child.stdin.write(`${answer}\r`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => {
      clearTimeout(timer);
      outputs.push({ code, signal: null, stdout: out, stderr: '', json: () => undefined });
      resolve({ code, out });
    });
  });
}

describe.skipIf(!haveKeyring)('agentprov update: plan and config changes against the sandbox', () => {
  const sb = useSandbox({ autoApprove: true });
  const localcloud = () => sb.current.provider('localcloud');
  const atProvider = (id: string) => localcloud().resources().find((r) => r.id === id)!;
  const redemptions = () => sb.current.rail.ledger().redemptions.filter((r) => r.provider === 'localcloud');

  afterAll(async () => {
    const secrets = await vaultSecrets(h.env, h.home);
    expect(secrets.length).toBeGreaterThan(0);
    expectNoSecretLeaks(secrets, outputs, dirs);
    // Payment tokens never reach the vault, so their shape is the canary.
    const paymentToken = new RegExp(`${PAYMENT_TOKEN_PREFIX}[A-Za-z0-9_-]{16,}`);
    const texts = [...outputs.map((o) => o.stdout + o.stderr), ...dirs.flatMap((d) => filesUnder(d, (p) => p.endsWith('vault.json.enc')).map((f) => f.content))];
    for (const t of texts) expect(paymentToken.test(t)).toBe(false);
  });

  it('free → paid under the cap: the key limit the provider enforces changes, one charge, the manifest records the plan', async () => {
    writeFileSync(join(h.cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
    expect((await cli(['init', '--orchestrator', sb.current.orchestrator])).code).toBe(3);
    expect((await cli(['login', '--complete', '--wait', '15'])).code).toBe(0);
    // Where a service may move is in its catalog entry.
    const listed = await cli(['catalog', 'localcloud/kv:namespace']);
    expect(listed.json().data.service.allowed_updates).toEqual(['kv:pro', 'kv:scale']);
    const add = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--accept-tos']);
    expect(add.code, add.stdout).toBe(0);
    const id = entry('cache').id!;

    // The free plan: 100 keys, the 101st refused.
    const free = await putKeys('cache', 0, 101);
    expect(free.slice(0, 100).every((c) => c === 200)).toBe(true);
    expect(free[100]).toBe(409);

    // An agent without the human's yes: exit 3 with the price, nothing sent.
    const ask = await cli(['update', 'cache', '--service', 'kv:pro']);
    expect(ask.code, ask.stdout).toBe(3);
    expect(ask.json().error).toMatchObject({ code: 'PAID_CONFIRMATION_REQUIRED', details: { amount: 900, service: 'kv:pro' } });
    expect(ask.json().next_steps[0]).toContain('--confirm-paid-service');
    expect(atProvider(id).service).toBe('kv:namespace');

    const up = await cli(['update', 'cache', '--service', 'kv:pro', '--yes']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.json().data).toMatchObject({ name: 'cache', id, from: { service: 'kv:namespace' }, service: 'kv:pro', changed: true, charge: { amount: 900, currency: 'USD', interval: 'month' } });
    expect(atProvider(id).service).toBe('kv:pro');
    expect(redemptions().filter((r) => r.reference === id)).toMatchObject([{ amount: 900, service: 'kv:pro' }]);
    expect(entry('cache')).toMatchObject({ service: 'kv:pro', charge: { amount: 900 } });
    // The Pro plan's limit is the provider's: the 101st key goes in now.
    expect(await putKeys('cache', 100, 102)).toEqual([200, 200]);

    // The same update again: nothing sent, nothing charged.
    const again = await cli(['update', 'cache', '--service', 'kv:pro', '--yes']);
    expect(again.code).toBe(0);
    expect(again.json().data.changed).toBe(false);
    expect(redemptions().filter((r) => r.reference === id)).toHaveLength(1);
  }, 240_000);

  it('an update its service does not allow: exit 2 UPDATE_NOT_ALLOWED naming the allowed targets, nothing changed', async () => {
    const r = await cli(['update', 'cache', '--service', 'workers:script', '--config', '{"name":"x"}']);
    expect(r.code, r.stdout).toBe(2);
    expect(r.json().error.code).toBe('UPDATE_NOT_ALLOWED');
    expect(r.json().error.details.allowed_updates).toEqual(['kv:namespace', 'kv:scale']);
    expect(r.json().error.message).toContain('kv:namespace, kv:scale');
    expect(entry('cache').service).toBe('kv:pro');
    const cfg = await cli(['update', 'cache', '--config', '{"size":"big"}']);
    expect(cfg.code, cfg.stdout).toBe(2); // kv:pro does not list itself: no config change in place
    expect(cfg.json().error.code).toBe('UPDATE_NOT_ALLOWED');
  });

  it('a downgrade the data does not fit is refused; one that fits refunds nothing and says so, and the free limit is back', async () => {
    const id = entry('cache').id!;
    const refused = await cli(['update', 'cache', '--service', 'kv:namespace']);
    expect(refused.code, refused.stdout).toBe(5);
    expect(refused.json().error.details.provider_code).toBe('QUOTA_EXCEEDED');
    expect(atProvider(id).service).toBe('kv:pro');
    expect(entry('cache').service).toBe('kv:pro');

    // Down to 100 keys, then the move fits.
    const drop = `(async () => { for (const k of ['k100', 'k101']) await fetch(process.env.LOCALCLOUD_KV_URL + '/keys/' + k, { method: 'DELETE', headers: { authorization: 'Bearer ' + process.env.LOCALCLOUD_TOKEN } }); })();`;
    expect((await cli(['run', '--resource', 'cache', '--', process.execPath, '-e', drop])).code).toBe(0);
    const before = redemptions().length;
    const down = await cli(['update', 'cache', '--service', 'kv:namespace']);
    expect(down.code, down.stdout).toBe(0);
    expect(down.json().data).toMatchObject({ service: 'kv:namespace', changed: true, refund: null });
    expect(down.json().data.charge).toBeUndefined();
    expect(down.json().warnings.join('\n')).toMatch(/refunds nothing/);
    expect(redemptions()).toHaveLength(before);
    expect(entry('cache').service).toBe('kv:namespace');
    expect(entry('cache').charge).toBeUndefined();
    expect(await putKeys('cache', 200, 201)).toEqual([409]);
  }, 120_000);

  it(`${CRASH_RUNS} paid updates killed (SIGKILL) at a random moment and re-run: one change and one charge each`, async () => {
    for (let i = 0; i < CRASH_RUNS; i++) {
      const name = `crash-${i}`;
      expect((await cli(['add', 'localcloud/kv:namespace', '--name', name])).code).toBe(0);
      const id = entry(name).id!;
      const args = ['update', name, '--service', 'kv:pro', '--yes', '--json', '--no-input'];
      await runCliKilledAtRandom(args, { env: h.env, cwd: h.cwd }, 2500);
      const again = await cli(args.slice(0, -2));
      expect(again.code, `${name}: ${again.stdout}${again.stderr}`).toBe(0);
      expect(atProvider(id).service).toBe('kv:pro');
      expect(redemptions().filter((r) => r.reference === id), name).toHaveLength(1);
      expect(entry(name)).toMatchObject({ service: 'kv:pro', charge: { amount: 900 } });
      // A third run changes and charges nothing more.
      expect((await cli(args.slice(0, -2))).json().data.changed).toBe(false);
      expect(redemptions().filter((r) => r.reference === id)).toHaveLength(1);
    }
    // One token minted per update, never two.
    const tokens = sb.current.rail.ledger().tokens.filter((t) => t.provider === 'localcloud' && t.service === 'kv:pro');
    expect(tokens).toHaveLength(redemptions().filter((r) => r.service === 'kv:pro').length);
  }, 600_000);

  it('killed after the provider made the change but before the manifest heard of it: the re-run replays the key, one change, one charge', async () => {
    expect((await cli(['add', 'localcloud/kv:namespace', '--name', 'window'])).code).toBe(0);
    const id = entry('window').id!;
    // The provider applies the update, then trickles its answer: the CLI is killed while it waits for it.
    localcloud().setFaults({ slowBodyBytesPerSec: 40, paths: /\/update$/ });
    const child = spawn(process.execPath, [BIN, 'update', 'window', '--service', 'kv:pro', '--yes', '--json', '--no-input'], { env: h.env, cwd: h.cwd, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('close', r));
    for (let i = 0; i < 300 && atProvider(id).service !== 'kv:pro'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(atProvider(id).service).toBe('kv:pro');
    child.kill('SIGKILL');
    await exited;
    localcloud().setFaults({});
    expect(entry('window').service).toBe('kv:namespace'); // the manifest never heard of it
    const again = await cli(['update', 'window', '--service', 'kv:pro', '--yes']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.json().data).toMatchObject({ changed: true, resumed: true, service: 'kv:pro', charge: { amount: 900 } });
    expect(redemptions().filter((r) => r.reference === id)).toHaveLength(1);
    expect(entry('window')).toMatchObject({ service: 'kv:pro', charge: { amount: 900 } });
  }, 120_000);

  it('`up` replays the recorded plan in a fresh project', async () => {
    const fresh = tempDir('agentprov-project-');
    dirs.push(fresh);
    const { id: _id, status: _status, charge: _charge, created_at: _c, ...planned } = manifest().resources.find((r) => r.name === 'crash-0')! as ManifestEntry & { created_at?: string };
    writeFileSync(join(fresh, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [planned] }));
    const r = await cli(['up', '--confirm-paid-service'], fresh);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const replayed = manifest(fresh).resources[0]!;
    expect(replayed).toMatchObject({ service: 'kv:pro', status: 'active' });
    expect(atProvider(replayed.id!).service).toBe('kv:pro');
  }, 120_000);

  it('a human at a terminal is asked to pay: no changes nothing, yes moves the plan and charges once', async () => {
    const id = entry('cache').id!;
    const before = redemptions().filter((r) => r.reference === id).length;
    const no = await onTerminal(['update', 'cache', '--service', 'kv:pro'], 'n');
    expect(no.out).toMatch(/kv:pro costs 9\.00 USD\/month.*Pay it\?/s);
    expect(no.code, no.out).toBe(3);
    expect(no.out).toMatch(/not confirmed: localcloud\/kv:pro was not bought/);
    expect(atProvider(id).service).toBe('kv:namespace');
    const yes = await onTerminal(['update', 'cache', '--service', 'kv:pro'], 'y');
    expect(yes.code, yes.out).toBe(0);
    expect(yes.out).toMatch(/updated: cache localcloud\/kv:namespace → kv:pro/);
    expect(yes.out).toMatch(/charged: 9\.00 USD\/month/);
    expect(atProvider(id).service).toBe('kv:pro');
    expect(redemptions().filter((r) => r.reference === id)).toHaveLength(before + 1);
  }, 120_000);

  it('paid → over the cap: exit 4, nothing changed at the provider, the rail or in the manifest', async () => {
    const spent = redemptions().reduce((n, r) => n + r.amount, 0);
    const cap = ((spent + 100) / 100).toFixed(2); // below spent + 49.00
    expect((await cli(['budget', 'set', 'localcloud', cap])).code).toBe(0);
    const id = entry('crash-0').id!;
    const tokens = sb.current.rail.ledger().tokens.length;
    const before = readFileSync(join(h.cwd, 'agentprov.json'), 'utf8');
    const r = await cli(['update', 'crash-0', '--service', 'kv:scale', '--yes']);
    expect(r.code, r.stdout).toBe(4);
    expect(r.json().error.code).toBe('CAP_EXCEEDED');
    expect(atProvider(id).service).toBe('kv:pro');
    expect(redemptions().reduce((n, x) => n + x.amount, 0)).toBe(spent);
    expect(sb.current.rail.ledger().tokens).toHaveLength(tokens);
    expect(readFileSync(join(h.cwd, 'agentprov.json'), 'utf8')).toBe(before);
    // --max-price below the price is refused the same way, before anything is asked.
    const limit = await cli(['update', 'crash-0', '--service', 'kv:scale', '--yes', '--max-price', '10.00']);
    expect(limit.code).toBe(4);
    expect(limit.json().error.code).toBe('PRICE_ABOVE_LIMIT');
  }, 120_000);

  it('APP update_service within allowed_updates at appcloud; a paid plan needs the provider’s payment method', async () => {
    expect((await cli(['providers', 'add', sb.current.app.url, '--protocol', 'app', '--id', 'appcloud'])).code).toBe(0);
    expect((await cli(['add', 'appcloud/app:analytics', '--name', 'web', '--accept-tos'])).code).toBe(0);
    const id = entry('web').id!;
    const state = () => sb.current.app.state.data.resources[id]!;

    const paid = await cli(['update', 'web', '--service', 'app:analytics-scale', '--yes']);
    expect(paid.code, paid.stdout).toBe(3);
    expect(paid.json().error.code).toBe('PAYMENT_METHOD_REQUIRED');
    expect(state().service_id).toBe('analytics');

    const eu = await cli(['update', 'web', '--service', 'app:analytics-eu']);
    expect(eu.code, eu.stdout + eu.stderr).toBe(0);
    expect(eu.json().data).toMatchObject({ service: 'app:analytics-eu', changed: true });
    expect(state().service_id).toBe('analytics-eu');
    expect(entry('web').service).toBe('app:analytics-eu');
    // Its keys still work, now for the new plan.
    const script = `(async () => { const r = await fetch(process.env.APPCLOUD_HOST + '/api/whoami', { headers: { authorization: 'Bearer ' + process.env.APPCLOUD_API_KEY } }); console.log('plan=' + (await r.json()).service_id); })();`;
    const ran = await cli(['run', '--resource', 'web', '--', process.execPath, '-e', script]);
    expect(ran.code, ran.stdout).toBe(0);
    expect(ran.stdout + ran.stderr).toContain('plan=analytics-eu');

    const no = await cli(['update', 'web', '--service', 'app:analytics-scale']);
    expect(no.code).toBe(2);
    expect(no.json().error).toMatchObject({ code: 'UPDATE_NOT_ALLOWED', details: { allowed_updates: ['app:analytics'] } });
  }, 180_000);
});
