/**
 * Cloudflare end to end (issue 9): the bundled CLI as child processes, a real
 * sign-in at the sandbox's identity provider, the real Secret Service for the
 * vault, and the local Cloudflare API double (test/helpers/cloudflare-double.ts,
 * the documented v4 wire format) reached through `providers link --api-url`.
 * A real client, wrangler, runs inside `agentprov run --provider cloudflare`.
 *
 * Canary: the parent API token is planted with a recognisable value; it must
 * appear in no output, no file outside the (encrypted) vault and no child's
 * environment.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type CliResult, filesUnder, isolatedEnv, type ProjectHome as Home, runCli, tempDir } from '../helpers/cli.js';
import { expectNoSecretLeaks, vaultSecrets } from '../helpers/canary.js';
import { startCloudflareDouble, type CloudflareDouble } from '../helpers/cloudflare-double.js';
import { requireSecretService } from '../helpers/keyring.js';
import { WRANGLER, wranglerWhoami } from '../helpers/wrangler.js';
import { useSandbox } from '../helpers/sandbox.js';

const haveKeyring = requireSecretService();
const PARENT = `cfparentCANARY${'7'.repeat(26)}`;

const outputs: CliResult[] = [];

async function cli(args: string[], h: Home, opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const r = await runCli(args, { env: { ...h.env, ...opts.env }, cwd: h.cwd, timeoutMs: 90_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  outputs.push(r);
  return r;
}

const json = (r: CliResult) => JSON.parse(r.stdout) as { ok: boolean; data: any; error?: { code: string; message: string; details: any }; next_steps: string[]; warnings: string[] };

function newHome(extra: NodeJS.ProcessEnv = {}): Home {
  const home = tempDir();
  const cwd = tempDir('agentprov-project-');
  writeFileSync(join(cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
  // wrangler (run as a child below) keeps its own config under HOME / XDG_CONFIG_HOME and must not phone home.
  return { home, cwd, env: isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1', WRANGLER_SEND_METRICS: 'false', XDG_CONFIG_HOME: join(home, 'xdg'), ...extra }) };
}

async function signIn(orchestrator: string, extra: NodeJS.ProcessEnv = {}): Promise<Home> {
  const h = newHome(extra);
  const r = await cli(['init', '--orchestrator', orchestrator, '--json'], h);
  expect(r.code, r.stdout + r.stderr).toBe(3);
  const done = await cli(['login', '--complete', '--wait', '15', '--json'], h);
  expect(done.code, done.stdout + done.stderr).toBe(0);
  return h;
}

async function link(h: Home, double: CloudflareDouble, token = PARENT): Promise<CliResult> {
  return cli(['providers', 'link', 'cloudflare', '--api-url', double.url, '--json'], h, { input: `${token}\n` });
}

const created = (double: CloudflareDouble, since: number) => double.state.tokenEvents.slice(since).filter((e) => e.type === 'created');
const deleted = (double: CloudflareDouble, since: number) => double.state.tokenEvents.slice(since).filter((e) => e.type === 'deleted');

describe.skipIf(!haveKeyring)('Cloudflare through the CLI', () => {
  const sb = useSandbox({ autoApprove: true });
  let double: CloudflareDouble;
  let h: Home;

  beforeAll(async () => {
    double = await startCloudflareDouble({ parentToken: { value: PARENT } });
    h = await signIn(sb.current.orchestrator);
  }, 60_000);
  afterAll(async () => {
    await double?.close();
  });

  it('lists the built-in services before any link, and an add says a human must link first', async () => {
    const cat = json(await cli(['catalog', 'cloudflare', '--json'], h));
    expect(cat.data.services.map((s: { id: string }) => s.id).sort()).toEqual(['d1:database', 'kv:namespace', 'r2:bucket', 'registrar:domain', 'workers:script']);
    expect(cat.data.providers.find((p: { id: string }) => p.id === 'cloudflare')).toMatchObject({ status: 'builtin', source: 'builtin' });
    // Piped: the domain's price is marked as an example, the real one is quoted at add time.
    const piped = await cli(['catalog', 'cloudflare'], h);
    expect(piped.stdout.split('\n').find((l) => l.startsWith('cloudflare/registrar:domain\t'))).toMatch(/\t~\d+\.\d\d USD\/year, quoted at add\t/);
    const add = await cli(['add', 'cloudflare/kv:namespace', '--name', 'early', '--json'], h);
    expect(add.code, add.stdout).toBe(3);
    expect(json(add).error!.code).toBe('PROVIDER_NOT_LINKED');
    expect(json(add).next_steps.join(' ')).toContain('agentprov providers link cloudflare');
    expect(double.state.kvNamespaces).toHaveLength(0);
  });

  it('add --preflight before any link checks the price against agentprov\'s ledger cap, where Cloudflare is billed, not the rail', async () => {
    const other = await signIn(sb.current.orchestrator);
    const lowered = await cli(['budget', 'set', 'cloudflare', '1.00', '--json'], other);
    expect(lowered.code, lowered.stdout + lowered.stderr).toBe(0);
    const pre = await cli(['add', 'cloudflare/registrar:domain', '--config', '{"domain":"agentprov-preflight.com"}', '--preflight', '--json'], other);
    const codes = json(pre).data.blockers.map((b: { code: string }) => b.code);
    expect(codes).toContain('PROVIDER_NOT_LINKED');
    expect(codes).toContain('CAP_EXCEEDED'); // the rail's cap for cloudflare is still 100.00: only the ledger refuses
    expect(double.state.registrations.some((r) => r.domain_name === 'agentprov-preflight.com')).toBe(false);
  }, 60_000);

  it('refuses a bad parent token at link and stores nothing', async () => {
    const r = await link(h, double, 'not-a-real-token-0123456789abcdefghij');
    expect(r.code, r.stdout).toBe(3);
    expect(json(r).error!.code).toBe('CLOUDFLARE_LINK_INVALID');
    const add = await cli(['add', 'cloudflare/kv:namespace', '--name', 'early', '--json'], h);
    expect(json(add).error!.code).toBe('PROVIDER_NOT_LINKED');
  });

  it('links with the parent token from standard input, never echoing it', async () => {
    const before = double.state.tokenEvents.length;
    const r = await link(h, double);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(json(r).data).toMatchObject({ provider: 'cloudflare', account_id: double.accountId, api_url: double.url });
    const list = json(await cli(['providers', 'list', '--json'], h)).data.providers.find((p: { id: string }) => p.id === 'cloudflare');
    expect(list).toMatchObject({ source: 'builtin', linked: { account_id: double.accountId, api_url: double.url } });
    // It checked it may create tokens, for real: one probe made and deleted.
    expect(created(double, before)).toHaveLength(1);
    expect(deleted(double, before)).toHaveLength(1);
  });

  it('adds a free KV namespace; a re-run adopts it instead of creating a second one', async () => {
    const r = await cli(['add', 'cloudflare/kv:namespace', '--name', 'cache', '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(json(r).data).toMatchObject({ provider: 'cloudflare', service: 'kv:namespace', status: 'active' });
    expect(double.state.kvNamespaces.map((n) => n.title)).toEqual(['cache']);
    const again = await cli(['add', 'cloudflare/kv:namespace', '--name', 'cache', '--json'], h);
    expect(again.code).toBe(0);
    expect(double.state.kvNamespaces).toHaveLength(1);
  });

  it('a paid domain: the quote from the availability check, confirmation, --max-price, then exactly one registration', async () => {
    double.setPrice('com', '10.46');
    const pre = json(await cli(['add', 'cloudflare/registrar:domain', '--name', 'site', '--param', 'domain=agentprov-demo.com', '--preflight', '--json'], h));
    expect(pre.data.blockers.map((b: { code: string }) => b.code)).toEqual(['PAID_CONFIRMATION_REQUIRED']);
    expect(pre.data.blockers[0].message).toContain('10.46 USD');
    const ask = await cli(['add', 'cloudflare/registrar:domain', '--name', 'site', '--param', 'domain=agentprov-demo.com', '--json'], h);
    expect(ask.code, ask.stdout).toBe(3);
    expect(json(ask).error).toMatchObject({ code: 'PAID_CONFIRMATION_REQUIRED', details: { amount: 1046, currency: 'USD' } });
    const tooDear = await cli(['add', 'cloudflare/registrar:domain', '--name', 'site', '--param', 'domain=agentprov-demo.com', '--confirm-paid-service', '--max-price', '5.00', '--json'], h);
    expect(tooDear.code).toBe(4);
    expect(json(tooDear).error!.code).toBe('PRICE_ABOVE_LIMIT');
    expect(double.state.registrationPosts.get('agentprov-demo.com') ?? 0).toBe(0);

    const ok = await cli(['add', 'cloudflare/registrar:domain', '--name', 'site', '--param', 'domain=agentprov-demo.com', '--confirm-paid-service', '--max-price', '20', '--json'], h);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(json(ok).data).toMatchObject({ status: 'active', charge: { amount: 1046, currency: 'USD' } });
    expect(double.state.registrationPosts.get('agentprov-demo.com')).toBe(1);
    expect(double.state.charges.filter((c) => c.domain_name === 'agentprov-demo.com')).toHaveLength(1);

    const spend = json(await cli(['spend', '--json'], h));
    const row = spend.data.providers.find((p: { provider: string }) => p.provider === 'cloudflare');
    expect(row).toMatchObject({ spent: 1046, held: 0, cap: 10_000 });
  });

  it('a taken domain is refused before anything is held or sent', async () => {
    double.markTaken('taken-example.com');
    const r = await cli(['add', 'cloudflare/registrar:domain', '--name', 'taken', '--param', 'domain=taken-example.com', '--confirm-paid-service', '--json'], h);
    expect(r.code, r.stdout).toBe(2);
    expect(json(r).error).toMatchObject({ code: 'DOMAIN_UNAVAILABLE' });
    expect(double.state.registrationPosts.get('taken-example.com') ?? 0).toBe(0);
  });

  it('the monthly cap is held by agentprov’s ledger: a registration that would pass it is never sent', async () => {
    double.setPrice('dev', '95.00');
    const r = await cli(['add', 'cloudflare/registrar:domain', '--name', 'dear', '--param', 'domain=very-dear.dev', '--confirm-paid-service', '--json'], h);
    expect(r.code, r.stdout).toBe(4);
    expect(json(r).error).toMatchObject({ code: 'CAP_EXCEEDED', details: { provider: 'cloudflare', cap: 10_000 } });
    expect(double.state.registrationPosts.get('very-dear.dev') ?? 0).toBe(0);
  });

  it('no billing profile: exit 3 with the dashboard URL, and the hold is released', async () => {
    double.setBillingProfile(double.accountId, false);
    try {
      const r = await cli(['add', 'cloudflare/registrar:domain', '--name', 'nobill', '--param', 'domain=no-billing.com', '--confirm-paid-service', '--json'], h);
      expect(r.code, r.stdout).toBe(3);
      const e = json(r).error!;
      expect(e.code).toBe('PAYMENT_METHOD_REQUIRED');
      expect(JSON.stringify(e)).toContain(`https://dash.cloudflare.com/${double.accountId}/billing/payment-info`);
      const spend = json(await cli(['spend', '--json'], h)).data.providers.find((p: { provider: string }) => p.provider === 'cloudflare');
      expect(spend).toMatchObject({ spent: 1046, held: 0 });
    } finally {
      double.setBillingProfile(double.accountId, true);
    }
  });

  it('the connection dies after Cloudflare registered: never a second POST, one registration, one charge', async () => {
    // The registration takes effect at Cloudflare, then the connection dies before agentprov hears of it.
    double.dropNext({ match: '/registrar/registrations', method: 'POST', after: true });
    const first = await cli(['add', 'cloudflare/registrar:domain', '--name', 'crash', '--param', 'domain=crash-test.com', '--confirm-paid-service', '--json'], h);
    // Either this run looks the domain up and adopts it, or it stops unsure and the re-run does: never a second POST.
    if (first.code !== 0) {
      const again = await cli(['add', 'cloudflare/registrar:domain', '--name', 'crash', '--param', 'domain=crash-test.com', '--confirm-paid-service', '--json'], h);
      expect(again.code, again.stdout + again.stderr).toBe(0);
    }
    const list = json(await cli(['list', '--json'], h));
    expect(JSON.stringify(list.data)).toContain('domain/crash-test.com');
    expect(double.state.registrationPosts.get('crash-test.com')).toBe(1);
    expect(double.state.charges.filter((c) => c.domain_name === 'crash-test.com')).toHaveLength(1);
    const spend = json(await cli(['spend', '--json'], h)).data.providers.find((p: { provider: string }) => p.provider === 'cloudflare');
    expect(spend).toMatchObject({ spent: 1046 * 2, held: 0 });
  });

  it('kill -9 while registering, then re-run: one registration, one charge', async () => {
    double.holdPending('killed-add.com');
    const child = spawn(process.execPath, [BIN, 'add', 'cloudflare/registrar:domain', '--name', 'killed', '--param', 'domain=killed-add.com', '--confirm-paid-service', '--json'], { cwd: h.cwd, env: h.env, stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    while ((double.state.registrationPosts.get('killed-add.com') ?? 0) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    double.release('killed-add.com');
    const again = await cli(['add', 'cloudflare/registrar:domain', '--name', 'killed', '--param', 'domain=killed-add.com', '--confirm-paid-service', '--json'], h);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(double.state.registrationPosts.get('killed-add.com')).toBe(1);
    expect(double.state.charges.filter((c) => c.domain_name === 'killed-add.com')).toHaveLength(1);
  });

  it('a registration that stays pending: add returns pending, the same add later finishes it', async () => {
    double.holdPending('slow-registry.com');
    const r = await cli(['add', 'cloudflare/registrar:domain', '--name', 'slow', '--param', 'domain=slow-registry.com', '--confirm-paid-service', '--wait', '1', '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(json(r).data.status).toBe('pending');
    double.release('slow-registry.com');
    const done = await cli(['add', 'cloudflare/registrar:domain', '--name', 'slow', '--param', 'domain=slow-registry.com', '--confirm-paid-service', '--json'], h);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(json(done).data.status).toBe('active');
    expect(double.state.registrationPosts.get('slow-registry.com')).toBe(1);
  });

  it('a rate limit (429 with Retry-After) is waited out', async () => {
    double.rateLimitNext(1, 1);
    const r = await cli(['add', 'cloudflare/d1:database', '--name', 'db', '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(double.state.d1Databases.map((d) => d.name)).toEqual(['db']);
    expect(double.state.requests.some((q) => q.status === 429)).toBe(true);
  });

  it('token: a child token with expires_on within the TTL, cached on the second call', async () => {
    const since = double.state.tokenEvents.length;
    const r = json(await cli(['token', 'cloudflare', '--ttl', '5m', '--json'], h));
    expect(r.ok).toBe(true);
    expect(r.data.token).not.toBe(PARENT);
    const made = created(double, since);
    expect(made).toHaveLength(1);
    const expiresOn = Date.parse(made[0]!.expires_on!);
    expect(expiresOn).toBeLessThanOrEqual(Date.now() + 5 * 60_000 + 2_000);
    const again = json(await cli(['token', 'cloudflare', '--json'], h));
    expect(again.data).toMatchObject({ token: r.data.token, cached: true });
    expect(created(double, since)).toHaveLength(1);
  });

  it('run: wrangler whoami works inside with a child token, which is deleted after and then refused', async () => {
    const since = double.state.tokenEvents.length;
    const dump = join(h.home, 'child-env.json');
    const script = `const fs=require('node:fs');fs.writeFileSync(${JSON.stringify(dump)},JSON.stringify(process.env));` + `const r=require('node:child_process').spawnSync(process.execPath,[${JSON.stringify(WRANGLER)},'whoami'],{encoding:'utf8'});` + `process.stdout.write(r.stdout);process.stderr.write(r.stderr);process.exit(r.status??1)`;
    const r = await cli(['run', '--provider', 'cloudflare', '--ttl', '10m', '--', process.execPath, '-e', script], h, { env: { CLOUDFLARE_API_BASE_URL: double.url, CI: '1' } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Demo Account');
    expect(r.stdout).toContain(double.accountId);
    const childEnv = JSON.parse(readFileSync(dump, 'utf8')) as Record<string, string>;
    expect(childEnv.CLOUDFLARE_ACCOUNT_ID).toBe(double.accountId);
    expect(JSON.stringify(childEnv)).not.toContain(PARENT);
    const made = created(double, since);
    expect(made).toHaveLength(1);
    expect(Date.parse(made[0]!.expires_on!)).toBeLessThanOrEqual(Date.now() + 10 * 60_000 + 2_000);
    expect(deleted(double, since).map((e) => e.token_id)).toEqual([made[0]!.token_id]);

    const after = await wranglerWhoami(double.url, childEnv.CLOUDFLARE_API_TOKEN);
    expect(after.code).not.toBe(0);
    expect(after.stdout + after.stderr).not.toContain('Demo Account');
  }, 120_000);

  it('run: the child token is deleted when the command fails and when agentprov is interrupted', async () => {
    let since = double.state.tokenEvents.length;
    const failed = await cli(['run', '--provider', 'cloudflare', '--', process.execPath, '-e', 'process.exit(7)'], h);
    expect(failed.code).toBe(7);
    expect(created(double, since)).toHaveLength(1);
    expect(deleted(double, since).map((e) => e.token_id)).toEqual(created(double, since).map((e) => e.token_id));

    since = double.state.tokenEvents.length;
    const child = spawn(process.execPath, [BIN, 'run', '--provider', 'cloudflare', '--', process.execPath, '-e', 'setTimeout(()=>{},60000)'], { cwd: h.cwd, env: h.env, stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    while (created(double, since).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(143);
    expect(created(double, since)).toHaveLength(1);
    expect(deleted(double, since).map((e) => e.token_id)).toEqual(created(double, since).map((e) => e.token_id));
  }, 60_000);

  it('run with a resource injects its id beside a child token narrowed to the account', async () => {
    const dump = join(h.home, 'kv-env.json');
    const r = await cli(['run', 'cache', '--', process.execPath, '-e', `require('node:fs').writeFileSync(${JSON.stringify(dump)},JSON.stringify({id:process.env.CLOUDFLARE_KV_NAMESPACE_ID,acct:process.env.CLOUDFLARE_ACCOUNT_ID,tok:process.env.CLOUDFLARE_API_TOKEN}))`], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const got = JSON.parse(readFileSync(dump, 'utf8')) as { id: string; acct: string; tok: string };
    expect(got.id).toBe(double.state.kvNamespaces[0]!.id);
    expect(got.acct).toBe(double.accountId);
    expect(got.tok).toBeTruthy();
    expect(got.tok).not.toBe(PARENT);
  });

  it('status asks Cloudflare; remove deletes a database there; a domain cannot be removed through the API', async () => {
    const st = json(await cli(['status', '--json'], h));
    expect(st.ok, JSON.stringify(st)).toBe(true);
    expect(JSON.stringify(st.data)).toContain('d1/');
    const rm = await cli(['remove', 'db', '--yes', '--json'], h);
    expect(rm.code, rm.stdout + rm.stderr).toBe(0);
    expect(double.state.d1Databases).toHaveLength(0);
    const dom = await cli(['remove', 'site', '--yes', '--json'], h);
    expect(dom.code, dom.stdout).toBe(2);
    expect(json(dom).error!.code).toBe('UNSUPPORTED_OPERATION');
    expect(double.state.registrations.some((r) => r.domain_name === 'agentprov-demo.com')).toBe(true);
  });

  it('rotate rolls the parent token: the old value is dead, agentprov keeps working with the new one', async () => {
    const r = await cli(['rotate', 'cache', '--json'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const probe = await fetch(`${double.url}/user/tokens/verify`, { headers: { authorization: `Bearer ${PARENT}` } });
    expect(probe.ok).toBe(false);
    const since = double.state.tokenEvents.length;
    const t = await cli(['token', 'cloudflare', '--ttl', '2m', '--scope', 'workers_kv:write', '--json'], h);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    expect(created(double, since)).toHaveLength(1);
  });

  it('no secret of the vault (the parent token, old and rolled, the session) appears in any output or file outside it', async () => {
    // The short-lived tokens `token` cached are printed on purpose; every other token in the vault is a canary.
    const secrets = await vaultSecrets(h.env, h.home, (key, entry) => !entry.startsWith('token-cache:') && /_token$/.test(key));
    expect(secrets.length).toBeGreaterThan(3); // the rolled parent token and the session's refresh, ID and access tokens
    expect(filesUnder(h.home).concat(filesUnder(h.cwd)).length).toBeGreaterThan(3);
    expectNoSecretLeaks([...secrets, PARENT], outputs, [h.home, h.cwd]);
    expect(double.state.internalErrors).toEqual([]);
  });
});
