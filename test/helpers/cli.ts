/** Run the built CLI as a real child process, the way an agent would. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'agentprov.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  json(): any;
}

/** A throwaway AGENTPROV_HOME, its environment, and the project directory commands run in. */
export interface ProjectHome {
  home: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function tempDir(prefix = 'agentprov-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Environment for an isolated CLI run: its own AGENTPROV_HOME, no CI prompts. */
export function isolatedEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AGENTPROV_CREDENTIAL_STORE;
  delete env.AGENTPROV_VAULT_PASSPHRASE;
  Object.assign(env, { AGENTPROV_HOME: home, NO_COLOR: '1' }, extra);
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

export function runCli(args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: opts.env, cwd: opts.cwd ?? tempDir('agentprov-cwd-'), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout,
        stderr,
        json() {
          return JSON.parse(stdout);
        },
      });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Every file under `dir` (recursively) except those `skip` accepts, with its content. */
export function filesUnder(dir: string, skip: (path: string) => boolean = () => false): Array<{ path: string; content: string }> {
  const out: Array<{ path: string; content: string }> = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (!skip(p)) out.push({ path: p, content: readFileSync(p, 'latin1') });
    }
  };
  walk(dir);
  return out;
}

/** Start the CLI and kill it with SIGKILL at a random moment within `withinMs` (or let it finish first): a crash at any step. */
export function runCliKilledAtRandom(args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string }, withinMs = 1500): Promise<void> {
  return new Promise<void>((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: opts.env, cwd: opts.cwd, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * withinMs));
    child.on('close', () => {
      clearTimeout(timer);
      done();
    });
  });
}
