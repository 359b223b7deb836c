/**
 * APP 0.1d under crashes and concurrency (issue 17), the bundled CLI against
 * the sandbox's `appcloud` with the real Secret Service: adds killed with
 * SIGKILL at random moments and re-run leave exactly one resource per
 * intended add.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, isolatedEnv, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { expectNoSecretLeaks, vaultSecrets } from '../helpers/canary.js';
import { requireSecretService } from '../helpers/keyring.js';
import { useSandbox } from '../helpers/sandbox.js';

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

describe.skipIf(!haveKeyring)('APP 0.1d provider (sandbox appcloud): crashes', () => {
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
      await new Promise<void>((resolve) => {
        const child = spawn(process.execPath, [BIN, ...args], { env: h.env, cwd: h.cwd, stdio: 'ignore' });
        const timer = setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 1500));
        child.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
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
});
