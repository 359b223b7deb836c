/**
 * Cloudflare linked by OAuth consent (issue 19), end to end on the local
 * Cloudflare double (its API and its documented authorization server,
 * test/helpers/cloudflare-oauth-double.ts): a real sign-in at the sandbox,
 * the real Secret Service for the vault, headless Chromium approving the
 * double's consent page, the bundled CLI as child processes for everything an
 * agent does, and the real wrangler inside `run`.
 *
 * Canary: the refresh tokens (every rotation) and the planted parent API
 * token must appear in no output and no file outside the vault.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkOAuthScopes } from '../../src/catalog/builtin/cloudflare.js';
import { linkCommand } from '../../src/cli/commands/providers-link.js';
import { createDeps } from '../../src/cli/deps.js';
import { openVault } from '../../src/vault/vault.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { expectNoSecretLeaks } from '../helpers/canary.js';
import { type CliResult, isolatedEnv, type ProjectHome as Home, runCli, tempDir } from '../helpers/cli.js';
import { startCloudflareDouble, type CloudflareDouble } from '../helpers/cloudflare-double.js';
import { bufferIO } from '../helpers/io.js';
import { requireSecretService } from '../helpers/keyring.js';
import { useSandbox } from '../helpers/sandbox.js';
import { WRANGLER } from '../helpers/wrangler.js';

const haveKeyring = requireSecretService();
const PARENT = `cfparentCANARY${'9'.repeat(26)}`;
const CLIENT = 'agentprov-cli-double-client';

const outputs: CliResult[] = [];
const json = (r: CliResult) => JSON.parse(r.stdout) as { ok: boolean; data: any; error?: { code: string; message: string; details: any }; next_steps: string[]; warnings: string[] };

async function cli(args: string[], h: Home, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const r = await runCli(args, { env: { ...h.env, ...env }, cwd: h.cwd, timeoutMs: 90_000 });
  outputs.push(r);
  return r;
}

async function refreshTokenIn(h: Home): Promise<string | undefined> {
  const vault = await openVault({ env: h.env, stateDir: join(h.home, 'state') });
  return ((await vault.get('cloudflare_link')) as { refresh_token?: string } | undefined)?.refresh_token;
}

describe.skipIf(!haveKeyring)('Cloudflare linked by OAuth consent', () => {
  const sb = useSandbox({ autoApprove: true });
  let double: CloudflareDouble;
  let browser: TestBrowser;
  let h: Home;
  const refreshTokens = new Set<string>();

  beforeAll(async () => {
    double = await startCloudflareDouble({
      parentToken: { value: PARENT },
      oauthClients: [{ client_id: CLIENT, redirect_uris: ['http://127.0.0.1/callback'], scopes: linkOAuthScopes(['api_tokens:write']), visibility: 'private' }],
    });
    browser = await launchBrowser();
    const home = tempDir();
    const cwd = tempDir('agentprov-project-');
    writeFileSync(join(cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
    h = {
      home,
      cwd,
      env: isolatedEnv(home, {
        AGENTPROV_NO_BROWSER: '1',
        AGENTPROV_CLOUDFLARE_API_URL: double.url,
        AGENTPROV_CLOUDFLARE_OAUTH_URL: double.oauthUrl,
        AGENTPROV_CLOUDFLARE_CLIENT_ID: CLIENT,
        WRANGLER_SEND_METRICS: 'false',
        XDG_CONFIG_HOME: join(home, 'xdg'),
      }),
    };
    expect((await cli(['init', '--orchestrator', sb.current.orchestrator, '--json'], h)).code).toBe(3);
    const done = await cli(['login', '--complete', '--wait', '15', '--json'], h);
    expect(done.code, done.stdout + done.stderr).toBe(0);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await double?.close();
  });

  it('an agent gets exit 3 PROVIDER_NOT_LINKED with the consent URL (code, PKCE S256, state, least-privilege scopes)', async () => {
    const r = await cli(['providers', 'link', 'cloudflare', '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const e = json(r).error!;
    expect(e.code).toBe('PROVIDER_NOT_LINKED');
    const url = new URL(e.details.authorization_url);
    expect(`${url.origin}${url.pathname}`).toBe(`${double.oauthUrl}/oauth2/auth`);
    const q = url.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe(CLIENT);
    expect(q.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1(:\d+)?\/callback$/);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')!.length).toBeGreaterThanOrEqual(16);
    const scopes = q.get('scope')!.split(' ');
    expect(scopes).toEqual(expect.arrayContaining(['workers-kv-storage.write', 'registrar-domains.write', 'offline_access']));
    expect(scopes).not.toContain('api-tokens.write'); // token creation only when a human adds it
    expect(json(r).next_steps.join(' ')).toContain('agentprov providers link cloudflare');
    expect(double.oauth.grants).toHaveLength(0);
  });

  it('a human approves the consent page in Chromium; the grant lands in the vault, bound to the user', async () => {
    const page = await browser.newPage();
    const env = { ...h.env };
    delete env.AGENTPROV_NO_BROWSER;
    const io = bufferIO({ stdinIsTTY: true });
    const deps = { ...createDeps({ json: false, input: true, verbose: false }, env, io, []), canPrompt: () => true };
    let opened = '';
    deps.browser = {
      available: async () => true,
      open: async (url: string) => {
        opened = url;
        void page.goto(url).then(() => page.click('[data-action="approve"]'));
        return true;
      },
    };
    const r = await linkCommand(deps, ['cloudflare'], {}, { selectAccount: async () => double.accountId });
    await page.close();
    expect(r.data).toMatchObject({ provider: 'cloudflare', account_id: double.accountId, via: 'oauth' });
    expect(new URL(opened).searchParams.get('code_challenge_method')).toBe('S256');
    expect(double.oauth.events.map((e) => e.type)).toEqual(['authorize', 'consent', 'code_exchanged']);
    const rt = await refreshTokenIn(h);
    expect(rt).toBeTruthy();
    refreshTokens.add(rt!);
    expect(io.text()).not.toContain(rt!);
    const list = json(await cli(['providers', 'list', '--json'], h)).data.providers.find((p: { id: string }) => p.id === 'cloudflare');
    expect(list).toMatchObject({ linked: { account_id: double.accountId } });
  }, 60_000);

  it('adds a KV namespace and a domain with the grant', async () => {
    const kv = await cli(['add', 'cloudflare/kv:namespace', '--name', 'cache', '--json'], h);
    expect(kv.code, kv.stdout + kv.stderr).toBe(0);
    expect(double.state.kvNamespaces.map((n) => n.title)).toEqual(['cache']);
    double.setPrice('com', '10.46');
    const dom = await cli(['add', 'cloudflare/registrar:domain', '--name', 'site', '--param', 'domain=oauth-demo.com', '--confirm-paid-service', '--max-price', '20', '--json'], h);
    expect(dom.code, dom.stdout + dom.stderr).toBe(0);
    expect(json(dom).data).toMatchObject({ status: 'active', charge: { amount: 1046, currency: 'USD' } });
    expect(double.state.registrationPosts.get('oauth-demo.com')).toBe(1);
  }, 90_000);

  it('run: wrangler whoami works with a short-lived credential, never the refresh token', async () => {
    const dump = join(h.home, 'child-env.json');
    const script = `const fs=require('node:fs');fs.writeFileSync(${JSON.stringify(dump)},JSON.stringify(process.env));` + `const r=require('node:child_process').spawnSync(process.execPath,[${JSON.stringify(WRANGLER)},'whoami'],{encoding:'utf8'});` + `process.stdout.write(r.stdout);process.stderr.write(r.stderr);process.exit(r.status??1)`;
    const r = await cli(['run', '--provider', 'cloudflare', '--ttl', '10m', '--', process.execPath, '-e', script], h, { CLOUDFLARE_API_BASE_URL: double.url, CI: '1' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Demo Account');
    const childEnv = JSON.parse(readFileSync(dump, 'utf8')) as Record<string, string>;
    const given = childEnv.CLOUDFLARE_API_TOKEN!;
    for (const rt of refreshTokens) expect(JSON.stringify(childEnv)).not.toContain(rt);
    expect(given).not.toBe(PARENT);
    // The credential is an OAuth access token of the grant, expiring within the hour.
    const v = await fetch(`${double.url}/user/tokens/verify`, { headers: { authorization: `Bearer ${given}` } });
    const body = (await v.json()) as { result: { id: string; expires_on: string } };
    expect(double.state.tokens.find((t) => t.id === body.result.id)?.oauth_grant).toBe(double.oauth.grants[0]!.id);
    expect(Date.parse(body.result.expires_on)).toBeLessThanOrEqual(Date.now() + 3600_000 + 2000);
    const rt = await refreshTokenIn(h);
    if (rt) refreshTokens.add(rt);
  }, 120_000);

  it('rotate refreshes with rotation: the spent refresh token is dead, the new one works', async () => {
    const before = await refreshTokenIn(h);
    const r = await cli(['rotate', 'cache', '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const after = await refreshTokenIn(h);
    expect(after).toBeTruthy();
    expect(after).not.toBe(before);
    refreshTokens.add(after!);
    expect(double.oauth.events.filter((e) => e.type === 'refreshed').length).toBeGreaterThanOrEqual(1);
    const t = await cli(['token', 'cloudflare', '--ttl', '2m', '--json'], h);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    expect(double.oauth.events.some((e) => e.type === 'refresh_reused')).toBe(false);
  }, 60_000);

  it('unlink revokes the grant at Cloudflare and forgets it here', async () => {
    const r = await cli(['providers', 'link', 'cloudflare', '--unlink', '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // The short-lived access token an earlier `token cloudflare` cached goes too: no cached token outlives the link.
    expect(json(r).data).toMatchObject({ unlinked: true, via: 'oauth', revoked_at_cloudflare: true, cached_tokens: 1 });
    const cachedAfter = await cli(['token', 'cloudflare', '--ttl', '2m', '--json'], h);
    expect(cachedAfter.code).toBe(3);
    expect(json(cachedAfter).error!.code).toBe('PROVIDER_NOT_LINKED');
    expect(double.oauth.grants[0]!.revoked).toBe(true);
    expect(double.state.tokens.filter((t) => t.oauth_grant && !t.deleted_on)).toHaveLength(0);
    expect(await refreshTokenIn(h)).toBeUndefined();
    const add = await cli(['add', 'cloudflare/kv:namespace', '--name', 'later', '--json'], h);
    expect(add.code).toBe(3);
    expect(json(add).error!.code).toBe('PROVIDER_NOT_LINKED');
  }, 60_000);

  it('a grant with api_tokens:write: token and run hand out child API tokens with expires_on, and run deletes its own', async () => {
    const page = await browser.newPage();
    const env = { ...h.env };
    delete env.AGENTPROV_NO_BROWSER;
    const deps = { ...createDeps({ json: false, input: true, verbose: false }, env, bufferIO({ stdinIsTTY: true }), []), canPrompt: () => true };
    deps.browser = { available: async () => true, open: async (url: string) => (void page.goto(url).then(() => page.click('[data-action="approve"]')), true) };
    const r = await linkCommand(deps, ['cloudflare'], { scope: ['api_tokens:write'] }, { selectAccount: async () => double.accountId });
    await page.close();
    expect((r.data as { scope: string }).scope.split(' ')).toContain('api-tokens.write');
    refreshTokens.add((await refreshTokenIn(h))!);
    const since = double.state.tokenEvents.length;
    const t = await cli(['token', 'cloudflare', '--ttl', '2m', '--scope', 'workers_kv:write', '--json'], h);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    const made = double.state.tokenEvents.slice(since).filter((e) => e.type === 'created' && e.by !== null);
    expect(made).toHaveLength(1);
    expect(double.state.tokens.find((x) => x.id === made[0]!.by)?.oauth_grant).toBe(double.oauth.grants[1]!.id);
    expect(Date.parse(made[0]!.expires_on!)).toBeLessThanOrEqual(Date.now() + 2 * 60_000 + 2000);
    const runSince = double.state.tokenEvents.length;
    const run = await cli(['run', '--provider', 'cloudflare', '--', process.execPath, '-e', 'process.exit(0)'], h);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const created = double.state.tokenEvents.slice(runSince).filter((e) => e.type === 'created' && e.by !== null).map((e) => e.token_id);
    expect(created).toHaveLength(1);
    expect(double.state.tokenEvents.slice(runSince).filter((e) => e.type === 'deleted').map((e) => e.token_id)).toEqual(created);
  }, 90_000);

  it('revoke cloudflare: the child token `token` cached is deleted, the OAuth grant revoked at Cloudflare, the link forgotten; the way back is providers link', async () => {
    // The child token the test above had `token` make is still cached in the vault.
    const t = await cli(['token', 'cloudflare', '--ttl', '2m', '--scope', 'workers_kv:write', '--json'], h);
    expect(json(t).data.cached).toBe(true);
    const vault = await openVault({ env: h.env, stateDir: join(h.home, 'state') });
    const cachedId = ((await vault.get('token-cache:cloudflare:workers_kv:write')) as { id: string }).id;
    const child = double.state.tokens.find((x) => x.id === cachedId)!;
    expect(child.deleted_on).toBeUndefined();
    const grant = double.oauth.grants.at(-1)!;
    expect(grant.revoked).toBeFalsy();
    const r = await cli(['revoke', 'cloudflare', '--yes', '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // One cached: the child above (unlink gave back and dropped what was cached before it).
    expect(json(r).data.providers).toEqual([
      { provider: 'cloudflare', held: 'OAuth grant (refresh token)', revoked_at_provider: true, attempts: 1, cached_tokens: 1, deleted_locally: true, remedy: null, error: null },
    ]);
    expect(grant.revoked).toBe(true);
    expect(child.deleted_on).toBeTruthy();
    expect(await refreshTokenIn(h)).toBeUndefined();
    const after = await cli(['token', 'cloudflare', '--json'], h);
    expect(after.code).toBe(3);
    expect(json(after).error!.code).toBe('PROVIDER_NOT_LINKED');
    expect(json(after).next_steps.join(' ')).toContain('agentprov providers link cloudflare');
    const again = await cli(['revoke', 'cloudflare', '--yes', '--json'], h);
    expect(json(again).data.nothing_to_revoke).toBe(true);
  }, 60_000);

  it('no refresh token nor the parent token reaches stdout, stderr or a file outside the vault', () => {
    expect(refreshTokens.size).toBeGreaterThanOrEqual(2);
    expectNoSecretLeaks([...refreshTokens, PARENT], outputs, [h.home, h.cwd]);
    expect(double.state.internalErrors).toEqual([]);
  });
});
