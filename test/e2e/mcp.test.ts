/**
 * `agentprov mcp` driven by the SDK's own Client over stdio, as an MCP
 * agent would: the built bundle with an isolated home, the real sandbox,
 * Chromium approving the device code, and a canary scan of every byte the
 * server wrote (protocol stream and stderr).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeDeviceFlow, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { expectNoSecretLeaks, vaultSecrets } from '../helpers/canary.js';
import { BIN, isolatedEnv, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { requireSecretService } from '../helpers/keyring.js';
import { DEMO_USER, useSandbox } from '../helpers/sandbox.js';

const haveKeyring = requireSecretService();
const TOOLS = ['add', 'budget_show', 'catalog', 'env', 'list', 'login', 'remove', 'revoke', 'run', 'search', 'spend', 'status', 'update'];

interface Session {
  client: Client;
  /** Everything the server wrote: each protocol message as received, and its stderr. */
  written: CliResult;
  call(name: string, args?: Record<string, unknown>): Promise<any>;
}

async function startMcp(env: NodeJS.ProcessEnv, cwd: string, onElicit?: (params: any) => Promise<{ action: 'accept' | 'decline' }>): Promise<Session> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp'], env: env as Record<string, string>, cwd, stderr: 'pipe' });
  const written: CliResult = { code: null, signal: null, stdout: '', stderr: '', json: () => undefined };
  transport.stderr?.on('data', (d) => (written.stderr += d));
  const client = new Client({ name: 'agentprov-e2e', version: '1.0.0' }, { capabilities: onElicit ? { elicitation: { url: {} } } : {} });
  if (onElicit) client.setRequestHandler(ElicitRequestSchema, (req) => onElicit(req.params));
  await client.connect(transport);
  const onmessage = transport.onmessage!;
  transport.onmessage = (message) => {
    written.stdout += JSON.stringify(message) + '\n';
    onmessage(message);
  };
  return {
    client,
    written,
    call: (name, args = {}) => client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 }),
  };
}

describe.runIf(haveKeyring)('agentprov mcp (SDK client over stdio, against the sandbox)', () => {
  const sb = useSandbox();
  let browser: TestBrowser;
  const outputs: CliResult[] = [];
  const homes: string[] = [];
  const dirs: string[] = [];
  const sessions: Session[] = [];

  const newHome = () => {
    const home = tempDir();
    const cwd = tempDir('agentprov-project-');
    homes.push(home);
    dirs.push(home, cwd);
    return { home, cwd, env: isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1', AGENTPROV_BUILTIN_PROVIDERS: 'none' }) };
  };
  /** The orchestrator is configured (init pends at the sign-in, exit 3); nobody is signed in yet. */
  const configured = async () => {
    const h = newHome();
    const init = await runCli(['init', '--orchestrator', sb.current.orchestrator, '--json'], { env: h.env, cwd: h.cwd, timeoutMs: 60_000 });
    outputs.push(init);
    expect(init.code, init.stdout + init.stderr).toBe(3);
    return h;
  };
  const approve = async (verificationUri: string, userCode: string) => {
    await browser.context.clearCookies();
    const page = await browser.newPage();
    await completeDeviceFlow(page, { verificationUri, userCode, ...DEMO_USER, decision: 'approve' });
    await page.close();
  };

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const s of sessions) await s.client.close().catch(() => undefined);
    await browser?.close();
    // Every vault secret of every home is a canary: none in anything a server wrote, nor in any file outside the vault.
    const secrets = new Set<string>();
    for (const h of homes) for (const s of await vaultSecrets(isolatedEnv(h), h).catch(() => [])) secrets.add(s);
    expect(secrets.size).toBeGreaterThan(0);
    expectNoSecretLeaks(secrets, [...outputs, ...sessions.map((s) => s.written)], dirs);
  });

  it('lists the tools with valid JSON Schemas, never token; catalog mirrors the envelope', async () => {
    const h = await configured();
    const s = await startMcp(h.env, h.cwd);
    sessions.push(s);
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    const ajv = new Ajv({ strict: false });
    for (const t of tools) {
      expect(t.inputSchema.type).toBe('object');
      expect(() => ajv.compile(t.inputSchema)).not.toThrow();
      expect(t.outputSchema?.type).toBe('object');
      expect(() => ajv.compile(t.outputSchema!)).not.toThrow();
    }
    const add = tools.find((t) => t.name === 'add')!;
    expect(add.inputSchema.required).toEqual(['service']);
    for (const yes of ['accept_tos', 'confirm_paid_service', 'max_price']) expect(Object.keys(add.inputSchema.properties ?? {})).toContain(yes);

    const r = await s.call('catalog', { compact: true });
    expect(r.isError, JSON.stringify(r)).toBeFalsy();
    const env = r.structuredContent;
    expect(ajv.validate(tools.find((t) => t.name === 'catalog')!.outputSchema!, env)).toBe(true);
    expect(env).toMatchObject({ ok: true, command: 'catalog', version: expect.stringMatching(/^\d+\.\d+\.\d+/), meta: { signed_in: false } });
    expect(env.data.compact).toContain('localcloud/kv:namespace');
    // The same document the CLI prints.
    const cli = await runCli(['catalog', '--compact', '--json'], { env: h.env, cwd: h.cwd });
    outputs.push(cli);
    expect(env.data.compact).toBe(cli.json().data.compact);

    const bad = await s.call('catalog', { filter: 'nocloud/none' });
    expect(bad.isError).toBe(true);
    expect(bad.structuredContent.error.code).toBe('SERVICE_NOT_FOUND');
  });

  it('add before sign-in: isError with the verification URL and code and the next call; after Chromium approves, add and run finish', async () => {
    const h = await configured();
    const s = await startMcp(h.env, h.cwd);
    sessions.push(s);
    const first = await s.call('add', { service: 'localcloud/kv:namespace', name: 'cache' });
    expect(first.isError, JSON.stringify(first)).toBe(true);
    const e = first.structuredContent;
    expect(e.error.code).toBe('NOT_SIGNED_IN');
    expect(e.error.details.verification_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(e.error.details.user_code).toMatch(/\S{4,}/);
    expect(e.next_call).toEqual({ tool: 'login', arguments: { complete: true } });
    expect(e.then_call).toEqual({ tool: 'add', arguments: { service: 'localcloud/kv:namespace', name: 'cache' } });
    expect(first.content[0].text).toContain('the human must act');

    // Not approved yet: still a human step, with the same code.
    const early = await s.call('login', { complete: true });
    expect(early.isError).toBe(true);
    expect(early.structuredContent.error).toMatchObject({ code: 'AUTHORIZATION_PENDING', details: { user_code: e.error.details.user_code } });

    await approve(e.error.details.verification_uri, e.error.details.user_code);
    const done = await s.call('login', { complete: true, wait_seconds: 10 });
    expect(done.isError, JSON.stringify(done)).toBeFalsy();
    expect(done.structuredContent.data.email).toBe(DEMO_USER.email);

    // The human's yes is an argument: without accept_tos, the terms step, as on the command line.
    const terms = await s.call('add', { service: 'localcloud/kv:namespace', name: 'cache' });
    expect(terms.isError).toBe(true);
    expect(terms.structuredContent.error.code).toBe('TERMS_ACCEPTANCE_REQUIRED');
    expect(terms.structuredContent.meta.signed_in).toBe(true);

    const added = await s.call('add', { service: 'localcloud/kv:namespace', name: 'cache', accept_tos: true });
    expect(added.isError, JSON.stringify(added)).toBeFalsy();
    expect(added.structuredContent.data).toMatchObject({ name: 'cache', provider: 'localcloud', status: 'active', env: ['LOCALCLOUD_TOKEN', 'LOCALCLOUD_KV_URL'] });
    expect(added.structuredContent.meta.project).toMatch(/agentprov\.json$/);

    const list = await s.call('list', { refresh: false });
    expect(list.structuredContent.data.resources.map((r: { name: string }) => r.name)).toEqual(['cache']);

    // run: the child gets the token (and prints it): the output comes back masked, with its exit code.
    const script = 'const t = process.env.LOCALCLOUD_TOKEN || ""; console.log("len=" + t.length); console.log("tok=" + t); console.error("to stderr"); process.exit(7)';
    const ran = await s.call('run', { command: process.execPath, args: ['-e', script], resource: ['cache'] });
    expect(ran.isError, JSON.stringify(ran)).toBeFalsy();
    const d = ran.structuredContent.data;
    expect(d.exit_code).toBe(7);
    expect(d.output).toMatch(/len=[1-9]\d+/);
    expect(d.output).toContain('tok=****');
    expect(d.output).toContain('to stderr');
    expect(d.timed_out).toBe(false);
    expect(d.credentials[0]).toMatchObject({ provider: 'localcloud', revoked: true, long_lived: false });

    const slow = await s.call('run', { command: process.execPath, args: ['-e', 'setTimeout(() => {}, 60000)'], resource: ['cache'], timeout_seconds: 1 });
    expect(slow.structuredContent.data.timed_out).toBe(true);
    expect(slow.structuredContent.data.exit_code).toBe(128 + 15);

    const remove = await s.call('remove', { name: 'cache' });
    expect(remove.isError).toBe(true);
    expect(remove.structuredContent.error.code).toBe('CONFIRMATION_REQUIRED');

    // The rest of the resource's life, as tools: the names run sets (never values), a plan change that
    // needs the human's yes to pay, and revoking (which needs the human's yes too). No `open`: its link is the human's.
    const env = await s.call('env', { names: 'cache' });
    expect(env.isError, JSON.stringify(env)).toBeFalsy();
    expect(env.structuredContent.data.variables.map((v: { name: string }) => v.name).sort()).toEqual(['LOCALCLOUD_KV_URL', 'LOCALCLOUD_TOKEN']);
    const paid = await s.call('update', { name: 'cache', service: 'kv:pro' });
    expect(paid.isError).toBe(true);
    expect(paid.structuredContent.error.code).toBe('PAID_CONFIRMATION_REQUIRED');
    expect(paid.structuredContent.next_call).toMatchObject({ tool: 'update', arguments: { name: 'cache', service: 'kv:pro', confirm_paid_service: true } });
    const revoke = await s.call('revoke', { provider: 'localcloud' });
    expect(revoke.isError).toBe(true);
    expect(revoke.structuredContent.error.code).toBe('CONFIRMATION_REQUIRED');
    expect(revoke.structuredContent.next_call).toEqual({ tool: 'revoke', arguments: { provider: 'localcloud', yes: true } });
  });

  it('a client with URL-mode elicitation is shown the sign-in page, and add finishes in one call', async () => {
    const h = await configured();
    const asked: string[] = [];
    const s = await startMcp(h.env, h.cwd, async (params) => {
      expect(params.mode).toBe('url');
      asked.push(params.url);
      const code = /enter the code (\S+?)\.$/.exec(params.message)?.[1];
      expect(code).toBeTruthy();
      // verification_uri_complete carries the code; the helper enters it on the plain page.
      await approve(String(params.url).split('?')[0]!, code!);
      return { action: 'accept' };
    });
    sessions.push(s);
    const r = await s.call('add', { service: 'localcloud/kv:namespace', name: 'elicited', accept_tos: true });
    expect(asked).toHaveLength(1);
    expect(r.isError, JSON.stringify(r)).toBeFalsy();
    expect(r.structuredContent.data).toMatchObject({ name: 'elicited', status: 'active' });
    expect(r.structuredContent.meta.signed_in).toBe(true);
  });
});
