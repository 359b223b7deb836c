/**
 * `token` and `run` (issue 8) against the real sandbox in this process
 * (auto-approve: no browser needed), the bundled CLI as child processes and
 * the real Secret Service for the vault. The masking itself is unit-tested
 * in test/unit/exec/mask.test.ts, revocation retries in
 * test/unit/exec/credentials.test.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/index.js';
import { openVault } from '../../src/vault/vault.js';
import { BIN, type CliResult, filesUnder, isolatedEnv, type ProjectHome as Home, runCli, tempDir } from '../helpers/cli.js';
import { vaultSecrets } from '../helpers/canary.js';
import { requireSecretService } from '../helpers/keyring.js';
import { useSandbox } from '../helpers/sandbox.js';

const haveKeyring = requireSecretService();

const outputs: CliResult[] = [];

async function cli(args: string[], h: Home, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const r = await runCli(args, { env: { ...h.env, ...extraEnv }, cwd: h.cwd, timeoutMs: 60_000 });
  outputs.push(r);
  return r;
}

function newHome(extra: NodeJS.ProcessEnv = {}): Home {
  const home = tempDir();
  const cwd = tempDir('agentprov-project-');
  writeFileSync(join(cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
  return { home, cwd, env: isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1', ...extra }) };
}

/** Agent-mode sign-in against an auto-approving sandbox. */
async function signIn(orchestrator: string): Promise<Home> {
  const h = newHome();
  const r = await cli(['init', '--orchestrator', orchestrator, '--json'], h);
  expect(r.code, r.stdout + r.stderr).toBe(3);
  const done = await cli(['login', '--complete', '--wait', '15', '--json'], h);
  expect(done.code, done.stdout + done.stderr).toBe(0);
  return h;
}

async function vaultOf(h: Home) {
  return openVault({ env: h.env, stateDir: join(h.home, 'state') });
}

/** Every long-lived secret in the vault (refresh tokens, ID token, the provider grant's tokens). */
function longLivedSecrets(h: Home): Promise<string[]> {
  return vaultSecrets(h.env, h.home, (key, entry) => !entry.startsWith('token-cache:') && (/refresh_token$|id_token$/.test(key) || (entry.startsWith('provider-grant:') && key === 'access_token')));
}

function auditLines(h: Home): Array<Record<string, any>> {
  const path = join(h.home, 'state', 'audit.jsonl');
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
}

async function kvStatus(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/keys`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Start the CLI without waiting (signals). */
function startCli(args: string[], h: Home) {
  const child = spawn(process.execPath, [BIN, ...args], { env: h.env, cwd: h.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      const r = { code, signal, stdout, stderr, json: () => JSON.parse(stdout) };
      outputs.push(r);
      resolve(r);
    }),
  );
  return { child, done, stdout: () => stdout };
}

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.runIf(haveKeyring)('token and run against the sandbox', () => {
  const sb = useSandbox({ autoApprove: true });
  let h: Home;
  let kvUrl: string;
  let canaries: string[] = [];
  const dir = tempDir('agentprov-run-');

  beforeAll(async () => {
    h = await signIn(sb.current.orchestrator);
    const add = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--accept-tos', '--json'], h);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const id = JSON.parse(readFileSync(join(h.cwd, 'agentprov.json'), 'utf8')).resources[0].id;
    kvUrl = `${sb.current.providers.find((p: { id: string }) => p.id === 'localcloud')!.url.replace(/\/$/, '')}/kv/${id}`;
    canaries = await longLivedSecrets(h);
    expect(canaries.length).toBeGreaterThan(1);
  }, 120_000);

  it('the child uses the injected token against the KV namespace; after run it is refused', async () => {
    const tokenFile = join(dir, 'kv-token');
    const envFile = join(dir, 'kv-env.json');
    const script = `
      const fs = require('node:fs');
      const t = process.env.LOCALCLOUD_TOKEN, u = process.env.LOCALCLOUD_KV_URL;
      fs.writeFileSync(${JSON.stringify(tokenFile)}, t);
      fs.writeFileSync(${JSON.stringify(envFile)}, JSON.stringify(process.env));
      (async () => {
        const put = await fetch(u + '/keys/greeting', { method: 'PUT', headers: { authorization: 'Bearer ' + t, 'content-type': 'text/plain' }, body: 'hello' });
        const get = await fetch(u + '/keys/greeting', { headers: { authorization: 'Bearer ' + t } });
        console.log('kv', put.status, get.status, await get.text());
        process.exit(put.ok && get.ok ? 0 : 9);
      })();`;
    const r = await cli(['run', '--resource', 'cache', '--', process.execPath, '-e', script], h, {
      LOCALCLOUD_DB_HOST: 'inherited-db-host',
      CACHE_LOCALCLOUD_TOKEN: 'inherited-prefixed-token',
      AGENTPROV_VAULT_PASSPHRASE: 'inherited-passphrase',
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('kv 200 200 hello');
    const token = readFileSync(tokenFile, 'utf8');
    expect(token.length).toBeGreaterThan(10);
    expect(await kvStatus(kvUrl, token)).toBe(401);

    const env = JSON.parse(readFileSync(envFile, 'utf8'));
    expect(env.LOCALCLOUD_KV_URL).toBe(kvUrl);
    expect(env.AGENTPROV_RUN).toBe('1');
    expect(env.LOCALCLOUD_DB_HOST).toBeUndefined();
    expect(env.CACHE_LOCALCLOUD_TOKEN).toBeUndefined();
    expect(env.AGENTPROV_VAULT_PASSPHRASE).toBeUndefined();

    const rec = auditLines(h).filter((l) => l.command === 'run').at(-1)!;
    expect(rec.decision).toBe('ran');
    expect(rec.provider).toBe('localcloud');
    expect(rec.resource).toBe('cache');
    expect(rec.details.exit_code).toBe(0);
    expect(rec.details.ttl_seconds).toBe(600);
    expect(rec.details.revoked).toBe(1);
    expect(rec.details.credential_ids).toMatch(/^localcloud:sha256:[0-9a-f]{16}$/);
    expect(typeof rec.details.child_pid).toBe('number');
    expect(rec.argv).toContain('--resource');
  });

  it('a warm run sends one mint and one revoke, nothing else (descriptor and AS metadata are remembered)', async () => {
    expect((await cli(['run', '--provider', 'localcloud', '--', 'true'], h)).code).toBe(0);
    const log = join(dir, 'requests.log');
    const r = await cli(['run', '--provider', 'localcloud', '--', 'true'], h, {
      NODE_OPTIONS: `--import=${join(import.meta.dirname, '..', '..', 'fixtures', 'request-log.mjs')}`,
      AGENTPROV_TEST_REQUEST_LOG: log,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // Every request is listed as it starts, answered or not: an extra one that failed would show too.
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' '));
    expect(lines.map((l) => `${l[0]} ${l[1]}`)).toEqual(['POST /oauth/token', 'POST /oauth/token/revocation']);
    for (const l of lines) expect(l[2]).toMatch(/^\d+\.\d$/); // answered, with its round-trip time
  });

  it('--json: one envelope on stdout, the child output on stderr, its exit code returned', async () => {
    const r = await cli(['run', '--provider', 'localcloud', '--ttl', '2m', '--json', '--', process.execPath, '-e', 'console.log("to stderr"); process.exit(7)'], h);
    expect(r.code, r.stdout + r.stderr).toBe(7);
    const env = r.json();
    expect(env.ok).toBe(true);
    expect(env.data.exit_code).toBe(7);
    expect(env.data.env).toContain('LOCALCLOUD_TOKEN');
    expect(env.data.credentials[0]).toMatchObject({ provider: 'localcloud', revoked: true, long_lived: false });
    expect(r.stderr).toContain('to stderr');
  });

  it('targets may stand before --: a resource name or a provider id; what follows -- is the command', async () => {
    const byResource = await cli(['run', 'cache', '--json', '--', process.execPath, '-e', 'process.exit(process.env.LOCALCLOUD_KV_URL ? 3 : 4)'], h);
    expect(byResource.code, byResource.stdout + byResource.stderr).toBe(3);
    expect(byResource.json().data.resources).toEqual(['cache']);
    const byProvider = await cli(['run', 'localcloud', '--json', '--', process.execPath, '-e', 'process.exit(process.env.LOCALCLOUD_TOKEN ? 5 : 6)'], h);
    expect(byProvider.code, byProvider.stdout + byProvider.stderr).toBe(5);
    expect(byProvider.json().data).toMatchObject({ providers: ['localcloud'], resources: [] });
  });

  it('masks the token whole, split across writes, and inside a longer line', async () => {
    const tokenFile = join(dir, 'mask-token');
    const script = `
      const t = process.env.LOCALCLOUD_TOKEN;
      require('node:fs').writeFileSync(${JSON.stringify(tokenFile)}, t);
      const h = Math.floor(t.length / 2);
      const b = Buffer.from(t);
      console.log('halves:\\n' + t.slice(0, h) + '\\n' + t.slice(h));
      console.log('encoded:', b.toString('base64'), b.toString('base64url'), b.toString('hex'), b.toString('hex').toUpperCase());
      process.stdout.write('whole:' + t + '\\n');
      process.stdout.write('split:' + t.slice(0, h));
      setTimeout(() => {
        process.stdout.write(t.slice(h) + '\\n');
        process.stderr.write('line: Authorization: Bearer ' + t + ' (end)\\n');
        setTimeout(() => { for (const c of t) process.stderr.write(c); process.stderr.write('\\n'); }, 50);
      }, 100);`;
    const r = await cli(['run', '--resource', 'cache', '--', process.execPath, '-e', script], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const token = readFileSync(tokenFile, 'utf8');
    for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(token);
    expect(r.stdout).toContain('whole:****\n');
    expect(r.stdout).toContain('split:****\n');
    expect(r.stderr).toContain('line: Authorization: Bearer **** (end)');
    expect(r.stderr).toContain('****\n');
    // Its halves on separate lines and its encodings are masked too.
    const b = Buffer.from(token);
    const half = Math.floor(token.length / 2);
    expect(half).toBeGreaterThanOrEqual(12);
    for (const form of [token.slice(0, half), token.slice(half), b.toString('base64').replace(/=+$/, ''), b.toString('base64url'), b.toString('hex'), b.toString('hex').toUpperCase()]) {
      for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(form);
    }
    expect(r.stdout).toContain('halves:\n****\n****\n');
    expect(r.stdout).toContain('encoded: **** **** **** ****\n');
  });

  it('SIGTERM to agentprov reaches the child, its exit code is returned, and the credential is revoked', async () => {
    const tokenFile = join(dir, 'term-token');
    const marker = join(dir, 'term-marker');
    const script = `
      const fs = require('node:fs');
      fs.writeFileSync(${JSON.stringify(tokenFile)}, process.env.LOCALCLOUD_TOKEN);
      process.on('SIGTERM', () => { fs.writeFileSync(${JSON.stringify(marker)}, 'SIGTERM'); process.exit(42); });
      setInterval(() => {}, 1000);
      console.log('ready');`;
    const run = startCli(['run', '--resource', 'cache', '--', process.execPath, '-e', script], h);
    await until(() => run.stdout().includes('ready'));
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code, r.stdout + r.stderr).toBe(42);
    expect(readFileSync(marker, 'utf8')).toBe('SIGTERM');
    expect(await kvStatus(kvUrl, readFileSync(tokenFile, 'utf8'))).toBe(401);
  });

  it('a child killed by a signal gives 128 + its number; a command that cannot start fails; revoked on both paths', async () => {
    const tokenFile = join(dir, 'kill-token');
    const killed = await cli(
      ['run', '--resource', 'cache', '--', process.execPath, '-e', `require('node:fs').writeFileSync(${JSON.stringify(tokenFile)}, process.env.LOCALCLOUD_TOKEN); process.kill(process.pid, 'SIGKILL')`],
      h,
    );
    expect(killed.code, killed.stdout + killed.stderr).toBe(137);
    expect(await kvStatus(kvUrl, readFileSync(tokenFile, 'utf8'))).toBe(401);

    const missing = await cli(['run', '--resource', 'cache', '--json', '--', join(dir, 'no-such-command')], h);
    expect(missing.code).toBe(1);
    expect(missing.json().error.code).toBe('SPAWN_FAILED');
    const rec = auditLines(h).filter((l) => l.command === 'run').at(-1)!;
    expect(rec.decision).toBe('failed');
    expect(rec.details.revoked).toBe(1);
    expect(rec.details.error).toBe('SPAWN_FAILED');
  });

  it('refuses a nested run unless --nested', async () => {
    const r = await cli(['run', '--resource', 'cache', '--json', '--', 'true'], h, { AGENTPROV_RUN: '1' });
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('NESTED_RUN');
    const ok = await cli(['run', '--nested', '--resource', 'cache', '--', 'true'], h, { AGENTPROV_RUN: '1' });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  });

  it('token: bare when piped, the envelope under --json, reused from the cache, TTL bounded', async () => {
    const first = await cli(['token', 'localcloud', '--json'], h);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const d = first.json().data;
    expect(d.token).toMatch(/\S{16,}/);
    expect(d.token).not.toContain('****');
    expect(Date.parse(d.expires_at) - Date.now()).toBeGreaterThan(500_000);
    expect(d.cached).toBe(false);
    expect(await kvStatus(kvUrl, d.token)).toBe(200);
    const bare = await cli(['token', 'cache'], h);
    expect(bare.stdout).toBe(`${d.token}\n`);
    const scoped = await cli(['token', 'localcloud', '--scope', 'kv:read', '--ttl', '90s', '--json'], h);
    expect(scoped.json().data.token).not.toBe(d.token);
    expect(scoped.json().data.cached).toBe(false);
    const big = await cli(['token', 'localcloud', '--ttl', '2h', '--json'], h);
    expect(big.code).toBe(2);
    const none = await cli(['token', 'othercloud', '--json'], h);
    expect(none.code, none.stdout).toBe(3);
    expect(none.json().next_steps.join(' ')).toContain('agentprov add othercloud/');
  });

  it('the long-lived grant never shows up in the child env, outputs or files (canary scan)', () => {
    expect(outputs.length).toBeGreaterThan(5);
    const files = [...filesUnder(h.home, (p) => p.endsWith('vault.json.enc')), ...filesUnder(h.cwd), ...filesUnder(dir)];
    for (const c of canaries) {
      for (const o of outputs) {
        expect(o.stdout).not.toContain(c);
        expect(o.stderr).not.toContain(c);
      }
      for (const f of files) expect(f.content, f.path).not.toContain(c);
    }
  });

  it('an expired session that cannot be renewed exits 3', async () => {
    const vault = await vaultOf(h);
    const session = (await vault.get('session')) as Record<string, unknown>;
    await vault.set('session', { ...session, access_token_expires_at: 0, refresh_token: 'expired-canary-refresh-token' });
    const r = await cli(['run', '--resource', 'cache', '--json', '--', 'true'], h);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.json().error.code).toBe('NOT_SIGNED_IN');
  });
});

describe.runIf(haveKeyring)('token cache', () => {
  it('a second token call makes no network call: it answers with the sandbox stopped', async () => {
    const sandbox = await startSandbox({ autoApprove: true });
    let h: Home | undefined;
    let token = '';
    try {
      h = await signIn(sandbox.orchestrator);
      expect((await cli(['add', 'localcloud/kv:namespace', '--accept-tos', '--json'], h)).code).toBe(0);
      const first = await cli(['token', 'localcloud', '--json'], h);
      expect(first.code, first.stdout + first.stderr).toBe(0);
      token = first.json().data.token as string;
    } finally {
      await sandbox.stop();
    }
    const again = await cli(['token', 'localcloud', '--json'], h!);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.json().data).toMatchObject({ token, cached: true });
    const bare = await cli(['token', 'localcloud'], h!);
    expect(bare.stdout).toBe(`${token}\n`);

    // A resource name resolves through agentprov.json, remembered while the file is unchanged.
    const manifestPath = join(h!.cwd, 'agentprov.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const name = manifest.resources[0].name as string;
    for (let i = 0; i < 2; i++) {
      const r = await cli(['token', name, '--json'], h!); // the first validates the manifest and remembers it, the second reuses that
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.json().data).toMatchObject({ token, cached: true, provider: 'localcloud', resource: name });
    }
    // Edited: the same name now belongs to another provider, which has no cached token.
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, resources: [{ ...manifest.resources[0], provider: 'othercloud' }] }));
    const moved = await cli(['token', name, '--json'], h!);
    expect(moved.code).not.toBe(0);
    expect(moved.stdout).not.toContain(token);
    // Invalid: the manifest's own validation answers, as it always did.
    writeFileSync(manifestPath, JSON.stringify({ version: 2 }));
    const invalid = await cli(['token', name, '--json'], h!);
    expect(invalid.code).toBe(2);
    expect(invalid.json().error.code).toBe('INVALID_MANIFEST');
  }, 120_000);
});
