import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, filesUnder, isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { bundleFixture } from '../helpers/bundle.js';
import { requireSecretService } from '../helpers/keyring.js';

const run = promisify(execFile);
const haveKeyring = requireSecretService();
const CANARY = `canary-${Math.random().toString(36).slice(2)}-secret-value`;

async function writeSecret(writer: string, env: NodeJS.ProcessEnv, name: string, value: string): Promise<void> {
  await run(process.execPath, [writer, name, value], { env });
}

describe.runIf(haveKeyring)('vault on the real Secret Service', () => {
  let writer: string;
  beforeAll(async () => {
    writer = await bundleFixture('test/fixtures/vault-writer.ts');
  });

  it('vault status reports the keychain store and a working probe', async () => {
    const home = tempDir();
    const r = await runCli(['vault', 'status', '--json'], { env: isolatedEnv(home) });
    expect(r.code).toBe(0);
    const env = r.json();
    expect(env.ok).toBe(true);
    expect(env.data.store).toBe('keychain');
    expect(env.data.probe).toBe('ok');
    expect(env.data.key).toContain('Secret Service');
  });

  it('20 concurrent processes each writing a credential: all 20 readable', async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeSecret(writer, env, `cred-${i}`, `value-${i}-${CANARY}`)));
    const r = await runCli(['vault', 'status', '--json', '--no-probe'], { env });
    expect(r.json().data.entries).toBe(20);
    // and each value round-trips
    const { openVault } = await import('../../src/vault/vault.js');
    const vault = await openVault({ env, stateDir: join(home, 'state') });
    for (let i = 0; i < 20; i++) expect(await vault.get(`cred-${i}`)).toBe(`value-${i}-${CANARY}`);
  });

  it('a canary secret never appears in any output or in any file outside the encrypted vault', async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    await writeSecret(writer, env, 'session', CANARY);
    const outputs = await Promise.all([
      runCli(['vault', 'status', '--json'], { env }),
      runCli(['vault', 'status'], { env }),
      runCli(['--help'], { env }),
      runCli(['nope', '--json'], { env }),
      runCli(['vault', 'status', '--bogus'], { env }),
    ]);
    for (const r of outputs) {
      expect(r.stdout).not.toContain(CANARY);
      expect(r.stderr).not.toContain(CANARY);
    }
    const vaultFile = join(home, 'state', 'vault.json.enc');
    expect(existsSync(vaultFile)).toBe(true);
    for (const f of filesUnder(home)) expect(f.content, f.path).not.toContain(CANARY);
  });

  it('a corrupt or truncated vault file gives VAULT_CORRUPT and is left untouched', async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    await writeSecret(writer, env, 'a', CANARY);
    const file = join(home, 'state', 'vault.json.enc');
    const original = readFileSync(file, 'utf8');

    writeFileSync(file, original.slice(0, original.length / 2));
    let r = await runCli(['vault', 'status', '--json', '--no-probe'], { env });
    expect(r.code).toBe(1);
    expect(r.json().error.code).toBe('VAULT_CORRUPT');
    expect(readFileSync(file, 'utf8')).toBe(original.slice(0, original.length / 2));

    // flip one byte of the ciphertext: authentication fails
    const doc = JSON.parse(original);
    const ct = Buffer.from(doc.ciphertext, 'base64');
    ct[0] = ct[0]! ^ 0xff;
    writeFileSync(file, JSON.stringify({ ...doc, ciphertext: ct.toString('base64') }));
    r = await runCli(['vault', 'status', '--json', '--no-probe'], { env });
    expect(r.json().error.code).toBe('VAULT_CORRUPT');
    // a write must not overwrite the corrupt file either
    await expect(writeSecret(writer, env, 'b', 'x')).rejects.toThrow(/corrupt/);
  });

  it('the key missing from the keychain while the file exists gives VAULT_KEY_MISSING', async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    await writeSecret(writer, env, 'a', CANARY);
    const { keyAccountFor, openKeychain } = await import('../../src/vault/keychain.js');
    const keychain = await openKeychain();
    expect(await keychain.delete(keyAccountFor(join(home, 'state', 'vault.json.enc')))).toBe(true);
    const r = await runCli(['vault', 'status', '--json', '--no-probe'], { env });
    expect(r.code).toBe(1);
    expect(r.json().error.code).toBe('VAULT_KEY_MISSING');
    expect(existsSync(join(home, 'state', 'vault.json.enc'))).toBe(true);
  });
});

describe('vault without a usable keychain', () => {
  let hang: Server;
  let socket: string;
  beforeAll(async () => {
    // A D-Bus address that accepts connections and never answers: a hanging keychain.
    socket = join(tempDir(), 'hang.sock');
    hang = createServer(() => {});
    await new Promise<void>((r) => hang.listen(socket, r));
  });
  afterAll(() => hang.close());

  it('a keychain that hangs gives KEYCHAIN_TIMEOUT within the timeout', async () => {
    const env = isolatedEnv(tempDir(), { DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}`, AGENTPROV_KEYCHAIN_TIMEOUT_MS: '500' });
    const started = Date.now();
    const r = await runCli(['vault', 'status', '--json'], { env });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.code).toBe(1);
    expect(r.json().error.code).toBe('KEYCHAIN_TIMEOUT');
  });

  it('Ctrl-C while waiting on the keychain exits 130 with the INTERRUPTED envelope', async () => {
    const env = isolatedEnv(tempDir(), { DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}`, AGENTPROV_KEYCHAIN_TIMEOUT_MS: '20000' });
    const child = spawn(process.execPath, [BIN, 'vault', 'status', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    setTimeout(() => child.kill('SIGINT'), 500);
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, error: { code: 'INTERRUPTED' } });
  });

  it('no Secret Service at all gives KEYCHAIN_UNAVAILABLE naming the reason and the alternatives', async () => {
    const env = isolatedEnv(tempDir(), { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(tempDir(), 'absent.sock')}` });
    const r = await runCli(['vault', 'status', '--json'], { env });
    expect(r.code).toBe(1);
    const e = r.json().error;
    expect(e.code).toBe('KEYCHAIN_UNAVAILABLE');
    expect(e.details.reason).toBe('unavailable');
    expect(r.json().next_steps.join(' ')).toContain('AGENTPROV_CREDENTIAL_STORE=file');
  });
});

describe.runIf(haveKeyring)('a locked keychain', () => {
  it('gives KEYCHAIN_LOCKED (no prompt can unlock it headless), and the vault is not touched', async () => {
    // Its own D-Bus session and keyring, unlocked then locked again with secret-tool.
    const home = tempDir();
    const script = [
      'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1',
      'secret-tool lock --collection=login >/dev/null 2>&1 || true',
      `exec "${process.execPath}" "${BIN}" vault status --json`,
    ].join('; ');
    const { stdout } = await run('dbus-run-session', ['--', 'bash', '-c', script], {
      env: { ...isolatedEnv(home), HOME: tempDir(), AGENTPROV_KEYCHAIN_TIMEOUT_MS: '5000' },
    }).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
    // gnome-keyring's daemon may print its environment on our stdout too: take the envelope line.
    const doc = JSON.parse(stdout.split('\n').find((l) => l.startsWith('{"ok"')) ?? 'null');
    expect(doc.error.code).toBe('KEYCHAIN_LOCKED');
    expect(doc.next_steps.join(' ')).toMatch(/unlock/);
    expect(existsSync(join(home, 'state', 'vault.json.enc'))).toBe(false);
  });
});

describe('passphrase file store', () => {
  let writer: string;
  beforeAll(async () => {
    writer = await bundleFixture('test/fixtures/vault-writer.ts');
  });

  it('round-trips with the right passphrase and refuses a wrong one without touching the file', async () => {
    const home = tempDir();
    const env = isolatedEnv(home, { AGENTPROV_CREDENTIAL_STORE: 'file', AGENTPROV_VAULT_PASSPHRASE: 'correct horse', DBUS_SESSION_BUS_ADDRESS: undefined });
    await writeSecret(writer, env, 'a', CANARY);
    let r = await runCli(['vault', 'status', '--json'], { env });
    expect(r.json().data.store).toBe('file');
    expect(r.json().data.entries).toBe(1);
    const file = join(home, 'state', 'vault.json.enc');
    const before = readFileSync(file, 'utf8');
    expect(before).not.toContain(CANARY);

    r = await runCli(['vault', 'status', '--json'], { env: { ...env, AGENTPROV_VAULT_PASSPHRASE: 'wrong' } });
    expect(r.code).toBe(1);
    expect(r.json().error.code).toBe('VAULT_PASSPHRASE_INVALID');
    await expect(writeSecret(writer, { ...env, AGENTPROV_VAULT_PASSPHRASE: 'wrong' }, 'b', 'x')).rejects.toThrow(/passphrase/);
    expect(readFileSync(file, 'utf8')).toBe(before);

    r = await runCli(['vault', 'status', '--json'], { env: { ...env, AGENTPROV_VAULT_PASSPHRASE: undefined } as NodeJS.ProcessEnv });
    expect(r.json().error.code).toBe('VAULT_PASSPHRASE_REQUIRED');
  });

  it('a vault written with one store is not silently reopened with the other', async () => {
    const home = tempDir();
    const env = isolatedEnv(home, { AGENTPROV_CREDENTIAL_STORE: 'file', AGENTPROV_VAULT_PASSPHRASE: 'pw' });
    await writeSecret(writer, env, 'a', 'b');
    const { AGENTPROV_CREDENTIAL_STORE: _s, ...keychainEnv } = env;
    const r = await runCli(['vault', 'status', '--json', '--no-probe'], { env: keychainEnv });
    // with a keychain present: store mismatch; without one: keychain unavailable. Never a silent downgrade.
    expect(['VAULT_STORE_MISMATCH', 'KEYCHAIN_UNAVAILABLE']).toContain(r.json().error.code);
  });
});
