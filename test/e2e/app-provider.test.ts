/**
 * APP 0.1d end to end (issue 17): the bundled CLI as an agent runs it
 * (`--json`, no TTY) against the sandbox's APP provider `appcloud`, the
 * real Secret Service for the vault, headless Chromium for the consent page.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, isolatedEnv, type ProjectHome as Home, runCli, tempDir } from '../helpers/cli.js';
import { expectNoSecretLeaks, vaultSecrets } from '../helpers/canary.js';
import { requireSecretService } from '../helpers/keyring.js';
import { useSandbox } from '../helpers/sandbox.js';
import { launchBrowser } from '../helpers/browser.js';
import { SANDBOX_REGION } from '../../src/sandbox/app/index.js';

const haveKeyring = requireSecretService();
const outputs: CliResult[] = [];
const homes: Home[] = [];
let firstHome: Home | undefined;

async function cli(args: string[], h: Home): Promise<CliResult> {
  const dash = args.indexOf('--');
  const full = dash < 0 ? [...args, '--json', '--no-input'] : [...args.slice(0, dash), '--json', '--no-input', ...args.slice(dash)];
  const r = await runCli(full, { env: h.env, cwd: h.cwd, timeoutMs: 60_000 });
  outputs.push(r);
  return r;
}

async function signIn(orchestrator: string): Promise<Home> {
  const home = tempDir();
  const cwd = tempDir('agentprov-project-');
  writeFileSync(join(cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
  const h = { home, cwd, env: isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' }) };
  homes.push(h);
  expect((await cli(['init', '--orchestrator', orchestrator], h)).code).toBe(3);
  const done = await cli(['login', '--complete', '--wait', '15'], h);
  expect(done.code, done.stdout + done.stderr).toBe(0);
  return h;
}

async function whoami(origin: string, key: string): Promise<number> {
  const res = await fetch(`${origin}/api/whoami`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

async function apiKeys(h: Home): Promise<string[]> {
  return vaultSecrets(h.env, h.home, (key, entry) => entry.startsWith('app-resource:') && key === 'api_key');
}

describe.skipIf(!haveKeyring)('APP 0.1d provider (sandbox appcloud) through the CLI', () => {
  const sb = useSandbox({ autoApprove: true });

  afterAll(async () => {
    // Every key, token and code the vaults hold never reached an output or a file but the vault.
    const secrets: string[] = [];
    for (const h of homes) secrets.push(...(await vaultSecrets(h.env, h.home, (key, entry) => entry.startsWith('app-') && /token|api_key|code_verifier/.test(key))));
    expect(secrets.length).toBeGreaterThan(0);
    expectNoSecretLeaks(secrets, outputs, homes.flatMap((h) => [h.home, h.cwd]));
  });

  it('new account: add, run with the keys, rotate (old key refused), remove', async () => {
    const h = (firstHome = await signIn(sb.current.orchestrator));
    const added = await cli(['providers', 'add', sb.current.app.url, '--protocol', 'app', '--id', 'appcloud'], h);
    expect(added.code, added.stdout).toBe(0);
    expect(added.json().data.provider.services).toBe(3);

    const noTos = await cli(['add', 'appcloud/app:analytics', '--name', 'metrics'], h);
    expect(noTos.code).toBe(3);
    expect(noTos.json().error.code).toBe('TERMS_ACCEPTANCE_REQUIRED');

    const add = await cli(['add', 'appcloud/app:analytics', '--name', 'metrics', '--accept-tos'], h);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    expect(Object.keys(sb.current.app.state.data.resources)).toHaveLength(1);
    // The account request's id is the add's journal key, the same one the resource's project_id carries.
    const [created] = Object.values(sb.current.app.state.data.resources);
    expect(Object.keys(sb.current.app.state.data.requests ?? {})).toEqual([created!.project_id]);
    const [key1] = await apiKeys(h);
    expect(key1).toMatch(/^phx_/);
    expect(await whoami(sb.current.app.origin, key1!)).toBe(200);

    // list/status tell the APP keys (long-lived) from an agentprov-protocol resource's minted tokens (short-lived).
    const kv = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--accept-tos'], h);
    expect(kv.code, kv.stdout + kv.stderr).toBe(0);
    for (const cmd of ['list', 'status']) {
      const listed = await cli([cmd], h);
      expect(listed.code, listed.stdout).toBe(0);
      const lifetimes = Object.fromEntries(listed.json().data.resources.map((r: { name: string; credential_lifetime: string }) => [r.name, r.credential_lifetime]));
      expect(lifetimes).toEqual({ metrics: 'long-lived', cache: 'short-lived' });
    }

    // APPCLOUD_REGION: a member the catalog does not map, injected as <PROVIDER_ID>_<KEY> and masked like the key.
    const script = `if (process.env.APPCLOUD_REGION !== '${SANDBOX_REGION}') process.exit(8); console.log('region', process.env.APPCLOUD_REGION); fetch(process.env.APPCLOUD_HOST + '/api/whoami', { headers: { authorization: 'Bearer ' + process.env.APPCLOUD_API_KEY } }).then((r) => { console.log('status', r.status, process.env.APPCLOUD_API_KEY); process.exit(r.status === 200 ? 0 : 9); })`;
    const ran = await cli(['run', '--resource', 'metrics', '--', process.execPath, '-e', script], h);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    // With --json the child's output goes to stderr, its keys masked.
    expect(ran.stderr).toContain('status 200');
    expect(ran.stdout + ran.stderr).not.toContain(key1);
    expect(ran.stderr).toMatch(/region \S/);
    expect(ran.stdout + ran.stderr).not.toContain(SANDBOX_REGION);
    expect(ran.json().data.env).toEqual(['APPCLOUD_API_KEY', 'APPCLOUD_HOST', 'APPCLOUD_REGION']);

    const token = await cli(['token', 'appcloud'], h);
    expect(token.code).toBe(2);
    expect(token.stdout).toMatch(/run/);

    const rotated = await cli(['rotate', 'metrics'], h);
    expect(rotated.code, rotated.stdout).toBe(0);
    const [key2] = await apiKeys(h);
    expect(key2).not.toBe(key1);
    expect(await whoami(sb.current.app.origin, key1!)).toBe(401);
    expect(await whoami(sb.current.app.origin, key2!)).toBe(200);

    const paid = await cli(['add', 'appcloud/app:analytics-scale', '--name', 'big', '--accept-tos'], h);
    expect(paid.code).toBe(3);
    expect(paid.json().error.code).toBe('PAYMENT_METHOD_REQUIRED');
    expect(Object.keys(sb.current.app.state.data.resources)).toHaveLength(1);

    const removed = await cli(['remove', 'metrics', '--yes'], h);
    expect(removed.code, removed.stdout).toBe(0);
    expect(await whoami(sb.current.app.origin, key2!)).toBe(401);
    expect(await apiKeys(h)).toHaveLength(0);
  }, 180_000);

  it('existing account: exit 3 with the consent URL, approved in Chromium, then --complete', async () => {
    const h = await signIn(sb.current.orchestrator);
    expect((await cli(['providers', 'add', sb.current.app.url, '--protocol', 'app', '--id', 'appcloud'], h)).code).toBe(0);
    const first = await cli(['add', 'appcloud/app:analytics', '--name', 'second', '--accept-tos'], h);
    expect(first.code, first.stdout).toBe(3);
    const err = first.json().error;
    expect(err.code).toBe('CONSENT_REQUIRED');
    expect(err.details.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/agentic\/consent\//);
    expect(first.json().next_steps.join(' ')).toContain('--complete');

    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(err.details.url);
      expect(await page.textContent('#email')).toBe('demo@agentprov.test');
      await Promise.all([page.waitForURL(/\/app\/callback/), page.click('#approve')]);
      expect(await page.textContent('#relayed')).toContain('Approved');
    } finally {
      await browser.close();
    }
    const done = await cli(['add', 'appcloud/app:analytics', '--name', 'second', '--accept-tos', '--complete', '--wait', '10'], h);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.json().data.authorization.via).toBe('consent');
  }, 180_000);

  it('429 with Retry-After is waited out (bounded); an endless 429 ends in a retryable error', async () => {
    // The account exists since the first test: its home holds the grant.
    const h = firstHome!;
    sb.current.app.faults.rateLimit = 2;
    sb.current.app.faults.retryAfterSeconds = 1;
    const t0 = Date.now();
    const ok = await cli(['add', 'appcloud/app:analytics', '--name', 'limited', '--accept-tos'], h);
    expect(ok.code, ok.stdout).toBe(0);
    expect(Date.now() - t0).toBeGreaterThan(1900);
    sb.current.app.faults.rateLimit = 100;
    const failed = await cli(['add', 'appcloud/app:analytics', '--name', 'limited-2'], h);
    sb.current.app.faults.rateLimit = 0;
    expect(failed.code).toBe(5);
    expect(failed.json().error.details).toMatchObject({ provider: 'appcloud', status: 429, retryable: true });
  }, 180_000);

  it('hostile APP answers are refused, naming provider and field', async () => {
    const h = await signIn(sb.current.orchestrator);
    let mode = 'scheme';
    const hostile: Server = createServer((req, res) => {
      const path = req.url ?? '';
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      req.resume();
      req.on('end', () => {
        if (path.endsWith('provisioning/services')) return send(200, { data: [{ id: 'x', pricing: { type: 'free' } }] });
        if (path.endsWith('client_registration')) return send(200, {});
        if (path.endsWith('account_requests')) {
          if (mode === 'scheme') return send(200, { id: 'ignored', type: 'requires_auth', requires_auth: { url: 'javascript:alert(1)' } });
          if (mode === 'escape') return send(400, { error: { code: 'invalid_request', message: 'bad \u001b]8;;http://evil\u0007 link' } });
          if (mode === 'types') return send(200, { id: 42, type: 'oauth', oauth: { code: ['x'] } });
          return send(200, JSON.stringify({ pad: 'x'.repeat(400_000) }));
        }
        send(404, { error: { code: 'not_found', message: 'no' } });
      });
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', () => r()));
    try {
      const base = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/api/agentic/`;
      expect((await cli(['providers', 'add', base, '--protocol', 'app', '--id', 'hostile'], h)).code).toBe(0);
      for (const [m, field] of [
        ['scheme', 'requires_auth.url'],
        ['types', 'id'],
        ['big', 'body'],
      ] as const) {
        mode = m;
        const r = await cli(['add', 'hostile/app:x', '--name', `n-${m}`, '--accept-tos'], h);
        expect(r.code, `${m}: ${r.stdout}`).toBe(5);
        const e = r.json().error;
        expect(e.code).toBe('INVALID_PROVIDER_RESPONSE');
        expect(e.details.provider).toBe('hostile');
        expect(String(e.details.field)).toContain(field);
      }
      mode = 'escape';
      const r = await cli(['add', 'hostile/app:x', '--name', 'n-escape', '--accept-tos'], h);
      expect(r.code).toBe(5);
      expect(r.stdout).not.toMatch(/\u001b|\\u001b/);
      expect(r.json().error.details).toMatchObject({ provider: 'hostile', provider_code: 'invalid_request' });
    } finally {
      await new Promise((r) => hostile.close(() => r(undefined)));
    }
  }, 180_000);
});
