/**
 * A state directory the file system will not write to (issue 14, part 6a):
 * every command that must write says STATE_NOT_WRITABLE naming the path and
 * the errno, never a lock "held by another agentprov process" (there is
 * none) and never INTERNAL. Against the real sandbox (auto-approve), the
 * built CLI as child processes and the passphrase vault; the directory is
 * made read-only for real: a read-only bind mount as root (where chmod does
 * not stop writes), chmod 0500 otherwise.
 */
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { useSandbox } from '../helpers/sandbox.js';

/** Make `dir` refuse writes; the function that undoes it, or undefined when this machine cannot. */
function readOnly(dir: string): (() => void) | undefined {
  let undo: () => void;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('mount', ['--bind', dir, dir], { stdio: 'ignore' });
    } catch {
      return undefined;
    }
    undo = () => execFileSync('umount', [dir], { stdio: 'ignore' });
    try {
      execFileSync('mount', ['-o', 'remount,ro,bind', dir], { stdio: 'ignore' });
    } catch {
      undo();
      return undefined;
    }
  } else {
    chmodSync(dir, 0o500);
    undo = () => chmodSync(dir, 0o700);
  }
  try {
    writeFileSync(join(dir, '.probe'), '');
    rmSync(join(dir, '.probe'));
    undo(); // it still writes: no test here
    return undefined;
  } catch {
    return undo;
  }
}

describe('a read-only state directory', () => {
  const sb = useSandbox({ autoApprove: true });
  const home = tempDir();
  const cwd = tempDir('agentprov-project-');
  const env = isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1', AGENTPROV_CREDENTIAL_STORE: 'file', AGENTPROV_VAULT_PASSPHRASE: 'correct horse' });
  const state = join(home, 'state');
  const cli = (args: string[]): Promise<CliResult> => runCli(args, { env, cwd, timeoutMs: 60_000 });
  let undo: (() => void) | undefined;

  beforeAll(async () => {
    writeFileSync(join(cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
    const init = await cli(['init', '--orchestrator', sb.current.orchestrator, '--json']);
    expect(init.code, init.stdout + init.stderr).toBe(3);
    const login = await cli(['login', '--complete', '--wait', '15', '--json']);
    expect(login.code, login.stdout + login.stderr).toBe(0);
    const add = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--accept-tos', '--json']);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    undo = readOnly(state);
  }, 120_000);
  afterAll(() => undo?.());

  const expectNotWritable = (r: CliResult, errnos: string[]): void => {
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const e = r.json().error;
    expect(e.code).toBe('STATE_NOT_WRITABLE');
    expect(e.message).toContain(state);
    expect(e.message).not.toMatch(/another agentprov process|unexpected failure/);
    expect(errnos).toContain(e.details.errno);
    expect(e.details.path.startsWith(state)).toBe(true);
    expect(r.json().next_steps.join(' ')).toMatch(/writable.*AGENTPROV_HOME/);
  };

  it('add: STATE_NOT_WRITABLE naming the state path and the errno, not INTERNAL', async (ctx) => {
    if (!undo) ctx.skip();
    const r = await cli(['add', 'localcloud/kv:namespace', '--name', 'second', '--accept-tos', '--json']);
    expectNotWritable(r, ['EROFS', 'EACCES']);
    // Nothing was sent: the provider has only the first resource.
    expect(
      sb.current
        .provider('localcloud')
        .resources()
        .filter((x) => x.status !== 'deleted')
        .map((x) => x.name),
    ).toEqual(['cache']);
  });

  it('token: STATE_NOT_WRITABLE at once, not a lock held "too long" by a process that does not exist', async (ctx) => {
    if (!undo) ctx.skip();
    const t0 = Date.now();
    const r = await cli(['token', 'localcloud', '--json']);
    expectNotWritable(r, ['EROFS', 'EACCES']);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('a file where the journal directory goes (this one runs everywhere, also where nothing can be made read-only): add says STATE_NOT_WRITABLE', async () => {
    undo?.();
    undo = undefined;
    const journal = join(state, 'journal');
    renameSync(journal, `${journal}.saved`);
    writeFileSync(journal, 'in the way');
    try {
      const r = await cli(['add', 'localcloud/kv:namespace', '--name', 'third', '--accept-tos', '--json']);
      expectNotWritable(r, ['EEXIST', 'ENOTDIR']);
      expect(r.json().error.details.path.startsWith(journal)).toBe(true);
    } finally {
      rmSync(journal);
      renameSync(`${journal}.saved`, journal);
    }
  });
});
