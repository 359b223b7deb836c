/**
 * `open` (issue 21) end to end: the bundled CLI as an agent runs it
 * (`--json --no-input`) against the sandbox's agentprov-protocol provider
 * `localcloud` and APP provider `appcloud`, the real Secret Service for the
 * vault, headless Chromium for the link; Cloudflare against its API double.
 *
 * Canary: each sign-in link's token must appear nowhere but in the stdout
 * of the `open` that printed it: not in stderr, the audit log, the
 * manifest, the cache or any other file of the home or the project.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, filesUnder, isolatedEnv, type ProjectHome as Home, runCli, tempDir } from '../helpers/cli.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startCloudflareDouble, type CloudflareDouble } from '../helpers/cloudflare-double.js';
import { requireSecretService } from '../helpers/keyring.js';
import { bufferIO } from '../helpers/io.js';
import { useSandbox } from '../helpers/sandbox.js';

const haveKeyring = requireSecretService();

const outputs: Array<{ args: string[]; r: CliResult }> = [];
/** Every sign-in link token `open` printed. */
const tokens: string[] = [];

async function cli(args: string[], h: Home, opts: { input?: string; json?: boolean } = {}): Promise<CliResult> {
  const full = opts.json === false ? args : [...args, '--json', '--no-input'];
  const r = await runCli(full, { env: h.env, cwd: h.cwd, timeoutMs: 60_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  outputs.push({ args: full, r });
  return r;
}

function auditText(h: Home): string {
  const path = join(h.home, 'state', 'audit.jsonl');
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

function auditLines(h: Home): Array<Record<string, any>> {
  return auditText(h)
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** The token part of a sandbox sign-in link (`…/console/signin/<token>`). */
function tokenOf(url: string): string {
  const m = /\/console\/signin\/(dl_[A-Za-z0-9_-]+)$/.exec(url);
  expect(m, url).not.toBeNull();
  return m![1]!;
}

describe.skipIf(!haveKeyring)('open: a way into the provider for the human', () => {
  const sb = useSandbox({ autoApprove: true });
  let h: Home;
  let browser: TestBrowser;
  let double: CloudflareDouble;

  beforeAll(async () => {
    const home = tempDir();
    const cwd = tempDir('agentprov-project-');
    writeFileSync(join(cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
    h = { home, cwd, env: isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' }) };
    expect((await cli(['init', '--orchestrator', sb.current.orchestrator], h)).code).toBe(3);
    const done = await cli(['login', '--complete', '--wait', '15'], h);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    browser = await launchBrowser();
    double = await startCloudflareDouble();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await double?.close();
    if (!h) return;
    // The canary scan: a link's token is printed once, on the stdout of the `open` that asked for it, and nowhere else.
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    for (const t of tokens) {
      const printers = outputs.filter((o) => o.r.stdout.includes(t));
      expect(printers.length, 'printed by exactly one open').toBe(1);
      expect(printers[0]!.args[0]).toBe('open');
      for (const o of outputs) expect(o.r.stderr.includes(t), 'token in stderr').toBe(false);
      expect(auditText(h).includes(t), 'token in the audit log').toBe(false);
      for (const dir of [h.home, h.cwd]) for (const f of filesUnder(dir, (p) => p.endsWith('vault.json.enc'))) expect(f.content.includes(t), f.path).toBe(false);
    }
    const listing = await cli(['vault', 'status'], h);
    for (const t of tokens) expect(listing.stdout + listing.stderr).not.toContain(t);
  });

  it('localcloud: open --json returns a single-use link that signs the human in once, shows the account and resource, and is refused the second time', async () => {
    const add = await cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--accept-tos'], h);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const provisionId = add.json().data.id as string;
    const account = sb.current.provider('localcloud').resources().find((r) => r.id === provisionId)!.accountId;

    const r = await cli(['open', 'cache'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const data = r.json().data;
    expect(data).toMatchObject({ name: 'cache', provider: 'localcloud', service: 'kv:namespace', id: provisionId, single_use: true, sign_in_link: true, opened: false });
    const url = data.url as string;
    tokens.push(tokenOf(url));
    expect(url.startsWith(sb.current.provider('localcloud').url)).toBe(true);
    const expires = Date.parse(data.expires_at);
    expect(expires - Date.now()).toBeGreaterThan(8 * 60_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(10 * 60_000 + 5_000);
    expect(r.stderr).not.toContain(url);

    const page = await browser.newPage();
    const first = await page.goto(url);
    expect(first?.status()).toBe(200);
    expect(await page.textContent('#account')).toBe(account);
    expect(await page.textContent('[data-fact="resource"]')).toBe(provisionId);
    expect(await page.textContent('[data-fact="name"]')).toBe('cache');
    expect(await page.textContent('[data-fact="service"]')).toBe('kv:namespace');
    // The console stays open in this browser (a session cookie), the link itself does not.
    expect((await page.reload())?.status()).toBe(200);
    const second = await page.goto(url);
    expect(second?.status()).toBe(410);
    expect(await page.textContent('#refused')).toMatch(/used already/);
    // A browser without the session cannot see the console page either.
    const other = await launchBrowser();
    try {
      const stranger = await other.newPage();
      expect((await stranger.goto(url))?.status()).toBe(410);
      expect((await stranger.goto(first!.url()))?.status()).toBe(401);
    } finally {
      await other.close();
    }
    await page.close();

    // Audited as issued: provider, resource, expiry; never the URL.
    const line = auditLines(h).filter((l) => l.command === 'open').at(-1)!;
    expect(line).toMatchObject({ provider: 'localcloud', resource: 'cache', decision: 'link_issued', details: { id: provisionId, kind: 'sign_in_link', single_use: true, expires_at: data.expires_at } });
    expect(JSON.stringify(line)).not.toContain(url);
  });

  it('--print without --json prints the bare link on a pipe, and a new link each time', async () => {
    const r = await cli(['open', 'cache', '--print'], h, { json: false });
    expect(r.code, r.stderr).toBe(0);
    const url = r.stdout.trim();
    tokens.push(tokenOf(url));
    expect(r.stdout).toBe(`${url}\n`);
    expect(r.stderr).not.toContain(url);
    const page = await browser.newPage();
    expect((await page.goto(url))?.status()).toBe(200);
    await page.close();
  });

  it('a human at a terminal: the browser opens on the link and the link is not printed; when no browser starts, it is printed', async () => {
    const { createDeps } = await import('../../src/cli/deps.js');
    const { run } = await import('../../src/cli/commands/open.js');
    const { renderSuccess } = await import('../../src/cli/output.js');
    const human = (open: (url: string) => Promise<boolean>) => {
      const io = bufferIO();
      const deps = { ...createDeps({ json: false, input: true, verbose: false }, h.env, io, ['open', 'cache']), cwd: h.cwd, canPrompt: () => true, browser: { available: async () => true, open } };
      return { io, deps };
    };
    const launched: string[] = [];
    const a = human(async (url) => (launched.push(url), true));
    const result = await run(a.deps, ['cache'], {});
    renderSuccess(a.io, false, 'open', result);
    expect(launched).toHaveLength(1);
    expect(a.io.text()).toMatch(/^opened localcloud's page for cache in your browser \(the link works once, until /);
    expect(a.io.text()).not.toContain(launched[0]);
    expect(result.data).not.toHaveProperty('url');
    const page = await browser.newPage();
    expect((await page.goto(launched[0]!))?.status()).toBe(200);
    expect((await page.goto(launched[0]!))?.status()).toBe(410);
    await page.close();

    const failed: string[] = [];
    const b = human(async (url) => (failed.push(url), false));
    const printed = await run(b.deps, ['cache'], {});
    renderSuccess(b.io, false, 'open', printed);
    expect(b.io.text()).toContain(`warning: no browser could be started`);
    // Printed on purpose (`reveal`), straight to stdout past the redactor, which masks it everywhere else.
    expect(String((b.io.stdout as PassThrough).read())).toBe(`${failed[0]}\n`);
    expect(b.io.text()).not.toContain(failed[0]);
    for (const url of [...launched, ...failed]) expect(auditText(h)).not.toContain(tokenOf(url));
  });

  it('--print on a terminal never starts the browser', async () => {
    const { createDeps } = await import('../../src/cli/deps.js');
    const { run } = await import('../../src/cli/commands/open.js');
    const launched: string[] = [];
    const deps = { ...createDeps({ json: false, input: true, verbose: false }, h.env, bufferIO(), ['open', 'cache', '--print']), cwd: h.cwd, canPrompt: () => true, browser: { available: async () => true, open: async (u: string) => (launched.push(u), true) } };
    const r = await run(deps, ['cache'], { print: true });
    expect(launched).toEqual([]);
    expect(r.data).toMatchObject({ opened: false });
    expect(r.reveal).toEqual([(r.data as { url: string }).url]);
  });

  it('appcloud (APP deep_links): the same, the page shows the account and the resource', async () => {
    expect((await cli(['providers', 'add', sb.current.app.url, '--protocol', 'app', '--id', 'appcloud'], h)).code).toBe(0);
    const add = await cli(['add', 'appcloud/app:analytics', '--name', 'metrics', '--accept-tos'], h);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const resourceId = add.json().data.id as string;
    const stored = sb.current.app.state.data.resources[resourceId]!;
    const email = sb.current.app.state.data.accounts[stored.account]!.email;

    const r = await cli(['open', 'metrics'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const data = r.json().data;
    expect(data).toMatchObject({ name: 'metrics', provider: 'appcloud', id: resourceId, single_use: true, sign_in_link: true, opened: false });
    const url = data.url as string;
    tokens.push(tokenOf(url));
    expect(url.startsWith(sb.current.app.origin)).toBe(true);

    const page = await browser.newPage();
    expect((await page.goto(url))?.status()).toBe(200);
    expect(await page.textContent('#account')).toBe(stored.account);
    expect(await page.textContent('[data-fact="resource"]')).toBe(resourceId);
    expect(await page.textContent('[data-fact="email"]')).toBe(email);
    expect(await page.textContent('[data-fact="service"]')).toBe('analytics');
    expect(await page.content()).not.toContain(stored.api_key);
    expect((await page.goto(url))?.status()).toBe(410);
    await page.close();

    const line = auditLines(h).filter((l) => l.command === 'open').at(-1)!;
    expect(line).toMatchObject({ provider: 'appcloud', resource: 'metrics', decision: 'link_issued', details: { kind: 'sign_in_link', single_use: true } });
  });

  it('cloudflare: the dashboard URL of the resource (no secret, not single use), after checking it exists', async () => {
    const link = await cli(['providers', 'link', 'cloudflare', '--api-url', double.url], h, { input: `${double.parent.value}\n` });
    expect(link.code, link.stdout + link.stderr).toBe(0);
    const add = await cli(['add', 'cloudflare/kv:namespace', '--name', 'cfkv'], h);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    const id = add.json().data.id as string;
    expect(id).toMatch(/^kv\//);

    const r = await cli(['open', 'cfkv'], h);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json().data).toMatchObject({
      provider: 'cloudflare',
      url: `https://dash.cloudflare.com/${double.accountId}/workers/kv/namespaces/${id.slice('kv/'.length)}`,
      single_use: false,
      sign_in_link: false,
      expires_at: null,
      opened: false,
    });
    const line = auditLines(h).filter((l) => l.command === 'open').at(-1)!;
    expect(line).toMatchObject({ provider: 'cloudflare', resource: 'cfkv', details: { kind: 'console_url', single_use: false, expires_at: null } });

    // Deleted at Cloudflare behind agentprov's back: no URL to a page that does not exist.
    const manifest = readFileSync(join(h.cwd, 'agentprov.json'), 'utf8');
    expect((await cli(['remove', 'cfkv', '--yes'], h)).code).toBe(0);
    writeFileSync(join(h.cwd, 'agentprov.json'), manifest);
    const gone = await cli(['open', 'cfkv'], h);
    expect(gone.code).toBe(2);
    expect(gone.json().error.code).toBe('RESOURCE_NOT_FOUND');
  });

  it('an unknown name is a usage error naming the manifest', async () => {
    const r = await cli(['open', 'nope'], h);
    expect(r.code).toBe(2);
    expect(r.json().error).toMatchObject({ code: 'RESOURCE_NOT_FOUND', details: { name: 'nope' } });
  });
});
