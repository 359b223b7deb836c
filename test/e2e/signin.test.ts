/**
 * Sign-in (init, login, logout, whoami) against the real counterparts: the
 * sandbox identity provider (oidc-provider) in this process, the bundled
 * CLI as child processes, headless Chromium playing the human's browser,
 * and the real Secret Service for the vault.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVault } from '../../src/vault/vault.js';
import { approveConsent, completeDeviceFlow, denyConsent, launchBrowser, signIn, type TestBrowser } from '../helpers/browser.js';
import { BIN, filesUnder, isolatedEnv, ROOT, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { requireSecretService } from '../helpers/keyring.js';
import { DEMO_USER, useSandbox } from '../helpers/sandbox.js';
import { expireSessionAccessToken } from '../helpers/stored-session.js';

const haveKeyring = requireSecretService();
const CLIENT_ID = 'agentprov-cli';

/** A CLI child whose stderr is readable while it runs (the browser flow prints its URL there). */
function startCli(args: string[], env: NodeJS.ProcessEnv, cwd = ROOT) {
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  const signInUrl = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /sign-in URL: (\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.on('close', () => reject(new Error(`exited before printing the sign-in URL: ${stderr}`)));
  });
  signInUrl.catch(() => undefined);
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, json: () => JSON.parse(stdout) })),
  );
  child.stdin.end();
  return { signInUrl, done };
}

async function vaultOf(home: string, env: NodeJS.ProcessEnv) {
  return openVault({ env, stateDir: join(home, 'state') });
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe.runIf(haveKeyring)('sign-in against the sandbox identity provider', () => {
  const sb = useSandbox();
  let browser: TestBrowser;
  const outputs: CliResult[] = [];
  const secrets = new Set<string>();
  const homes: string[] = [];
  const servers: Server[] = [];

  const cli = async (args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<CliResult> => {
    const r = await runCli(args, { env, timeoutMs: 60_000, ...(cwd ? { cwd } : {}) });
    outputs.push(r);
    return r;
  };
  const home = (): { home: string; env: NodeJS.ProcessEnv; cwd: string } => {
    const h = tempDir();
    const cwd = tempDir('agentprov-project-');
    homes.push(h, cwd);
    return { home: h, env: isolatedEnv(h, { AGENTPROV_NO_BROWSER: '1' }), cwd };
  };
  /** `init --browser --no-browser` at the sandbox issuer as a child; its output joins the canary scan. */
  const initWithBrowser = (env: NodeJS.ProcessEnv, cwd: string): { signInUrl: Promise<string>; done: Promise<CliResult> } => {
    const child = startCli(['init', '--issuer', sb.current.issuer, '--client-id', CLIENT_ID, '--browser', '--no-browser'], env, cwd);
    return { signInUrl: child.signInUrl, done: child.done.then((r) => (outputs.push(r), r)) };
  };
  /** Every token in the vault is a canary for the final scan. */
  const collectSecrets = async (h: string, env: NodeJS.ProcessEnv): Promise<void> => {
    const vault = await vaultOf(h, env);
    for (const name of await vault.names()) {
      const entry = (await vault.get(name)) as Record<string, unknown>;
      for (const key of ['refresh_token', 'access_token', 'id_token', 'device_code']) {
        if (typeof entry[key] === 'string') secrets.add(entry[key] as string);
      }
    }
  };

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    for (const s of servers) s.close();
  });

  // Shared between the tests below: a home signed in through the browser flow.
  let pkce: { home: string; env: NodeJS.ProcessEnv; cwd: string };

  it('agent: init --orchestrator --json pends with a device code; Chromium approves it; login --complete finishes; whoami reads it', async () => {
    const { home: h, env, cwd } = home();
    const r = await cli(['init', '--orchestrator', sb.current.orchestrator, '--json'], env, cwd);
    expect(r.code).toBe(3);
    const e = r.json();
    expect(e.error.code).toBe('AUTHORIZATION_PENDING');
    expect(e.next_steps).toEqual(['agentprov login --complete']);
    const d = e.error.details;
    expect(d.verification_uri).toBe(`${sb.current.issuer}/device`);
    expect(d.verification_uri_complete).toContain(d.user_code);
    expect(typeof d.user_code).toBe('string');
    expect(Date.parse(d.expires_at)).toBeGreaterThan(Date.now());
    await collectSecrets(h, env);

    // Config and manifest are in place; only the session is missing.
    const config = JSON.parse(readFileSync(join(h, 'config', 'config.json'), 'utf8'));
    expect(config.orchestrator).toMatchObject({ url: sb.current.orchestrator, issuer: sb.current.issuer, client_id: CLIENT_ID, payment_rail: sb.current.paymentRail });
    expect(config.providers).toHaveLength(2);
    expect(config.providers.every((p: { source: string }) => p.source === 'orchestrator')).toBe(true);
    expect(JSON.parse(readFileSync(join(cwd, 'agentprov.json'), 'utf8'))).toMatchObject({ version: 1, orchestrator: sb.current.orchestrator });

    // Still pending: exit 3 again, same code.
    const again = await cli(['login', '--complete', '--json'], env);
    expect(again.code).toBe(3);
    expect(again.json().error.details.user_code).toBe(d.user_code);

    await browser.context.clearCookies();
    const page = await browser.newPage();
    await completeDeviceFlow(page, { verificationUri: d.verification_uri, userCode: d.user_code, ...DEMO_USER, decision: 'approve' });
    await page.close();

    const done = await cli(['login', '--complete', '--wait', '10', '--json'], env);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.json().data).toMatchObject({ issuer: sb.current.issuer, subject: 'user-demo', email: DEMO_USER.email });
    await collectSecrets(h, env);

    const who = await cli(['whoami', '--json'], env);
    expect(who.code, who.stdout + who.stderr).toBe(0);
    const data = who.json().data;
    expect(data).toMatchObject({ issuer: sb.current.issuer, subject: 'user-demo', email: DEMO_USER.email, credential_store: 'keychain' });
    expect(Date.parse(data.expires_at)).toBeGreaterThan(Date.now());
    const vault = await vaultOf(h, env);
    expect(await vault.names()).toEqual(['session']);

    // Re-running init keeps the session and the manifest.
    const rerun = await cli(['init', '--orchestrator', sb.current.orchestrator, '--json'], env, cwd);
    expect(rerun.code).toBe(0);
    expect(rerun.json().data).toMatchObject({ already_signed_in: true, manifest_created: false });
  });

  it('human: init --issuer --client-id --browser runs authorization code + PKCE; Chromium signs in and consents', async () => {
    pkce = home();
    const child = initWithBrowser(pkce.env, pkce.cwd);
    const url = new URL(await child.signInUrl);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(url.searchParams.get('state')).toBeTruthy();
    expect(url.searchParams.get('nonce')).toBeTruthy();
    expect(url.searchParams.get('scope')).toBe('openid email profile offline_access payments');

    await browser.context.clearCookies();
    const page = await browser.newPage();
    await page.goto(url.href);
    await signIn(page, DEMO_USER.email, DEMO_USER.password);
    await approveConsent(page);
    await page.waitForSelector('#agentprov-done');
    await page.close();
    const r = await child.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('signed in as demo@agentprov.test');
    await collectSecrets(pkce.home, pkce.env);

    const who = await cli(['whoami', '--json'], pkce.env);
    expect(who.json().data).toMatchObject({ subject: 'user-demo', email: DEMO_USER.email, refreshable: true });
  });

  it('20 concurrent processes needing a refresh at once all succeed, and the session stays valid', async () => {
    const { home: h, env } = pkce;
    const expire = async (): Promise<string> => {
      return expireSessionAccessToken(await vaultOf(h, env));
    };
    const before = await expire();
    const results = await Promise.all(Array.from({ length: 20 }, () => cli(['whoami', '--refresh', '--json'], env)));
    for (const r of results) expect(r.code, r.stdout + r.stderr).toBe(0);
    const refreshed = results.filter((r) => r.json().data.refreshed === true);
    expect(refreshed).toHaveLength(1); // the others found the fresh token after the lock
    await collectSecrets(h, env);

    const vault = await vaultOf(h, env);
    const session = (await vault.get('session')) as { refresh_token: string; access_token_expires_at: number };
    expect(session.refresh_token).not.toBe(before);
    expect(session.access_token_expires_at).toBeGreaterThan(Date.now() / 1000 + 60);

    // The rotated refresh token still works (a replay would have killed the grant).
    await expire();
    const again = await cli(['whoami', '--refresh', '--json'], env);
    expect(again.code, again.stdout).toBe(0);
    expect(again.json().data.refreshed).toBe(true);
    await collectSecrets(h, env);
  });

  it('whoami answers from the identity file without the keychain, and only while the vault is the file that session was seen in', async () => {
    const { home: h, env } = pkce;
    const identity = join(h, 'state', 'session-identity.json');
    // No keychain reachable: only the identity file can answer.
    const noKeychain = { ...env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(tempDir(), 'absent.sock')}` };
    const full = await cli(['whoami', '--json'], env);
    expect(full.code, full.stdout + full.stderr).toBe(0);
    expect(existsSync(identity)).toBe(true);
    const fast = await cli(['whoami', '--json'], noKeychain);
    expect(fast.code, fast.stdout + fast.stderr).toBe(0);
    expect(fast.json().data).toEqual(full.json().data);

    // Any vault write (here a credential added beside the session) makes whoami open the vault again.
    const vault = await vaultOf(h, env);
    await vault.set('unrelated', 'x');
    const stale = await cli(['whoami', '--json'], noKeychain);
    expect(stale.code).toBe(1);
    expect(stale.json().error.code).toBe('KEYCHAIN_UNAVAILABLE');
    expect((await cli(['whoami', '--json'], env)).code).toBe(0);
    expect((await cli(['whoami', '--json'], noKeychain)).code).toBe(0); // recorded again

    // The session gone from the vault by any path: not signed in, and the identity file goes too.
    const session = await vault.get('session');
    await vault.update((entries) => {
      delete entries.session;
      delete entries.unrelated;
    });
    const gone = await cli(['whoami', '--json'], env);
    expect(gone.code).toBe(3);
    expect(gone.json().error.code).toBe('NOT_SIGNED_IN');
    expect(existsSync(identity)).toBe(false);
    // The vault file deleted outright: the recorded identity no longer matches anything.
    await vault.set('session', session);
    expect((await cli(['whoami', '--json'], env)).code).toBe(0);
    const vaultFile = join(h, 'state', 'vault.json.enc');
    const saved = readFileSync(vaultFile);
    rmSync(vaultFile);
    const deleted = await cli(['whoami', '--json'], noKeychain);
    expect(deleted.code, deleted.stdout).toBe(3);
    expect(deleted.json().error.code).toBe('NOT_SIGNED_IN');
    writeFileSync(vaultFile, saved, { mode: 0o600 });
    expect((await cli(['whoami', '--json'], env)).code).toBe(0);

    // What the file holds is what whoami shows: identity and where secrets live, never a token.
    const recorded = JSON.parse(readFileSync(identity, 'utf8'));
    expect(Object.keys(recorded.session).sort()).toEqual(['auth_time', 'credential_store', 'email', 'expires_at', 'issuer', 'name', 'refreshable', 'subject', 'vault']);
  });

  it('logout revokes the refresh token at the issuer and deletes the session', async () => {
    const { home: h, env } = pkce;
    const vault = await vaultOf(h, env);
    const { refresh_token: refreshToken } = (await vault.get('session')) as { refresh_token: string };
    const r = await cli(['logout', '--json'], env);
    expect(r.code).toBe(0);
    expect(r.json().data).toMatchObject({ signed_out: true, revoked: true });
    expect(await vault.names()).toEqual([]);

    const config = await oidc.discovery(new URL(sb.current.issuer), CLIENT_ID, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    await expect(oidc.refreshTokenGrant(config, refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });

    expect(existsSync(join(h, 'state', 'session-identity.json'))).toBe(false);

    const who = await cli(['whoami', '--json'], env);
    expect(who.code).toBe(3);
    expect(who.json().error.code).toBe('NOT_SIGNED_IN');
    expect(who.json().next_steps.length).toBeGreaterThan(0);
  });

  describe('bad input: a distinct error, exit code and message each; nothing in the vault', () => {
    const expectNoSession = async (h: string, env: NodeJS.ProcessEnv): Promise<void> => {
      if (!existsSync(join(h, 'state', 'vault.json.enc'))) return;
      expect(await (await vaultOf(h, env)).names()).toEqual([]);
    };
    const expectError = (r: CliResult, code: string, exit: number): void => {
      expect(r.code, r.stdout + r.stderr).toBe(exit);
      const e = r.json();
      expect(e.ok).toBe(false);
      expect(e.error.code).toBe(code);
      expect(e.error.message.length).toBeGreaterThan(10);
    };
    /** The browser-flow child ends with `code` on stderr and exit `exit`, and stores nothing. */
    const expectBrowserError = async (child: { done: Promise<CliResult> }, h: string, env: NodeJS.ProcessEnv, code: string, exit: number): Promise<void> => {
      const r = await child.done;
      expect(r.code, r.stderr).toBe(exit);
      expect(r.stderr).toContain(`error [${code}]`);
      await expectNoSession(h, env);
    };

    it('issuer unreachable → ISSUER_UNREACHABLE (5)', async () => {
      const { home: h, env, cwd } = home();
      const { server, url } = await listen(() => undefined);
      server.close();
      const r = await cli(['init', '--issuer', url, '--client-id', CLIENT_ID, '--json'], env, cwd);
      expectError(r, 'ISSUER_UNREACHABLE', 5);
      await expectNoSession(h, env);
    });

    it('issuer metadata invalid → ISSUER_METADATA_INVALID (5); metadata naming another issuer → ISSUER_MISMATCH (5)', async () => {
      const real = await (await fetch(`${sb.current.issuer}/.well-known/openid-configuration`)).text();
      const bad = await listen((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"issuer": 5}'));
      const other = await listen((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(real));
      servers.push(bad.server, other.server);
      const a = home();
      expectError(await cli(['init', '--issuer', bad.url, '--client-id', CLIENT_ID, '--json'], a.env, a.cwd), 'ISSUER_METADATA_INVALID', 5);
      await expectNoSession(a.home, a.env);
      const b = home();
      expectError(await cli(['init', '--issuer', other.url, '--client-id', CLIENT_ID, '--json'], b.env, b.cwd), 'ISSUER_MISMATCH', 5);
      await expectNoSession(b.home, b.env);
    });

    it('issuer metadata larger than the size cap → ISSUER_METADATA_INVALID (5)', async () => {
      const huge = await listen((req, res) => {
        const base = `http://127.0.0.1:${(req.socket.address() as AddressInfo).port}`;
        const metadata = { issuer: base, token_endpoint: `${base}/token`, device_authorization_endpoint: `${base}/device/auth`, padding: 'x'.repeat(1024 * 1024) };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(metadata));
      });
      servers.push(huge.server);
      const { home: h, env, cwd } = home();
      expectError(await cli(['init', '--issuer', huge.url, '--client-id', CLIENT_ID, '--json'], env, cwd), 'ISSUER_METADATA_INVALID', 5);
      await expectNoSession(h, env);
    });

    it('state mismatch on the callback → AUTHORIZATION_STATE_MISMATCH (1)', async () => {
      const { home: h, env, cwd } = home();
      const child = initWithBrowser(env, cwd);
      const url = new URL(await child.signInUrl);
      const cb = new URL(url.searchParams.get('redirect_uri')!);
      cb.search = new URLSearchParams({ code: 'forged-code', state: 'not-the-state', iss: sb.current.issuer }).toString();
      await fetch(cb);
      await expectBrowserError(child, h, env, 'AUTHORIZATION_STATE_MISMATCH', 1);
    });

    it('the user denies consent → AUTHORIZATION_DENIED (3)', async () => {
      const { home: h, env, cwd } = home();
      const child = initWithBrowser(env, cwd);
      const url = await child.signInUrl;
      await browser.context.clearCookies();
      const page = await browser.newPage();
      await page.goto(url);
      await signIn(page, DEMO_USER.email, DEMO_USER.password);
      await denyConsent(page);
      await page.waitForSelector('#agentprov-done');
      await page.close();
      await expectBrowserError(child, h, env, 'AUTHORIZATION_DENIED', 3);
    });

    it('the device code expires → AUTHORIZATION_EXPIRED (3), and the pending sign-in is gone', async () => {
      const { home: h, env, cwd } = home();
      const start = await cli(['init', '--issuer', sb.current.issuer, '--client-id', CLIENT_ID, '--json'], env, cwd);
      expect(start.json().error.code).toBe('AUTHORIZATION_PENDING');
      await collectSecrets(h, env);
      const vault = await vaultOf(h, env);
      await vault.update((entries) => {
        (entries.pending_sign_in as Record<string, unknown>).expires_at = Math.floor(Date.now() / 1000) - 1;
      });
      expectError(await cli(['login', '--complete', '--json'], env), 'AUTHORIZATION_EXPIRED', 3);
      await expectNoSession(h, env);
      expectError(await cli(['login', '--complete', '--json'], env), 'NO_PENDING_AUTHORIZATION', 2);
    });

    it('a verification URL on a foreign host → UNTRUSTED_VERIFICATION_URI (5), nothing stored', async () => {
      // The one fake: an issuer whose device endpoint points the human at another host.
      const fake = await listen((req, res) => {
        const base = `http://127.0.0.1:${(req.socket.address() as AddressInfo).port}`;
        res.writeHead(200, { 'content-type': 'application/json' });
        if (req.url === '/.well-known/openid-configuration') {
          res.end(JSON.stringify({ issuer: base, token_endpoint: `${base}/token`, device_authorization_endpoint: `${base}/device/auth`, authorization_endpoint: `${base}/auth` }));
        } else {
          res.end(JSON.stringify({ device_code: 'dc-fake-0123456789', user_code: 'ABCD-EFGH', verification_uri: 'https://evil.example/device', expires_in: 600, interval: 1 }));
        }
      });
      servers.push(fake.server);
      const { home: h, env, cwd } = home();
      const r = await cli(['init', '--issuer', fake.url, '--client-id', CLIENT_ID, '--json'], env, cwd);
      expectError(r, 'UNTRUSTED_VERIFICATION_URI', 5);
      expect(r.stdout).not.toContain('dc-fake-0123456789');
      await expectNoSession(h, env);
    });
  });

  it('canary scan: no token appears in any output or in any file outside the vault', () => {
    expect(secrets.size).toBeGreaterThan(5);
    for (const r of outputs) {
      for (const s of secrets) {
        expect(r.stdout.includes(s), 'token in stdout').toBe(false);
        expect(r.stderr.includes(s), 'token in stderr').toBe(false);
      }
    }
    for (const h of homes) {
      for (const f of filesUnder(h)) for (const s of secrets) expect(f.content.includes(s), f.path).toBe(false);
    }
  });
});
