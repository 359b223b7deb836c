/**
 * `add`, `list`/`status`, `remove`, `rotate` and `up` against the real
 * sandbox (identity provider, localcloud, othercloud) in this process, the
 * bundled CLI as child processes, headless Chromium for the human's steps
 * and the real Secret Service for the vault.
 *
 * AGENTPROV_CRASH_RUNS raises the number of SIGKILL-and-re-run rounds
 * (default 30; the full check is 100).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeps } from '../../src/cli/deps.js';
import { openProvider } from '../../src/provision/providers.js';
import { openVault } from '../../src/vault/vault.js';
import { completeDeviceFlow, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { expectNoSecretLeaks, vaultSecrets } from '../helpers/canary.js';
import { type CliResult, isolatedEnv, type ProjectHome as Home, runCli, runCliKilledAtRandom, tempDir } from '../helpers/cli.js';
import { requireSecretService } from '../helpers/keyring.js';
import { DEMO_USER, useSandbox } from '../helpers/sandbox.js';

const haveKeyring = requireSecretService();
const CRASH_RUNS = Number(process.env.AGENTPROV_CRASH_RUNS ?? 30);

describe.runIf(haveKeyring)('add and friends against the sandbox', () => {
  const sb = useSandbox();
  let browser: TestBrowser;
  const outputs: CliResult[] = [];
  const secrets = new Set<string>();
  const dirs: string[] = [];
  const homes: string[] = [];
  const servers: Server[] = [];

  const cli = async (args: string[], h: Home, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> => {
    const r = await runCli(args, { env: h.env, cwd: opts.cwd ?? h.cwd, timeoutMs: opts.timeoutMs ?? 90_000 });
    outputs.push(r);
    return r;
  };
  const newHome = (): Home => {
    const home = tempDir();
    const cwd = tempDir('agentprov-project-');
    dirs.push(home, cwd);
    homes.push(home);
    return { home, cwd, env: isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' }) };
  };
  const project = (h: Home): Home => {
    const cwd = tempDir('agentprov-project-');
    dirs.push(cwd);
    writeFileSync(join(cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
    return { ...h, cwd };
  };
  /** Every token in the vault is a canary for the final scan. */
  const collectSecrets = async (h: Home): Promise<void> => {
    for (const s of await vaultSecrets(h.env, h.home)) secrets.add(s);
    expect(secrets.size).toBeGreaterThan(0);
  };
  /** Agent-mode sign-in: init pends with a device code, Chromium approves it, login --complete finishes. */
  const signedIn = async (user = DEMO_USER): Promise<Home> => {
    const h = newHome();
    const r = await cli(['init', '--orchestrator', sb.current.orchestrator, '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const d = r.json().error.details;
    await browser.context.clearCookies();
    const page = await browser.newPage();
    await completeDeviceFlow(page, { verificationUri: d.verification_uri, userCode: d.user_code, ...user, decision: 'approve' });
    await page.close();
    const done = await cli(['login', '--complete', '--wait', '10', '--json'], h);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    await collectSecrets(h);
    return h;
  };
  const manifestOf = (h: Home): { resources: Array<{ name: string; provider: string; service: string; id?: string; status?: string; config: object }> } =>
    JSON.parse(readFileSync(join(h.cwd, 'agentprov.json'), 'utf8'));
  const live = (providerId: string, name?: string) =>
    sb.current
      .provider(providerId)
      .resources()
      .filter((r) => r.status !== 'deleted' && (name === undefined || r.name === name));
  /** A Provider for the home, in this process (to mint a short-lived token the way `run` will). */
  const providerIn = async (h: Home, id: string) => {
    const deps = { ...createDeps({ json: true, input: false, verbose: false }, h.env), cwd: h.cwd };
    return openProvider(deps, id);
  };

  /** The consent path at a provider: code, sign-in at the provider, the terms checkbox when there is no account yet, Approve. */
  const approveAtProvider = async (verificationUri: string, userCode: string, user: { email: string; password: string }): Promise<void> => {
    await browser.context.clearCookies();
    const page = await browser.newPage();
    await completeDeviceFlow(page, { verificationUri, userCode, ...user, decision: 'approve', acceptTerms: true });
    await page.close();
  };

  let demo: Home;

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    for (const s of servers) s.close();
  });

  it('terms: without --accept-tos an agent gets exit 3 TERMS_ACCEPTANCE_REQUIRED and no account is created', async () => {
    demo = await signedIn();
    const accounts = () => sb.current.provider('localcloud').auth.accounts().length;
    const accountsBefore = accounts();
    const resourcesBefore = live('localcloud').length;
    const r = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--json'], demo);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const e = r.json();
    expect(e.error.code).toBe('TERMS_ACCEPTANCE_REQUIRED');
    expect(JSON.stringify(e)).toContain('/terms');
    expect(e.next_steps[0]).toContain('--accept-tos');
    expect(accounts()).toBe(accountsBefore);
    expect(live('localcloud')).toHaveLength(resourcesBefore);
    expect(manifestOf(demo).resources).toEqual([]);

    const pre = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--preflight', '--json'], demo);
    expect(pre.code, pre.stdout + pre.stderr).toBe(0);
    expect(pre.json().data.blockers.map((b: { code: string }) => b.code)).toEqual(['TERMS_ACCEPTANCE_REQUIRED']);
    // --preflight with --accept-tos reports no blocker, and still creates no account
    const preOk = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--preflight', '--accept-tos', '--json'], demo);
    expect(preOk.json().data.blockers, preOk.stdout).toEqual([]);
    expect(accounts()).toBe(accountsBefore);
  });

  it('zero to provisioned: add --accept-tos creates the account and a KV namespace that works with a minted token', async () => {
    const r = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--accept-tos', '--json'], demo);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const data = r.json().data;
    expect(data).toMatchObject({ name: 'cache', provider: 'localcloud', service: 'kv:namespace', status: 'active', env: ['LOCALCLOUD_TOKEN', 'LOCALCLOUD_KV_URL'] });
    expect(data.authorization).toMatchObject({ via: 'attested', account_created: true });
    await collectSecrets(demo);
    const [res] = live('localcloud', 'cache');
    expect(res?.id).toBe(data.id);
    expect(manifestOf(demo).resources).toEqual([expect.objectContaining({ name: 'cache', provider: 'localcloud', service: 'kv:namespace', id: data.id, status: 'active' })]);

    const provider = await providerIn(demo, 'localcloud');
    const cred = await provider.mint({ ttlSeconds: 300 });
    secrets.add(cred.token);
    const url = String(res!.resource.url);
    const put = await fetch(`${url}/keys/greeting`, { method: 'PUT', headers: { authorization: `Bearer ${cred.token}`, 'content-type': 'text/plain' }, body: 'hello' });
    expect(put.status).toBeLessThan(300);
    const get = await fetch(`${url}/keys/greeting`, { headers: { authorization: `Bearer ${cred.token}` } });
    expect(await get.text()).toBe('hello');
    await provider.revoke(cred);

    // The same add again: nothing new.
    const again = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--json'], demo);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.json().data).toMatchObject({ id: data.id, already_provisioned: true });
    expect(live('localcloud', 'cache')).toHaveLength(1);

    const list = await cli(['list', '--json'], demo);
    expect(list.code, list.stdout + list.stderr).toBe(0);
    expect(list.json().data.resources).toEqual([expect.objectContaining({ name: 'cache', provider: 'localcloud', service: 'kv:namespace', id: data.id, status: 'active', refreshed: true })]);
    const status = await cli(['status', '--json'], demo);
    expect(status.json().data.signed_in).toMatchObject({ email: DEMO_USER.email });

    const audit = await cli(['audit', '--json'], demo);
    expect(audit.stdout).toContain('terms_accepted');
    expect(audit.stdout).toContain('provisioned');
  });

  it('consent path: othercloud exits 3 CONSENT_REQUIRED; Chromium approves the device code; --complete finishes', async () => {
    // --preflight names the consent but starts nothing: no device code waits in the vault.
    const pre = await cli(['add', 'othercloud/storage:bucket', '--name', 'files', '--preflight', '--json'], demo);
    expect(pre.json().data.blockers.map((b: { code: string }) => b.code), pre.stdout).toEqual(['CONSENT_REQUIRED']);
    const vaultNames = await (await openVault({ env: demo.env, stateDir: join(demo.home, 'state') })).names();
    expect(vaultNames.filter((n) => n.includes('othercloud'))).toEqual([]);

    const r = await cli(['add', 'othercloud/storage:bucket', '--name', 'files', '--json'], demo);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const e = r.json();
    expect(e.error.code).toBe('CONSENT_REQUIRED');
    const d = e.error.details;
    expect(new URL(d.verification_uri).origin).toBe(sb.current.provider('othercloud').url);
    expect(typeof d.user_code).toBe('string');
    expect(e.next_steps[0]).toContain('agentprov add othercloud/storage:bucket --name files');
    expect(e.next_steps[0]).toContain('--complete');
    expect(live('othercloud', 'files')).toHaveLength(0);

    await approveAtProvider(d.verification_uri, d.user_code, DEMO_USER);

    const done = await cli(['add', 'othercloud/storage:bucket', '--name', 'files', '--complete', '--wait', '20', '--json'], demo);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.json().data).toMatchObject({ name: 'files', status: 'active', authorization: { via: 'consent' } });
    expect(live('othercloud', 'files')).toHaveLength(1);
    await collectSecrets(demo);
  });

  it('bad input: unknown service, schema violation, --param coercion, name clash; nothing half-written', async () => {
    const h = project(demo);
    const unknown = await cli(['add', 'localcloud/kv:namespaec', '--json'], h);
    expect(unknown.code).toBe(2);
    expect(unknown.json().error).toMatchObject({ code: 'SERVICE_NOT_FOUND', details: { suggestions: expect.arrayContaining(['localcloud/kv:namespace']) } });

    const bad = await cli(['add', 'localcloud/workers:script', '--config', '{"name":"Bad Name!"}', '--json'], h);
    expect(bad.code).toBe(2);
    expect(bad.json().error).toMatchObject({ code: 'INVALID_CONFIG', details: { field: 'config.name' } });
    const missing = await cli(['add', 'localcloud/workers:script', '--json'], h);
    expect(missing.json().error).toMatchObject({ code: 'INVALID_CONFIG', details: { field: 'config.name' } });
    const extra = await cli(['add', 'localcloud/workers:script', '--param', 'name=site', '--param', 'colour=red', '--json'], h);
    expect(extra.json().error).toMatchObject({ code: 'INVALID_CONFIG', details: { field: 'config.colour' } });

    const pre = await cli(['add', 'localcloud/nope:nope', '--config', '[1]', '--preflight', '--json'], h);
    expect(pre.code).toBe(2); // --config that is not an object is a usage error before preflight
    const pre2 = await cli(['add', 'localcloud/nope:nope', '--preflight', '--json'], h);
    expect(pre2.code).toBe(0);
    expect(pre2.json().data.blockers.map((b: { code: string }) => b.code)).toEqual(['SERVICE_NOT_FOUND']);

    const ok = await cli(['add', 'localcloud/workers:script', '--param', 'name=site', '--name', 'web', '--json'], h);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const clash = await cli(['add', 'localcloud/kv:namespace', '--name', 'web', '--json'], h);
    expect(clash.code).toBe(2);
    expect(clash.json().error.code).toBe('NAME_IN_USE');
    expect(manifestOf(h).resources.map((r) => r.name)).toEqual(['web']);
  });

  it('bad input: 5xx from the provisioning call is PROVIDER_ERROR after retries with one key; the re-run makes exactly one resource', async () => {
    const h = project(demo);
    const lc = sb.current.provider('localcloud');
    lc.setFaults({ status5xx: 20, paths: '/v1/provisions' });
    const r = await cli(['add', 'localcloud/kv:namespace', '--name', 'flaky', '--json'], h);
    lc.setFaults({});
    expect(r.code, r.stdout + r.stderr).toBe(5);
    expect(['PROVIDER_ERROR', 'PROVIDER_UNREACHABLE']).toContain(r.json().error.code);
    expect(r.json().next_steps[0]).toContain('--name flaky');
    expect(manifestOf(h).resources).toEqual([]);
    const again = await cli(['add', 'localcloud/kv:namespace', '--name', 'flaky', '--json'], h);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(live('localcloud', 'flaky')).toHaveLength(1);
  });

  it('bad input: a provider whose 401 names metadata on a foreign host is refused before anything is sent', async () => {
    const h = project(demo);
    let provisions = 0;
    const server = createServer((req, res) => {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/.well-known/agent-provisioning') {
        return json(200, { provider_id: 'foreign', name: 'Foreign', terms_url: `${base}/terms`, terms_version: '1', catalog_url: `${base}/catalog`, provisioning_endpoint: `${base}/v1/provisions`, resource: base });
      }
      if (req.url === '/catalog') {
        return json(200, { provider_id: 'foreign', services: [{ id: 'kv:namespace', name: 'KV', description: 'kv', categories: [], pricing: { type: 'free' }, config_schema: { type: 'object' }, scopes: ['provision'], env: {}, kind: 'resource', async: false }] }, { etag: '"1"', 'cache-control': 'max-age=60' });
      }
      if (req.url?.startsWith('/v1/provisions') && req.method === 'POST') provisions++;
      return json(401, { error: { code: 'UNAUTHORIZED', message: 'no token' } }, { 'www-authenticate': 'Bearer resource_metadata="http://evil.example/.well-known/oauth-protected-resource"' });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await cli(['providers', 'add', url, '--json'], h)).code).toBe(0);
    const r = await cli(['add', 'foreign/kv:namespace', '--name', 'x', '--accept-tos', '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(5);
    expect(['PROVIDER_UNTRUSTED_METADATA', 'INVALID_PROVIDER_RESPONSE']).toContain(r.json().error.code);
    expect(provisions).toBe(0);
    expect(manifestOf(h).resources).toEqual([]);
    expect((await cli(['providers', 'remove', 'foreign', '--json'], h)).code).toBe(0);
  });

  it("mix-up: a hostile provider naming localcloud's authorization server gets no credential, through add or a cloned manifest's up", async () => {
    // demo has a localcloud account with resources (the tests above): the prize.
    const localcloud = sb.current.provider('localcloud');
    const before = JSON.stringify(live('localcloud'));
    expect(live('localcloud').length).toBeGreaterThan(0);
    const log: Array<{ method: string; path: string; credential: boolean }> = [];
    let base = '';
    const server = createServer((req, res) => {
      const credential = Boolean(req.headers.authorization || req.headers.cookie || /token|assertion/i.test(req.url ?? ''));
      log.push({ method: req.method ?? '', path: req.url ?? '', credential });
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/.well-known/agent-provisioning') {
        return json(200, { provider_id: 'hostile', name: 'Hostile', terms_url: `${base}/terms`, terms_version: '1', catalog_url: `${base}/catalog`, provisioning_endpoint: `${base}/v1/provisions`, resource: base, client_id: 'agentprov-cli' });
      }
      if (req.url === '/catalog') {
        return json(200, { provider_id: 'hostile', services: [{ id: 'kv:namespace', name: 'KV', description: 'kv', categories: [], pricing: { type: 'free' }, config_schema: { type: 'object' }, scopes: ['provision'], env: {}, kind: 'resource', async: false }] });
      }
      // Its own RFC 9728 metadata, on its own origin, naming localcloud's authorization server.
      if (req.url === '/.well-known/oauth-protected-resource') return json(200, { resource: base, authorization_servers: [localcloud.auth.issuer] });
      return json(401, { error: { code: 'UNAUTHORIZED', message: 'no token' } }, { 'www-authenticate': `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource"` });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // 1. Through add, after the user registered it.
    const h = project(demo);
    expect((await cli(['providers', 'add', base, '--json'], h)).code).toBe(0);
    const r = await cli(['add', 'hostile/kv:namespace', '--name', 'loot', '--accept-tos', '--json', '--no-input'], h);
    expect(r.code, r.stdout + r.stderr).toBe(5);
    expect(r.json().error).toMatchObject({ code: 'PROVIDER_UNTRUSTED_METADATA', details: { provider: 'hostile', field: 'authorization_servers[0]' } });
    expect((await cli(['providers', 'remove', 'hostile', '--json'], h)).code).toBe(0);

    // 2. Through up in a cloned project whose agentprov.json names it: refused until the human says yes, then refused by the origin rule.
    const cloned = { ...demo, cwd: tempDir('agentprov-cloned-') };
    dirs.push(cloned.cwd);
    writeFileSync(
      join(cloned.cwd, 'agentprov.json'),
      JSON.stringify({ version: 1, providers: [{ url: `${base}/.well-known/agent-provisioning` }], resources: [{ name: 'loot', provider: 'hostile', service: 'kv:namespace', config: {} }] }),
    );
    const up = await cli(['up', '--json', '--no-input'], cloned);
    expect(up.code, up.stdout + up.stderr).toBe(3);
    expect(up.json().error.code).toBe('PROVIDER_NOT_TRUSTED');
    expect(up.json().next_steps).toContain('agentprov up --trust-manifest-providers');
    const trusted = await cli(['up', '--trust-manifest-providers', '--json', '--no-input'], cloned);
    expect(trusted.code, trusted.stdout + trusted.stderr).toBe(5);
    expect(trusted.json().error.code).toBe('PROVIDER_UNTRUSTED_METADATA');
    const audit = await cli(['audit', '--json'], cloned);
    expect(JSON.stringify(audit.json().data)).toContain('provider_trusted');
    expect((await cli(['providers', 'remove', 'hostile', '--json'], cloned)).code).toBe(0);

    // No request carrying a credential ever reached the hostile origin, and localcloud is untouched.
    expect(log.length).toBeGreaterThan(0);
    expect(log.filter((l) => l.credential)).toEqual([]);
    expect(log.filter((l) => l.method !== 'GET')).toEqual([]);
    expect(JSON.stringify(live('localcloud'))).toBe(before);
  });

  it('remove: agent mode without --yes is exit 3 CONFIRMATION_REQUIRED; with --yes the resource is deleted at the provider and from the manifest', async () => {
    const h = project(demo);
    const added = await cli(['add', 'localcloud/kv:namespace', '--name', 'tmp', '--json'], h);
    expect(added.code, added.stdout + added.stderr).toBe(0);
    const r = await cli(['remove', 'tmp', '--json'], h);
    expect(r.code).toBe(3);
    expect(r.json()).toMatchObject({ error: { code: 'CONFIRMATION_REQUIRED' }, next_steps: ['agentprov remove tmp --yes'] });
    expect(live('localcloud', 'tmp')).toHaveLength(1);
    const rot = await cli(['rotate', 'tmp', '--json'], h);
    expect(rot.code, rot.stdout + rot.stderr).toBe(0);
    await collectSecrets(h);
    const yes = await cli(['remove', 'tmp', '--yes', '--json'], h);
    expect(yes.code, yes.stdout + yes.stderr).toBe(0);
    expect(live('localcloud', 'tmp')).toHaveLength(0);
    expect(manifestOf(h).resources).toEqual([]);
    const missing = await cli(['remove', 'tmp', '--yes', '--json'], h);
    expect(missing.json().error.code).toBe('RESOURCE_NOT_FOUND');
  });

  it('up twice on a manifest of four services: the first provisions four, the second nothing', async () => {
    const h = project(demo);
    writeFileSync(
      join(h.cwd, 'agentprov.json'),
      JSON.stringify({
        version: 1,
        resources: [
          { name: 'up-kv', provider: 'localcloud', service: 'kv:namespace' },
          { name: 'up-site', provider: 'localcloud', service: 'workers:script', config: { name: 'upsite' } },
          { name: 'up-bucket', provider: 'othercloud', service: 'storage:bucket' },
          { name: 'up-queue', provider: 'othercloud', service: 'queue:basic' },
        ],
      }),
    );
    const first = await cli(['up', '--json'], h);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.json().data).toMatchObject({ provisioned: 4, unchanged: 0 });
    const second = await cli(['up', '--json'], h);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.json().data).toMatchObject({ provisioned: 0, unchanged: 4 });
    for (const [p, n] of [['localcloud', 'up-kv'], ['localcloud', 'up-site'], ['othercloud', 'up-bucket'], ['othercloud', 'up-queue']] as const) {
      expect(live(p, n)).toHaveLength(1);
    }
    expect(manifestOf(h).resources.every((r) => r.status === 'active' && r.id)).toBe(true);
  });

  it(`crash safety: ${CRASH_RUNS} adds killed (SIGKILL) at a random moment and re-run, plus dropped connections and timeouts: one resource per intended add`, async () => {
    const h = project(demo);
    const lc = sb.current.provider('localcloud');
    const names: string[] = [];
    for (let i = 0; i < CRASH_RUNS; i++) {
      const name = `crash-${i}`;
      names.push(name);
      const args = ['add', 'localcloud/kv:namespace', '--name', name, '--json'];
      await runCliKilledAtRandom(args, { env: h.env, cwd: h.cwd });
      if (i % 3 === 1) lc.setFaults({ dropConnection: 1, paths: '/v1/provisions' });
      const again = await cli(args, h);
      lc.setFaults({});
      expect(again.code, `${name}: ${again.stdout}${again.stderr}`).toBe(0);
    }
    // A provider that holds the request past the client's deadline.
    // The first POST waits 35 s at the provider, past the client's 30 s deadline; the retry (same key) meets no delay.
    lc.setFaults({ latencyMs: 35_000, paths: '/v1/provisions' });
    setTimeout(() => lc.setFaults({}), 3000);
    const started = Date.now();
    const slow = await cli(['add', 'localcloud/kv:namespace', '--name', 'slow', '--json'], h, { timeoutMs: 120_000 });
    // The client gave up on the held request (its deadline) and resumed with the same key.
    expect(Date.now() - started).toBeGreaterThan(5000);
    await new Promise((r) => setTimeout(r, 6000)); // let the held request finish at the provider (a replay)
    names.push('slow');
    if (slow.code !== 0) {
      expect(slow.code, slow.stdout + slow.stderr).toBe(5);
      const again = await cli(['add', 'localcloud/kv:namespace', '--name', 'slow', '--json'], h, { timeoutMs: 120_000 });
      expect(again.code, again.stdout + again.stderr).toBe(0);
    }
    const manifest = manifestOf(h);
    for (const name of names) {
      const at = live('localcloud', name);
      expect(at, name).toHaveLength(1);
      const inManifest = manifest.resources.filter((r) => r.name === name);
      expect(inManifest, name).toHaveLength(1);
      expect(inManifest[0]!.id, name).toBe(at[0]!.id);
    }
    const verify = await cli(['audit', '--verify', '--json'], h);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 900_000);

  it('canary scan: no token or device code from the vault appears in any output or in any file outside the vault', async () => {
    // What the vaults hold now (tokens written after the last collection included).
    for (const home of homes) for (const s of await vaultSecrets(isolatedEnv(home), home)) secrets.add(s);
    expect(secrets.size).toBeGreaterThan(3);
    expectNoSecretLeaks(secrets, outputs, dirs);
  });
});
