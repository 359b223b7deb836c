/**
 * APP 0.1d under crashes and concurrency (issue 17), the bundled CLI against
 * the sandbox's `appcloud` with the real Secret Service: adds killed with
 * SIGKILL at random moments and re-run leave exactly one resource per
 * intended add; 20 concurrent commands that all find the access token
 * expired refresh it once, never presenting a rotated refresh token twice
 * (the sandbox kills the grant on a replay).
 */
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { hash } from '../../src/sandbox/app/state.js';
import { isolatedEnv, runCli, runCliKilledAtRandom, tempDir, type CliResult } from '../helpers/cli.js';
import { expectNoSecretLeaks, vaultSecrets } from '../helpers/canary.js';
import { requireSecretService } from '../helpers/keyring.js';
import { useSandbox } from '../helpers/sandbox.js';
import { depsFor, expireAppAccessToken } from '../helpers/stored-session.js';

const haveKeyring = requireSecretService();
const CRASH_RUNS = Number(process.env.AGENTPROV_CRASH_RUNS ?? 10);
const outputs: CliResult[] = [];
const h = { home: tempDir(), cwd: tempDir('agentprov-project-'), env: {} as NodeJS.ProcessEnv };
h.env = isolatedEnv(h.home, { AGENTPROV_NO_BROWSER: '1' });

async function cli(args: string[]): Promise<CliResult> {
  const dash = args.indexOf('--');
  const full = dash < 0 ? [...args, '--json', '--no-input'] : [...args.slice(0, dash), '--json', '--no-input', ...args.slice(dash)];
  const r = await runCli(full, { env: h.env, cwd: h.cwd, timeoutMs: 120_000 });
  outputs.push(r);
  return r;
}

const manifest = (): { resources: Array<{ name: string; id?: string; status?: string }> } => JSON.parse(readFileSync(join(h.cwd, 'agentprov.json'), 'utf8'));

describe.skipIf(!haveKeyring)('APP 0.1d provider (sandbox appcloud): crashes and concurrent refreshes', () => {
  const sb = useSandbox({ autoApprove: true });

  afterAll(async () => {
    const secrets = await vaultSecrets(h.env, h.home, (key, entry) => entry.startsWith('app-') && /token|api_key/.test(key));
    expect(secrets.length).toBeGreaterThan(0);
    expectNoSecretLeaks(secrets, outputs, [h.home, h.cwd]);
  });

  it(`${CRASH_RUNS} adds killed (SIGKILL) at a random moment and re-run: exactly one resource per intended add`, async () => {
    writeFileSync(join(h.cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
    expect((await cli(['init', '--orchestrator', sb.current.orchestrator])).code).toBe(3);
    expect((await cli(['login', '--complete', '--wait', '15'])).code).toBe(0);
    expect((await cli(['providers', 'add', sb.current.app.url, '--protocol', 'app', '--id', 'appcloud'])).code).toBe(0);
    const names: string[] = [];
    for (let i = 0; i < CRASH_RUNS; i++) {
      const name = `crash-${i}`;
      names.push(name);
      const args = ['add', 'appcloud/app:analytics', '--name', name, '--accept-tos', '--json', '--no-input'];
      // The first round may die inside the account request or the code exchange: its re-run presents the same request.
      await runCliKilledAtRandom(args, { env: h.env, cwd: h.cwd });
      const again = await cli(args.slice(0, -2));
      expect(again.code, `${name}: ${again.stdout}${again.stderr}`).toBe(0);
    }
    const data = sb.current.app.state.data;
    expect(Object.keys(data.accounts)).toHaveLength(1);
    const live = Object.values(data.resources).filter((r) => !r.removed);
    expect(live).toHaveLength(names.length);
    const m = manifest();
    for (const name of names) {
      const entries = m.resources.filter((r) => r.name === name);
      expect(entries, name).toHaveLength(1);
      expect(live.filter((r) => r.id === entries[0]!.id), name).toHaveLength(1);
    }
  }, 900_000);

  it('20 concurrent commands that each need a refresh: one refresh, no replayed refresh token, the grant still works', async () => {
    const m = manifest();
    expect(m.resources.length).toBeGreaterThan(0);
    const resource = m.resources[0]!.name;
    const vault = await depsFor(h).vault();
    const before = await expireAppAccessToken(vault, 'appcloud');
    const refresh = () => sb.current.app.state.data.refresh;
    expect(refresh()[hash(before)]?.used).toBe(false);

    const script = 'process.exit(process.env.APPCLOUD_API_KEY ? 0 : 7)';
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? cli(['list']) : cli(['run', '--resource', resource, '--', process.execPath, '-e', script]))),
    );
    for (const r of runs) expect(r.code, r.stdout + r.stderr).toBe(0);
    // The refreshed grant works: the lists that reached the provider in time saw every resource (one that waited out its deadline on a loaded machine says so in a warning instead).
    const lists = runs.filter((_, i) => i % 2).map((r) => r.json().data.resources as Array<{ refreshed: boolean }>);
    expect(lists.some((l) => l.every((v) => v.refreshed))).toBe(true);

    // The old refresh token was used once; the one the vault holds now is unused (a replay would have burnt every token of the grant).
    const after = await expireAppAccessToken(vault, 'appcloud');
    expect(after).not.toBe(before);
    expect(refresh()[hash(before)]?.used).toBe(true);
    expect(refresh()[hash(after)]?.used).toBe(false);
    const issued = Object.values(refresh()).filter((r) => r.used).length;
    // And the grant still works: one more refresh, then a call with the new access token.
    const last = await cli(['list']);
    expect(last.code, last.stdout).toBe(0);
    expect(last.json().data.resources.every((v: { refreshed: boolean }) => v.refreshed)).toBe(true);
    expect(Object.values(refresh()).filter((r) => r.used).length).toBe(issued + 1);
  }, 300_000);
});
