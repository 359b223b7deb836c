/**
 * `revoke` and `env` (issue 21) against the sandbox in this process
 * (auto-approve), the bundled CLI as an agent runs it (`--json`, no TTY)
 * and the real Secret Service. The old tokens are taken from the vault
 * before the revoke and presented to the sandbox directly afterwards.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVault } from '../../src/vault/vault.js';
import { type CliResult, isolatedEnv, type ProjectHome as Home, runCli, tempDir } from '../helpers/cli.js';
import { expectNoSecretLeaks, vaultSecrets } from '../helpers/canary.js';
import { requireSecretService } from '../helpers/keyring.js';
import { useSandbox } from '../helpers/sandbox.js';
import { launchBrowser } from '../helpers/browser.js';

const haveKeyring = requireSecretService();

const outputs: CliResult[] = [];
const homes: Home[] = [];
/** Every secret seen in a vault during the suite: none may reach an output, the audit log or a file. */
const canaries = new Set<string>();

async function cli(args: string[], h: Home): Promise<CliResult> {
  const dash = args.indexOf('--');
  const full = dash < 0 ? [...args, '--no-input'] : [...args.slice(0, dash), '--no-input', ...args.slice(dash)];
  const r = await runCli(full, { env: h.env, cwd: h.cwd, timeoutMs: 60_000 });
  outputs.push(r);
  return r;
}

async function signIn(orchestrator: string, h?: Home): Promise<Home> {
  if (!h) {
    const home = tempDir();
    const cwd = tempDir('agentprov-project-');
    writeFileSync(join(cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
    h = { home, cwd, env: isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' }) };
    homes.push(h);
    expect((await cli(['init', '--orchestrator', orchestrator, '--json'], h)).code).toBe(3);
  } else {
    expect((await cli(['login', '--json'], h)).code).toBe(3);
  }
  const done = await cli(['login', '--complete', '--wait', '15', '--json'], h);
  expect(done.code, done.stdout + done.stderr).toBe(0);
  return h;
}

async function add(h: Home, service: string, name: string): Promise<void> {
  let r = await cli(['add', service, '--name', name, '--accept-tos', '--json'], h);
  // othercloud trusts no orchestrator: device-flow consent, approved by the sandbox, finished with --complete.
  if (r.code === 3 && r.json().error.code === 'CONSENT_REQUIRED') r = await cli(['add', service, '--name', name, '--complete', '--wait', '20', '--json'], h);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

async function entries(h: Home): Promise<Record<string, any>> {
  const vault = await openVault({ env: h.env, stateDir: join(h.home, 'state') });
  return vault.entries();
}

async function collect(h: Home): Promise<void> {
  // Not the short-lived tokens `token` caches: printing them is its job.
  const pick = (key: string, entry: string) => !entry.startsWith('token-cache:') && /token$|api_key|code_verifier|device_code/.test(key);
  for (const s of await vaultSecrets(h.env, h.home, pick)) canaries.add(s);
}

function manifestOf(h: Home): { resources: Array<{ name: string; provider: string; service: string; id: string }> } {
  return JSON.parse(readFileSync(join(h.cwd, 'agentprov.json'), 'utf8'));
}

function auditLines(h: Home): Array<Record<string, any>> {
  const path = join(h.home, 'state', 'audit.jsonl');
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
}

describe.runIf(haveKeyring)('revoke and env against the sandbox', () => {
  const sb = useSandbox({ autoApprove: true });
  let h: Home;
  const url = (id: string): string => sb.current.provider(id).url.replace(/\/$/, '');

  /** The provider's resource server asked with this bearer for one of its provisions. */
  async function provisionStatus(provider: string, id: string, token: string): Promise<number> {
    const res = await fetch(`${url(provider)}/v1/provisions/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return res.status;
  }

  /** A refresh (RFC 6749 §6) at the provider's token endpoint with an old refresh token. */
  async function refreshAnswer(provider: string, refreshToken: string, clientId: string): Promise<{ status: number; error?: string }> {
    const meta = (await (await fetch(`${url(provider)}/.well-known/oauth-authorization-server/oauth`)).json()) as { token_endpoint: string };
    const res = await fetch(meta.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, resource: url(provider) }),
    });
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    return { status: res.status, ...(body.error ? { error: body.error } : {}) };
  }

  /** An access token agentprov never sees: RFC 8693 exchange of the grant's access token, made here, under the same grant. */
  async function exchangeHere(provider: string, accessToken: string, clientId: string): Promise<string> {
    const meta = (await (await fetch(`${url(provider)}/.well-known/oauth-authorization-server/oauth`)).json()) as { token_endpoint: string };
    const res = await fetch(meta.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: accessToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        client_id: clientId,
        resource: url(provider),
      }),
    });
    const body = (await res.json()) as { access_token?: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body.access_token!;
  }

  beforeAll(async () => {
    h = await signIn(sb.current.orchestrator);
    await add(h, 'localcloud/kv:namespace', 'cache');
    await add(h, 'localcloud/kv:namespace', 'cache2');
    await add(h, 'othercloud/storage:bucket', 'files');
    const app = await cli(['providers', 'add', sb.current.app.url, '--protocol', 'app', '--id', 'appcloud', '--json'], h);
    expect(app.code, app.stdout).toBe(0);
    await add(h, 'appcloud/app:analytics', 'metrics');
    await collect(h);
  }, 180_000);

  afterAll(async () => {
    expect(canaries.size).toBeGreaterThan(5);
    // stdout, stderr, and every file of the homes and projects (the audit log among them) but the encrypted vault.
    expectNoSecretLeaks(canaries, outputs, homes.flatMap((x) => [x.home, x.cwd]));
  });

  it('env lists exactly the names run injects, where each comes from and how long it lives; never a value', async () => {
    const env = await cli(['env', '--json'], h);
    expect(env.code, env.stdout + env.stderr).toBe(0);
    const data = env.json().data;
    expect(data.resources.sort()).toEqual(['cache', 'cache2', 'files', 'metrics']);
    for (const v of data.variables) {
      expect(Object.keys(v).sort()).toEqual(['credential', 'name', 'provider', 'resource', 'source']);
      expect(['short-lived', 'long-lived', 'none']).toContain(v.credential);
    }
    const byName = Object.fromEntries(data.variables.map((v: { name: string }) => [v.name, v]));
    // Two resources of one service: their names are prefixed with the resource's.
    expect(byName.CACHE_LOCALCLOUD_KV_URL).toMatchObject({ resource: 'cache', provider: 'localcloud', source: 'resource.url', credential: 'none' });
    expect(byName.CACHE2_LOCALCLOUD_TOKEN).toMatchObject({ resource: 'cache2', provider: 'localcloud', source: 'access_token', credential: 'short-lived' });
    expect(byName.APPCLOUD_API_KEY).toMatchObject({ resource: 'metrics', provider: 'appcloud', credential: 'long-lived' });
    // A member the catalog does not map, found in the vault (no network): also long-lived.
    expect(byName.APPCLOUD_REGION).toMatchObject({ resource: 'metrics', provider: 'appcloud', source: 'resource.region', credential: 'long-lived' });

    // What the child really gets: the names its environment has beyond the one it was started from.
    const keysFile = join(tempDir('agentprov-env-'), 'keys.json');
    const script = `require('node:fs').writeFileSync(${JSON.stringify(keysFile)}, JSON.stringify(Object.keys(process.env)))`;
    const ran = await cli(['run', 'cache', 'cache2', 'files', 'metrics', '--json', '--', process.execPath, '-e', script], h);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    const parent = new Set(Object.keys(h.env));
    const injected = (JSON.parse(readFileSync(keysFile, 'utf8')) as string[]).filter((k) => !parent.has(k) && k !== 'AGENTPROV_RUN').sort();
    const listed = data.variables.map((v: { name: string }) => v.name).sort();
    expect(injected.length).toBeGreaterThan(6);
    expect(listed).toEqual(injected);
    expect(ran.json().data.env).toEqual(injected);

    // One resource: its names only, the same as a run of it alone.
    const one = await cli(['env', 'files', '--json'], h);
    expect(one.code).toBe(0);
    expect(one.json().data.variables.every((v: { resource: string }) => v.resource === 'files')).toBe(true);
    const alone = await cli(['run', 'files', '--json', '--', process.execPath, '-e', '0'], h);
    expect(one.json().data.variables.map((v: { name: string }) => v.name).sort()).toEqual(alone.json().data.env);

    // Without --json: a table of names, sources and lifetimes; piped with no value anywhere (the canary scan checks).
    const human = await cli(['env'], h);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('APPCLOUD_API_KEY');
    expect(human.stdout).not.toMatch(/phx_/);

    const unknown = await cli(['env', 'nope', '--json'], h);
    expect(unknown.code).toBe(2);
    expect(unknown.json().error.code).toBe('RESOURCE_NOT_FOUND');
  });

  it('revoke --all: every old refresh and access token is refused by the sandbox, the vault holds none, token exits 3, a second revoke is a no-op, add is the way back', async () => {
    // Short-lived tokens cached by `token`, and proof that every captured token works before the revoke.
    for (const p of ['localcloud', 'othercloud']) expect((await cli(['token', p, '--json'], h)).code).toBe(0);
    await collect(h);
    const before = await entries(h);
    const grants = ['localcloud', 'othercloud'].map((p) => ({ provider: p, ...before[`provider-grant:${p}`] }));
    const minted = Object.entries(before)
      .filter(([k]) => k.startsWith('token-cache:'))
      .map(([k, v]) => ({ provider: k.split(':')[1]!, token: v.access_token as string }));
    expect(minted.map((m) => m.provider).sort()).toEqual(['localcloud', 'othercloud']);
    const resourceOf = (p: string) => manifestOf(h).resources.find((r) => r.provider === p)!.id;
    // Tokens agentprov does not know of: only the grant's end can take them along (docs/protocol-auth.md §7).
    const unknownToAgentprov = await Promise.all(grants.map(async (g) => ({ provider: g.provider, token: await exchangeHere(g.provider, g.access_token, g.client_id) })));
    const access = [...grants.map((g) => ({ provider: g.provider, token: g.access_token as string })), ...minted, ...unknownToAgentprov];
    for (const a of access) expect(await provisionStatus(a.provider, resourceOf(a.provider), a.token), a.provider).toBe(200);
    const appGrant = before['app-grant:appcloud'];
    expect(appGrant.refresh_token).toBeTruthy();

    // An agent without --yes: exit 3 with the command that says yes; nothing revoked.
    const ask = await cli(['revoke', '--all', '--json'], h);
    expect(ask.code).toBe(3);
    expect(ask.json().error.code).toBe('CONFIRMATION_REQUIRED');
    expect(ask.json().next_steps).toEqual(['agentprov revoke --all --yes']);
    expect(await provisionStatus('localcloud', resourceOf('localcloud'), grants[0]!.access_token)).toBe(200);
    const neither = await cli(['revoke', '--json'], h);
    expect(neither.code).toBe(2);

    const r = await cli(['revoke', '--all', '--yes', '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const d = r.json().data;
    const by = Object.fromEntries(d.providers.map((p: { provider: string }) => [p.provider, p]));
    expect(Object.keys(by).sort()).toEqual(['appcloud', 'localcloud', 'othercloud']);
    for (const p of ['localcloud', 'othercloud']) {
      expect(by[p]).toMatchObject({ revoked_at_provider: true, deleted_locally: true, cached_tokens: 1, remedy: null, error: null, attempts: 1 });
    }
    expect(by.appcloud).toMatchObject({ revoked_at_provider: false, deleted_locally: true, attempts: 0 });
    expect(by.appcloud.remedy).toMatch(/no revocation endpoint/);
    expect(r.json().warnings).toEqual([expect.stringMatching(/^appcloud: not revoked at the provider \(it offers no revocation\)/)]);
    expect(d.session).toMatchObject({ signed_out: true, revoked: true });
    expect(d.nothing_to_revoke).toBe(false);

    // The sandbox refuses every old token: refresh tokens at the token endpoint, access tokens (the grant's and the minted ones) at the resource server.
    for (const g of grants) expect(await refreshAnswer(g.provider, g.refresh_token, g.client_id), g.provider).toEqual({ status: 400, error: 'invalid_grant' });
    for (const a of access) expect(await provisionStatus(a.provider, resourceOf(a.provider), a.token), a.provider).toBe(401);

    // The vault holds none of them, nor any grant, cached token, APP key or session.
    const after = await entries(h);
    expect(Object.keys(after).filter((k) => /^(provider-grant|provider-consent|token-cache|app-grant|app-pending|app-resource):|^session$/.test(k))).toEqual([]);
    const left = JSON.stringify(after);
    for (const s of canaries) expect(left.includes(s)).toBe(false);
    // Resources stay.
    expect(manifestOf(h).resources).toHaveLength(4);
    expect(await provisionStatus('localcloud', resourceOf('localcloud'), 'x'.repeat(43))).toBe(401);

    // Audited: one line per provider and the sign-out, without a secret (the canary scan of the home covers the log).
    const lines = auditLines(h).filter((l) => l.command === 'revoke');
    expect(lines.map((l) => `${l.provider ?? '-'} ${l.decision}`).sort()).toEqual(['- signed_out', 'appcloud grant_forgotten', 'localcloud grant_revoked', 'othercloud grant_revoked']);

    // token: exit 3 (signed out); a second revoke finds nothing.
    const token = await cli(['token', 'localcloud', '--json'], h);
    expect(token.code).toBe(3);
    const again = await cli(['revoke', '--all', '--yes', '--json'], h);
    expect(again.code, again.stdout).toBe(0);
    expect(again.json().data).toMatchObject({ providers: [], nothing_to_revoke: true, session: { signed_out: false } });
    const againHuman = await cli(['revoke', 'localcloud', '--yes'], h);
    expect(againHuman.code).toBe(0);
    expect(againHuman.stdout).toContain('nothing to revoke');
    expect(auditLines(h).filter((l) => l.command === 'revoke')).toHaveLength(4);

    // Signed in again, the revoked providers still give nothing: exit 3 with the way back.
    await signIn(sb.current.orchestrator, h);
    const refused = await cli(['token', 'localcloud', '--json'], h);
    expect(refused.code, refused.stdout).toBe(3);
    expect(refused.json().error.code).toBe('PROVIDER_NOT_AUTHORIZED');
    expect(refused.json().next_steps).toContain('agentprov add localcloud/kv:namespace --name cache');
    const run = await cli(['run', 'metrics', '--json', '--', process.execPath, '-e', '0'], h);
    expect(run.code, run.stdout).toBe(3);
    expect(run.json().error.code).toBe('PROVIDER_NOT_AUTHORIZED');
    expect(run.json().next_steps).toContain('agentprov add appcloud/app:analytics --name metrics');

    // The way back: `add` of the resource already provisioned authorizes again and provisions nothing.
    const count = sb.current.provider('localcloud').resources().length;
    const back = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--json'], h);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(back.json().data).toMatchObject({ already_provisioned: true, authorization: { via: 'attested' } });
    expect(sb.current.provider('localcloud').resources().length).toBe(count);
    const works = await cli(['token', 'localcloud', '--json'], h);
    expect(works.code, works.stdout).toBe(0);
    expect(await provisionStatus('localcloud', resourceOf('localcloud'), works.json().data.token)).toBe(200);

    // APP: the account exists, so the way back is the provider's consent, then --complete; run gets the resource's keys again.
    const consent = await cli(['add', 'appcloud/app:analytics', '--name', 'metrics', '--accept-tos', '--json'], h);
    expect(consent.code, consent.stdout).toBe(3);
    expect(consent.json().error.code).toBe('CONSENT_REQUIRED');
    expect(consent.json().next_steps[0]).toContain('agentprov add appcloud/app:analytics --name metrics --accept-tos --complete');
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(consent.json().error.details.url);
      await Promise.all([page.waitForURL(/\/app\/callback/), page.click('#approve')]);
    } finally {
      await browser.close();
    }
    const appBack = await cli(['add', 'appcloud/app:analytics', '--name', 'metrics', '--accept-tos', '--complete', '--wait', '10', '--json'], h);
    expect(appBack.code, appBack.stdout + appBack.stderr).toBe(0);
    expect(appBack.json().data).toMatchObject({ already_provisioned: true, authorization: { via: 'consent' } });
    const keyRun = await cli(['run', 'metrics', '--json', '--', process.execPath, '-e', 'process.exit(process.env.APPCLOUD_API_KEY ? 0 : 7)'], h);
    expect(keyRun.code, keyRun.stdout + keyRun.stderr).toBe(0);
    await collect(h);
  }, 180_000);

  it('a provider that does not answer: retried, listed with its remedy, the local copy deleted anyway', async () => {
    const h2 = await signIn(sb.current.orchestrator);
    const h3 = await signIn(sb.current.orchestrator);
    for (const x of [h2, h3]) {
      await add(x, 'localcloud/kv:namespace', 'kv');
      expect((await cli(['token', 'localcloud', '--json'], x)).code).toBe(0);
      await collect(x);
      expect(Object.keys(await entries(x)).some((k) => k.startsWith('provider-grant:localcloud'))).toBe(true);
    }

    await sb.current.provider('localcloud').stop();
    // env needs no network: the cached catalog and descriptor and the vault name everything.
    const offline = await cli(['env', '--json'], h3);
    expect(offline.code, offline.stdout + offline.stderr).toBe(0);
    expect(offline.json().data.variables.map((v: { name: string }) => v.name).sort()).toEqual(['LOCALCLOUD_KV_URL', 'LOCALCLOUD_TOKEN']);
    expect(offline.json().warnings).toEqual([]);
    const started = Date.now();
    const r = await cli(['revoke', 'localcloud', '--yes', '--json'], h2);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [p] = r.json().data.providers;
    expect(p).toMatchObject({ provider: 'localcloud', revoked_at_provider: false, deleted_locally: true, attempts: 3 });
    expect(p.error.code).toBe('PROVIDER_UNREACHABLE');
    expect(p.remedy).toMatch(/stays valid/);
    expect(r.json().warnings).toEqual([expect.stringMatching(/^localcloud: not revoked at the provider \(PROVIDER_UNREACHABLE after 3 attempts\); deleted here anyway/)]);
    // Bounded: three attempts with two short pauses.
    expect(Date.now() - started).toBeLessThan(30_000);
    const human = await cli(['revoke', 'localcloud', '--yes'], h2);
    expect(human.stdout).toContain('nothing to revoke');
    expect(Object.keys(await entries(h2)).filter((k) => k.includes('localcloud'))).toEqual([]);
    const line = auditLines(h2).find((l) => l.command === 'revoke');
    expect(line).toMatchObject({ provider: 'localcloud', decision: 'grant_forgotten', details: { revoked_at_provider: false, error: 'PROVIDER_UNREACHABLE' } });

    // As a human reads it: the line says it was not revoked there, that the local copy went anyway, and the remedy.
    const said = await cli(['revoke', 'localcloud', '--yes'], h3);
    expect(said.code, said.stderr).toBe(0);
    expect(said.stdout).toMatch(/^localcloud: NOT revoked at the provider \(PROVIDER_UNREACHABLE, after 3 attempts\); grant \(refresh token\) deleted here anyway/m);
    expect(said.stdout).toContain('1 cached short-lived token given back and dropped');
    expect(said.stdout).toMatch(/remedy: the grant stays valid at localcloud/);
    expect(Object.keys(await entries(h3)).filter((k) => k.includes('localcloud'))).toEqual([]);
  }, 120_000);
});
