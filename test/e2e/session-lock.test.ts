/**
 * The session lock when a clock jumps (issue 14, part 7): one process holds
 * the lock in the middle of a refresh (the identity provider has rotated
 * the refresh token; the new one is not written yet) while another, whose
 * wall clock jumped an hour ahead, needs a refresh too. Judged by the wall
 * clock, the lock looked an hour old: the second process took it over, read
 * the old refresh token and presented it again, and the identity provider
 * (oidc-provider treats a replay as theft) revoked the whole grant. Against
 * the real sandbox, the built CLI and real child processes; the clock jump
 * is a `--import` preload that moves Date.now only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVault } from '../../src/vault/vault.js';
import { bundleFixture } from '../helpers/bundle.js';
import { BIN, isolatedEnv, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { useSandbox } from '../helpers/sandbox.js';
import { expireSessionAccessToken } from '../helpers/stored-session.js';

const CLOCK_AHEAD = join(import.meta.dirname, '..', 'fixtures', 'clock-ahead.mjs');

describe('the session lock, while a waiting process\'s clock jumps an hour ahead', () => {
  const sb = useSandbox({ autoApprove: true });
  const home = tempDir();
  const cwd = tempDir('agentprov-project-');
  const env = isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1', AGENTPROV_CREDENTIAL_STORE: 'file', AGENTPROV_VAULT_PASSPHRASE: 'correct horse' });
  const children: ChildProcess[] = [];
  let refresher: string;

  beforeAll(async () => {
    refresher = await bundleFixture('test/fixtures/session-refresher.ts');
    const init = await runCli(['init', '--orchestrator', sb.current.orchestrator, '--json'], { env, cwd });
    expect(init.code, init.stdout + init.stderr).toBe(3);
    const login = await runCli(['login', '--complete', '--wait', '15', '--json'], { env, cwd });
    expect(login.code, login.stdout + login.stderr).toBe(0);
  }, 120_000);
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
  });

  /** Make the stored access token expired (so the next command refreshes); the refresh token it has now. */
  const expire = async (): Promise<string> => {
    return expireSessionAccessToken(await openVault({ env, stateDir: join(home, 'state') }));
  };

  const start = (args: string[], extraEnv: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore' = 'ignore') => {
    const child = spawn(process.execPath, args, { env: { ...env, ...extraEnv }, cwd, stdio: [stdin, 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, json: () => JSON.parse(stdout) })));
    return { child, done };
  };

  it('a refresh in progress is never replayed: the waiter waits for the rotated token, and the grant stays valid', async () => {
    const before = await expire();
    const a = start([refresher], {}, 'pipe');
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: a.child.stdout! }).once('line', (line) => (line === 'refreshed' ? resolve() : reject(new Error(line))));
      void a.done.then((r) => reject(new Error(`the refresher exited ${r.code}: ${r.stderr}`)));
    });
    // A holds the session lock with the refresh token rotated at the identity provider and not yet written.
    const b = start([BIN, 'whoami', '--refresh', '--json'], { NODE_OPTIONS: `--import=${CLOCK_AHEAD}` });
    let bEnded = false;
    void b.done.then(() => (bEnded = true));
    // Under a wall-clock stale check B takes the lock at once (it looks an hour old) and replays the old token.
    await new Promise((r) => setTimeout(r, 3000));
    expect(bEnded, 'the process whose clock jumped must still be waiting for the lock').toBe(false);
    const record = JSON.parse(readFileSync(join(home, 'state', 'session.lock', 'owner.json'), 'utf8'));
    expect(record.pid).toBe(a.child.pid);

    a.child.stdin!.end();
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(ra.stdout).toContain('written');
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    // B found A's fresh session after the lock: it sent nothing, least of all the old refresh token.
    expect(rb.json().data.refreshed).toBe(false);

    const vault = await openVault({ env, stateDir: join(home, 'state') });
    const session = (await vault.get('session')) as { refresh_token: string };
    expect(session.refresh_token).not.toBe(before);
    // The grant is alive: a replay would have made the identity provider revoke it, and this refresh would fail.
    await expire();
    const again = await runCli(['whoami', '--refresh', '--json'], { env, cwd });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.json().data.refreshed).toBe(true);
  }, 60_000);
});
