/**
 * The single executable (scripts/build-sea.mjs): built once, copied alone
 * into an empty directory with no node_modules above it, and run from there
 * with a minimal environment. The keychain case proves the native binding
 * travels inside the executable (SEA asset → temp file → process.dlopen).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { inCI, noSecretServiceError, SECRET_SERVICE_HELP, secretServiceAvailable, secretServiceMissing } from '../helpers/keyring.js';

const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const run = promisify(execFile);
const skipKeychain = !secretServiceAvailable && !inCI;
if (skipKeychain) console.warn(`[skip] no Secret Service (${secretServiceMissing()}): the SEA keychain round trip is skipped on this machine. To run it, ${SECRET_SERVICE_HELP}.`);

const temps: string[] = [];
const temp = (prefix: string): string => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `agentprov-sea-${prefix}-`)));
  temps.push(dir);
  return dir;
};

let exe: string;
let buildDir: string;

/** Run the executable from its own directory, with only the variables it needs. */
function runExe(args: string[], env: Record<string, string | undefined> = {}) {
  const base: Record<string, string> = { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), NO_COLOR: '1' };
  const r = spawnSync(exe, args, { cwd: dirname(exe), env: { ...base, ...env } as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { ...r, json: () => JSON.parse(r.stdout) };
}

describe('single executable (SEA)', () => {
  beforeAll(async () => {
    // Only the SEA step, into a private directory: `npm run build:sea` would
    // re-run tsup, whose clean step races with other tests using dist/.
    const out = (buildDir = temp('build'));
    await run(process.execPath, ['scripts/build-sea.mjs', '--out', out], { cwd: ROOT, maxBuffer: 16 << 20 });
    const dir = temp('bin');
    for (let d = dir; d !== dirname(d); d = dirname(d)) {
      if (existsSync(join(d, 'node_modules'))) throw new Error(`${d} has a node_modules: the standalone check would be meaningless`);
    }
    exe = join(dir, 'agentprov');
    copyFileSync(join(out, 'agentprov'), exe);
    expect(readdirSync(dir)).toEqual(['agentprov']);
  }, 180_000);
  afterAll(() => {
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  it('prints the package version', () => {
    const r = runExe(['--version']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('opens a passphrase-file vault', () => {
    const home = temp('home');
    const r = runExe(['vault', 'status', '--json'], {
      AGENTPROV_HOME: home,
      AGENTPROV_CREDENTIAL_STORE: 'file',
      AGENTPROV_VAULT_PASSPHRASE: 'sea-test-passphrase',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({ ok: true, data: { store: 'file', probe: 'ok' } });
  });

  it('extracts the native binding into a private directory and reuses it', () => {
    // Without a session bus the binding itself must load and then report the
    // missing D-Bus, rather than fail to load (reason "binding_missing").
    const tmp = temp('tmp');
    for (let i = 0; i < 2; i++) {
      const r = runExe(['vault', 'status', '--json'], { AGENTPROV_HOME: temp('home'), TMPDIR: tmp });
      const out = r.json();
      expect(out.error?.details?.reason, r.stdout).not.toBe('binding_missing');
    }
    const dirs = readdirSync(tmp);
    expect(dirs).toEqual([expect.stringMatching(/^agentprov-native-/)]);
    const dir = dirs[0]!;
    expect(statSync(join(tmp, dir)).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(tmp, dir))).toEqual([expect.stringMatching(/^keyring-[0-9a-f]{32}\.node$/)]);
  });

  it('keeps its main script small: the program and the sandbox are assets, and the code cache of the program is taken', () => {
    // Start-up grows with the main script Node compiles: it only answers --version and compiles the asset "program".
    expect(statSync(join(buildDir, 'main.cjs')).size).toBeLessThan(16 * 1024);
    const program = readFileSync(join(buildDir, 'program.cjs'), 'utf8');
    expect(program).toContain('NOT_SIGNED_IN');
    expect(program).not.toContain('oidc-provider');
    const r = runExe(['--help'], { AGENTPROV_DEBUG: '1' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Usage: agentprov');
    expect(r.stderr).not.toContain('code cache was refused');
  });

  it('starts the sandbox from its own asset (not in the program) and serves its catalog', async () => {
    const child = spawn(exe, ['sandbox', '--json', '--auto-approve', '--data-dir', temp('sandbox')], {
      cwd: dirname(exe),
      env: { PATH: '/usr/bin:/bin', HOME: temp('home'), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
        createInterface({ input: child.stdout! }).once('line', resolve);
      });
      const ready = JSON.parse(line) as { ok: boolean; data: { providers: { id: string; url: string }[] } };
      expect(ready.ok).toBe(true);
      const localcloud = ready.data.providers.find((p) => p.id === 'localcloud');
      expect(localcloud).toBeDefined();
      const res = await fetch(`${localcloud!.url}/catalog`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { services: unknown[] }).services.length).toBeGreaterThan(0);
    } finally {
      child.kill('SIGINT');
    }
  }, 60_000);

  it.skipIf(skipKeychain)('round-trips the vault through the OS keychain (native binding from the asset)', () => {
    if (!secretServiceAvailable) throw noSecretServiceError(secretServiceMissing() ?? 'none reachable');
    const home = temp('home');
    const env = { AGENTPROV_HOME: home, TMPDIR: temp('tmp'), DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS };
    const first = runExe(['vault', 'status', '--json'], env);
    expect(first.status, first.stdout + first.stderr).toBe(0);
    expect(first.json()).toMatchObject({ ok: true, data: { store: 'keychain', probe: 'ok' } });
    expect(first.json().data.key).toContain('Secret Service');
    const again = runExe(['vault', 'status', '--json'], env);
    expect(again.json()).toMatchObject({ ok: true, data: { store: 'keychain', probe: 'ok' } });
  });
});
