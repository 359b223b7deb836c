/**
 * The provider protocol client (src/providers/agentprov/) against the real
 * counterparts: the sandbox (identity provider, rail, localcloud,
 * othercloud) in this process, the user signed in through the bundled CLI
 * as in test/e2e/signin.test.ts, headless Chromium for the human's consent, the real
 * Secret Service for the vault. A few tiny loopback servers play broken
 * providers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSession } from '../../src/auth/session.js';
import { createDeps, type Deps } from '../../src/cli/deps.js';
import { AgentprovError } from '../../src/core/errors.js';
import { ProviderDescriptorSchema, type ProviderDescriptor } from '../../src/wire/provider.js';
import { openProtocolProvider } from '../../src/providers/agentprov/index.js';
import type { Provider } from '../../src/providers/provider.js';
import { openVault } from '../../src/vault/vault.js';
import { approveConsent, completeDeviceFlow, enterDeviceCode, launchBrowser, signIn, type TestBrowser } from '../helpers/browser.js';
import { filesUnder, isolatedEnv, type ProjectHome as Home, runCli, tempDir } from '../helpers/cli.js';
import { bufferIO } from '../helpers/io.js';
import { rejection } from '../helpers/errors.js';
import { requireSecretService } from '../helpers/keyring.js';
import { DEMO_USER, useSandbox } from '../helpers/sandbox.js';

const haveKeyring = requireSecretService();

async function listen(handler: Parameters<typeof createServer>[1], host = '127.0.0.1'): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, url: `http://${host}:${(server.address() as AddressInfo).port}` };
}

/** The error a promise rejects with, as an AgentprovError. */
const failure = rejection;

describe.runIf(haveKeyring)('provider protocol client against the sandbox', () => {
  const sb = useSandbox();
  let browser: TestBrowser;
  let demo: Home;
  const servers: Server[] = [];
  const errors: AgentprovError[] = [];
  const ios: Array<ReturnType<typeof bufferIO>> = [];

  /** A signed-in home, the way test/e2e/signin.test.ts signs in an agent: init → Chromium approves → login --complete. */
  async function signedIn(user: { email: string; password: string }): Promise<Home> {
    const home = tempDir();
    const cwd = tempDir('agentprov-project-');
    const env = isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' });
    const init = await runCli(['init', '--orchestrator', sb.current.orchestrator, '--json'], { env, cwd, timeoutMs: 60_000 });
    expect(init.code, init.stdout + init.stderr).toBe(3);
    const d = init.json().error.details;
    await browser.context.clearCookies();
    const page = await browser.newPage();
    await completeDeviceFlow(page, { verificationUri: d.verification_uri, userCode: d.user_code, ...user, decision: 'approve' });
    await page.close();
    const done = await runCli(['login', '--complete', '--wait', '10', '--json'], { env, cwd, timeoutMs: 60_000 });
    expect(done.code, done.stdout + done.stderr).toBe(0);
    return { home, env, cwd };
  }

  function depsFor(h: Home): Deps {
    const io = bufferIO();
    ios.push(io);
    return { ...createDeps({ json: true, input: false, verbose: false }, h.env, io), cwd: h.cwd };
  }

  async function descriptorOf(id: string): Promise<{ descriptorUrl: string; descriptor: ProviderDescriptor }> {
    const descriptorUrl = `${sb.current.provider(id).url}/.well-known/agent-provisioning`;
    const descriptor = ProviderDescriptorSchema.parse(await (await fetch(descriptorUrl)).json());
    return { descriptorUrl, descriptor };
  }

  async function providerFor(h: Home, id: string): Promise<Provider> {
    return openProtocolProvider(depsFor(h), { id, ...(await descriptorOf(id)) });
  }

  const expectFailure = async (p: Promise<unknown>, code: string, exit: number): Promise<AgentprovError> => {
    const err = await failure(p);
    errors.push(err);
    expect(err.code, err.message).toBe(code);
    expect(err.exitCode).toBe(exit);
    return err;
  };

  const accountsOf = (id: string, email: string) => sb.current.provider(id).auth.accounts().filter((a) => a.email === email);

  beforeAll(async () => {
    browser = await launchBrowser();
    demo = await signedIn(DEMO_USER);
  });
  afterAll(async () => {
    await browser?.close();
    for (const s of servers) s.close();
  });

  it('attested authorize creates the localcloud account only with acceptTerms; a second authorize uses the stored grant', async () => {
    const lc = await providerFor(demo, 'localcloud');
    const terms = await expectFailure(lc.authorize({ acceptTerms: false, interactive: false }), 'TERMS_ACCEPTANCE_REQUIRED', 3);
    expect(terms.details).toMatchObject({ provider: 'localcloud', terms_url: `${sb.current.provider('localcloud').url}/terms`, terms_version: '2026-11-01' });
    expect(terms.nextSteps).toEqual(['agentprov add localcloud/<service> --accept-tos']);
    expect(accountsOf('localcloud', DEMO_USER.email)).toEqual([]);

    const auth = await lc.authorize({ acceptTerms: true, interactive: false });
    expect(auth).toMatchObject({ accountCreated: true, via: 'attested', termsVersion: '2026-11-01' });
    const [account] = accountsOf('localcloud', DEMO_USER.email);
    expect(account).toMatchObject({ id: auth.accountId, termsVersion: '2026-11-01' });

    // A new process (fresh deps, fresh provider) finds the grant in the vault.
    const again = await (await providerFor(demo, 'localcloud')).authorize({ acceptTerms: false, interactive: false });
    expect(again).toEqual({ accountId: auth.accountId, accountCreated: false, via: 'stored_grant' });
    expect(accountsOf('localcloud', DEMO_USER.email)).toHaveLength(1);

    // What was learnt is cached, without secrets: the issuer and the published client id.
    const cached = readdirSync(join(demo.home, 'cache', 'providers')).map((f) => JSON.parse(readFileSync(join(demo.home, 'cache', 'providers', f), 'utf8')));
    expect(cached).toContainEqual(expect.objectContaining({ provider_id: 'localcloud', issuer: sb.current.provider('localcloud').auth.issuer, client_id: 'agentprov-cli', client_source: 'descriptor' }));
  });

  let kv: { id: string; url: string };

  it('provisions a free KV namespace (201 active); the same key twice gives the same id', async () => {
    const lc = await providerFor(demo, 'localcloud');
    const input = { service: 'kv:namespace', name: 'cache', config: {}, idempotencyKey: 'test-kv-1' };
    const first = await lc.provision(input);
    expect(first).toMatchObject({ service: 'kv:namespace', name: 'cache', status: 'active' });
    const second = await lc.provision(input);
    expect(second.id).toBe(first.id);
    expect(sb.current.provider('localcloud').resources().filter((r) => r.name === 'cache')).toHaveLength(1);
    kv = { id: first.id, url: String(first.resource.url) };

    // Same key, different request: the provider refuses, nothing new.
    const reused = await expectFailure(lc.provision({ ...input, name: 'other' }), 'PROVIDER_ERROR', 5);
    expect(reused.details).toMatchObject({ provider_code: 'IDEMPOTENCY_KEY_REUSED' });
    // Config the provider's schema refuses → INVALID_CONFIG naming the field.
    const bad = await expectFailure(lc.provision({ service: 'workers:script', name: 'site', config: { name: 'NOT VALID!' }, idempotencyKey: 'test-bad' }), 'INVALID_CONFIG', 2);
    expect(String(bad.details.field)).toMatch(/^config/);
    await expectFailure(lc.provision({ service: 'nope:nope', name: 'x', config: {}, idempotencyKey: 'test-nope' }), 'SERVICE_NOT_FOUND', 2);
  });

  it('a paid service without a payment token is a 402 quote; with one, the async domain answers 202 and get() sees it active', async () => {
    const lc = await providerFor(demo, 'localcloud');
    const quote = await expectFailure(
      lc.provision({ service: 'registrar:domain', name: 'site-domain', config: { domain: 'client-test.test' }, idempotencyKey: 'test-domain-1' }),
      'PAYMENT_REQUIRED_QUOTE',
      4,
    );
    expect(quote.details.quote).toEqual({ amount: 1200, currency: 'USD' });

    const deps = depsFor(demo);
    const session = await getSession(deps);
    const minted = await fetch(`${sb.current.paymentRail}/v1/payment_tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'localcloud', service: 'registrar:domain', max_amount: 1200, currency: 'USD' }),
    });
    expect(minted.status).toBe(201);
    const paymentToken = ((await minted.json()) as { payment_token: string }).payment_token;
    const pending = await lc.provision({ service: 'registrar:domain', name: 'site-domain', config: { domain: 'client-test.test' }, idempotencyKey: 'test-domain-1', paymentToken });
    expect(pending.status).toBe('pending');
    let current = pending;
    for (let i = 0; i < 40 && current.status === 'pending'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      current = await lc.get(pending.id, pending.name);
    }
    expect(current).toMatchObject({ id: pending.id, status: 'active', charge: { amount: 1200, currency: 'USD' } });
  });

  it('mint → the token works against the KV URL; revoke → refused; rotate replaces the grant and retires the old access token', async () => {
    const lc = await providerFor(demo, 'localcloud');
    const cred = await lc.mint({ ttlSeconds: 120, scopes: ['kv:read', 'kv:write'] });
    expect(cred.shortLived).toBe(true);
    expect(cred.expiresAt.getTime() - Date.now()).toBeGreaterThan(100_000);
    expect(cred.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(121_000);
    const put = await fetch(`${kv.url}/keys/greeting`, { method: 'PUT', headers: { authorization: `Bearer ${cred.token}`, 'content-type': 'text/plain' }, body: 'hello' });
    expect(put.status).toBeLessThan(300);
    const got = await fetch(`${kv.url}/keys/greeting`, { headers: { authorization: `Bearer ${cred.token}` } });
    expect(await got.text()).toBe('hello');

    await lc.revoke(cred);
    const refused = await fetch(`${kv.url}/keys/greeting`, { headers: { authorization: `Bearer ${cred.token}` } });
    expect(refused.status).toBe(401);

    const vault = await openVault({ env: demo.env, stateDir: join(demo.home, 'state') });
    const before = (await vault.get('provider-grant:localcloud')) as { refresh_token: string; access_token: string };
    await lc.rotate();
    const after = (await vault.get('provider-grant:localcloud')) as { refresh_token: string; access_token: string };
    expect(after.refresh_token).not.toBe(before.refresh_token);
    const old = await fetch(`${kv.url}/keys`, { headers: { authorization: `Bearer ${before.access_token}` } });
    expect(old.status).toBe(401);
    const fresh = await lc.mint({ ttlSeconds: 60, scopes: ['kv:read'] });
    expect((await fetch(`${kv.url}/keys/greeting`, { headers: { authorization: `Bearer ${fresh.token}` } })).status).toBe(200);
    await lc.revoke(fresh);
  });

  it('remove deletes the provision; removing it again is not an error', async () => {
    const lc = await providerFor(demo, 'localcloud');
    await lc.remove(kv.id);
    expect(sb.current.provider('localcloud').resources().find((r) => r.id === kv.id)?.status).toBe('deleted');
    await lc.remove(kv.id);
  });

  it('othercloud in agent mode: CONSENT_REQUIRED (client registered with RFC 7591), approved in Chromium, completeWaitSeconds finishes it', async () => {
    const oc = await providerFor(demo, 'othercloud');
    const consent = await expectFailure(oc.authorize({ acceptTerms: true, interactive: false }), 'CONSENT_REQUIRED', 3);
    const d = consent.details as Record<string, string>;
    const issuer = sb.current.provider('othercloud').auth.issuer;
    expect(d.verification_uri).toBe(`${issuer}/device`);
    expect(d.verification_uri_complete).toContain(d.user_code);
    expect(Date.parse(d.expires_at!)).toBeGreaterThan(Date.now());
    expect(consent.nextSteps).toEqual(['agentprov add othercloud/<service> --complete']);
    const cacheDir = join(demo.home, 'cache', 'providers');
    const cached = readdirSync(cacheDir).map((f) => JSON.parse(readFileSync(join(cacheDir, f), 'utf8')));
    const entry = cached.find((c) => c.provider_id === 'othercloud');
    expect(entry).toMatchObject({ issuer, client_source: 'registered' });
    expect(entry.client_id).not.toBe('agentprov-cli');

    // Re-run before the human acted: the same consent, not a new code; --complete still pending.
    const again = await expectFailure((await providerFor(demo, 'othercloud')).authorize({ acceptTerms: true, interactive: false }), 'CONSENT_REQUIRED', 3);
    expect(again.details.user_code).toBe(d.user_code);
    await expectFailure((await providerFor(demo, 'othercloud')).authorize({ acceptTerms: true, interactive: false, completeWaitSeconds: 0 }), 'AUTHORIZATION_PENDING', 3);

    await browser.context.clearCookies();
    const page = await browser.newPage();
    await enterDeviceCode(page, d.verification_uri!, d.user_code!);
    const next = await page.waitForSelector('input[name=password], [data-action="approve"]');
    if ((await next.getAttribute('name')) === 'password') await signIn(page, DEMO_USER.email, DEMO_USER.password);
    await page.check('input[name=accept_terms]');
    await approveConsent(page);
    await page.waitForSelector('text=connected');
    await page.close();

    const done = await (await providerFor(demo, 'othercloud')).authorize({ acceptTerms: true, interactive: false, completeWaitSeconds: 10 });
    expect(done).toMatchObject({ via: 'consent', accountCreated: false });
    expect(sb.current.provider('othercloud').auth.accounts().map((a) => a.id)).toContain(done.accountId);
    const vault = await openVault({ env: demo.env, stateDir: join(demo.home, 'state') });
    expect(await vault.get('provider-consent:othercloud')).toBeUndefined();

    const oc2 = await providerFor(demo, 'othercloud');
    expect(await oc2.authorize({ acceptTerms: false, interactive: false })).toMatchObject({ via: 'stored_grant', accountId: done.accountId });
    const bucket = await oc2.provision({ service: 'storage:bucket', name: 'files', config: {}, idempotencyKey: 'test-bucket-1' });
    expect(bucket.status).toBe('active');
  });

  it('a 401 naming resource metadata on a foreign origin is refused (PROVIDER_UNTRUSTED_METADATA, exit 5)', async () => {
    const other = await listen((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), 'localhost');
    const fake = await listen((_req, res) =>
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${other.url}/.well-known/oauth-protected-resource"`, 'content-type': 'application/json' }).end('{"error":{"code":"UNAUTHORIZED","message":"token"}}'),
    );
    servers.push(other.server, fake.server);
    const { descriptor } = await descriptorOf('localcloud');
    const foreign = openProtocolProvider(depsFor(demo), {
      id: 'foreign',
      descriptorUrl: `${fake.url}/.well-known/agent-provisioning`,
      descriptor: { ...descriptor, provider_id: 'foreign', provisioning_endpoint: `${fake.url}/v1/provisions`, resource: fake.url },
    });
    const err = await expectFailure(foreign.authorize({ acceptTerms: true, interactive: false }), 'PROVIDER_UNTRUSTED_METADATA', 5);
    expect(err.details).toMatchObject({ provider: 'foreign', expected_origin: fake.url });
  });

  it('a provider answering garbage → INVALID_PROVIDER_RESPONSE; a 500 → PROVIDER_ERROR, retryable', async () => {
    const lcIssuer = sb.current.provider('localcloud').auth.issuer;
    let mode: 'garbage' | 'deep' | '500' | 'metadata-garbage' | 'metadata-deep' | 'as-deep' = 'garbage';
    const nested = '['.repeat(10_000) + ']'.repeat(10_000);
    const fake = await listen((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (!req.headers.authorization) {
        if (path === '/.well-known/oauth-authorization-server') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ issuer: fake.url, token_endpoint: `${fake.url}/token`, x: '@' }).replace('"@"', nested));
        }
        if (path === '/.well-known/oauth-protected-resource') {
          res.writeHead(200, { 'content-type': 'application/json' });
          if (mode === 'as-deep') return res.end(JSON.stringify({ resource: fake.url, authorization_servers: [fake.url] }));
          if (mode === 'metadata-deep') return res.end(JSON.stringify({ resource: fake.url, authorization_servers: [lcIssuer], x: '@' }).replace('"@"', nested));
          return res.end(mode === 'metadata-garbage' ? '<html>oops' : JSON.stringify({ resource: fake.url, authorization_servers: [lcIssuer] }));
        }
        res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${fake.url}/.well-known/oauth-protected-resource"` });
        return res.end();
      }
      if (mode === '500') return res.writeHead(500, { 'content-type': 'text/html' }).end('<h1>\u001b[31mboom</h1>');
      if (mode === 'deep') return res.writeHead(201, { 'content-type': 'application/json' }).end(`{"x":${nested}}`);
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"id": "prv_1", "status": "act');
    });
    servers.push(fake.server);
    const { descriptor } = await descriptorOf('localcloud');
    const entry = {
      id: 'localcloud',
      descriptorUrl: `${fake.url}/.well-known/agent-provisioning`,
      descriptor: { ...descriptor, provisioning_endpoint: `${fake.url}/v1/provisions`, resource: fake.url },
    };
    // The demo home holds a localcloud grant, so the broken endpoint gets a real token.
    const broken = openProtocolProvider(depsFor(demo), entry);
    const input = { service: 'kv:namespace', name: 'junk', config: {}, idempotencyKey: 'test-junk-1' };
    await expectFailure(broken.provision(input), 'INVALID_PROVIDER_RESPONSE', 5);
    // Nested 10,000 levels deep: refused before anything recurses into it, never a stack overflow.
    mode = 'deep';
    const eDeep = await expectFailure(broken.provision(input), 'INVALID_PROVIDER_RESPONSE', 5);
    expect(eDeep.message).toMatch(/field "x\.0\.0\.0…": nested deeper than 32 levels/);
    mode = '500';
    const e500 = await expectFailure(broken.provision(input), 'PROVIDER_ERROR', 5);
    expect(e500.details).toMatchObject({ status: 500, retryable: true });
    expect(e500.message).not.toContain('\u001b');

    // Garbage during discovery, for a provider agentprov holds no grant at.
    mode = 'metadata-garbage';
    const fresh = openProtocolProvider(depsFor(demo), { ...entry, id: 'garbled', descriptor: { ...entry.descriptor, provider_id: 'garbled' } });
    await expectFailure(fresh.authorize({ acceptTerms: true, interactive: false }), 'INVALID_PROVIDER_RESPONSE', 5);
    mode = 'metadata-deep';
    const deeper = openProtocolProvider(depsFor(demo), { ...entry, id: 'deeper', descriptor: { ...entry.descriptor, provider_id: 'deeper' } });
    const eMeta = await expectFailure(deeper.authorize({ acceptTerms: true, interactive: false }), 'INVALID_PROVIDER_RESPONSE', 5);
    expect(eMeta.message).toMatch(/protected resource metadata, field "x\.0\.0\.0…": nested deeper than 32 levels/);
    // The authorization server's metadata (read by openid-client) too.
    mode = 'as-deep';
    const deepAs = openProtocolProvider(depsFor(demo), { ...entry, id: 'deepas', descriptor: { ...entry.descriptor, provider_id: 'deepas' } });
    const eAs = await expectFailure(deepAs.authorize({ acceptTerms: true, interactive: false }), 'INVALID_PROVIDER_RESPONSE', 5);
    expect(eAs.message).toMatch(/nests deeper than 32 levels \(at "x\.0\.0\.0…"\)/);
  });

  it('an unreachable provisioning endpoint → PROVIDER_UNREACHABLE with retryable: true', async () => {
    const dead = await listen(() => undefined);
    const url = dead.url;
    await new Promise<void>((r) => dead.server.close(() => r()));
    const { descriptor } = await descriptorOf('localcloud');
    const gone = openProtocolProvider(depsFor(demo), {
      id: 'localcloud',
      descriptorUrl: `${url}/.well-known/agent-provisioning`,
      descriptor: { ...descriptor, provisioning_endpoint: `${url}/v1/provisions`, resource: url },
    });
    const err = await expectFailure(gone.provision({ service: 'kv:namespace', name: 'x', config: {}, idempotencyKey: 'test-dead' }), 'PROVIDER_UNREACHABLE', 5);
    expect(err.details.retryable).toBe(true);
  });

  it('no secret from the vault appears in any error, output or file outside the vault', async () => {
    const vault = await openVault({ env: demo.env, stateDir: join(demo.home, 'state') });
    const secrets: string[] = [];
    for (const name of await vault.names()) {
      const entry = (await vault.get(name)) as Record<string, unknown>;
      for (const key of ['refresh_token', 'access_token', 'id_token', 'device_code']) if (typeof entry[key] === 'string') secrets.push(entry[key] as string);
    }
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    const texts = [
      ...errors.map((e) => JSON.stringify({ code: e.code, message: e.message, details: e.details, next: e.nextSteps })),
      ...ios.map((io) => io.text()),
      ...filesUnder(demo.home, (p) => p.endsWith('vault.json.enc')).map((f) => f.content),
    ];
    for (const s of secrets) for (const t of texts) expect(t.includes(s)).toBe(false);
    expect(existsSync(join(demo.home, 'cache', 'providers'))).toBe(true);
  });
});
