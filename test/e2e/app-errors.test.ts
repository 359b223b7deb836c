/**
 * Every APP error envelope the client can meet maps to agentprov's code and
 * exit class (docs/protocol.md §APP.1's table): the bundled CLI as an agent
 * runs it (`--json --no-input`) against a loopback stub APP server that
 * answers each envelope; the provider's message reaches the agent with its
 * control characters stripped.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type CliResult, isolatedEnv, type ProjectHome as Home, runCli, tempDir } from '../helpers/cli.js';
import { requireSecretService } from '../helpers/keyring.js';
import { useSandbox } from '../helpers/sandbox.js';

const haveKeyring = requireSecretService();

const cli = (args: string[], h: Home): Promise<CliResult> => runCli([...args, '--json', '--no-input'], { env: h.env, cwd: h.cwd, timeoutMs: 60_000 });

/** The message every stub envelope carries: control characters (an OSC 8 link, BEL, ESC, C1) the client must strip. */
const RAW = 'field \u001b]8;;http://evil\u0007email\u001b]8;;\u0007 is \u009bnot\u0000 accepted';
const SHOWN = 'field ]8;;http://evilemail]8;; is not accepted';

interface Case {
  name: string;
  /** `account` answers account_requests so; `token` lets it pass and answers oauth/token so. */
  at: 'account' | 'token';
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  code: string;
  exit: number;
  provider_code?: string;
  details?: Record<string, unknown>;
}

const CASES: Case[] = [
  { name: '400 invalid_request naming a field', at: 'account', status: 400, body: { error: { code: 'invalid_request', message: RAW } }, code: 'PROVIDER_ERROR', exit: 5, provider_code: 'invalid_request' },
  { name: '401 unauthorized', at: 'account', status: 401, body: { error: { code: 'unauthorized', message: RAW } }, code: 'PROVIDER_NOT_AUTHORIZED', exit: 3, provider_code: 'unauthorized' },
  { name: '403 forbidden (with type/status/id)', at: 'account', status: 403, body: { error: { type: 'invalid_request_error', status: 403, id: 'err_1', code: 'forbidden', message: RAW } }, code: 'PROVIDER_NOT_AUTHORIZED', exit: 3, provider_code: 'forbidden' },
  { name: '404 not_found', at: 'account', status: 404, body: { error: { code: 'not_found', message: RAW } }, code: 'RESOURCE_NOT_FOUND', exit: 2, provider_code: 'not_found' },
  { name: '409 conflict', at: 'account', status: 409, body: { error: { code: 'conflict', message: RAW } }, code: 'PROVIDER_ERROR', exit: 5, provider_code: 'conflict' },
  { name: '429 rate_limited, Retry-After beyond the retry bound', at: 'account', status: 429, body: { error: { code: 'rate_limited', message: RAW } }, headers: { 'retry-after': '60' }, code: 'PROVIDER_ERROR', exit: 5, provider_code: 'rate_limited', details: { retryable: true, retry_after: 60 } },
  { name: '503 with an envelope', at: 'account', status: 503, body: { error: { code: 'service_unavailable', message: RAW } }, code: 'PROVIDER_UNREACHABLE', exit: 5, provider_code: 'service_unavailable', details: { retryable: true } },
  { name: '500 without JSON', at: 'account', status: 500, body: 'oops', code: 'PROVIDER_UNREACHABLE', exit: 5, details: { retryable: true } },
  { name: '402 requires_payment_credentials', at: 'account', status: 402, body: { error: { code: 'requires_payment_credentials', message: RAW } }, code: 'PAYMENT_METHOD_REQUIRED', exit: 3, provider_code: 'requires_payment_credentials' },
  { name: '400 unknown_service', at: 'account', status: 400, body: { error: { code: 'unknown_service', message: RAW } }, code: 'SERVICE_NOT_FOUND', exit: 2, provider_code: 'unknown_service' },
  { name: '418 an unknown code', at: 'account', status: 418, body: { error: { code: 'teapot_mode', message: RAW } }, code: 'PROVIDER_ERROR', exit: 5, provider_code: 'teapot_mode' },
  { name: 'RFC 6749 invalid_grant at the token endpoint', at: 'token', status: 400, body: { error: 'invalid_grant', error_description: RAW }, code: 'PROVIDER_NOT_AUTHORIZED', exit: 3, provider_code: 'invalid_grant' },
];

function stub(current: () => Case): Server {
  return createServer((req, res) => {
    const path = req.url ?? '';
    const chunks: Buffer[] = [];
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const c = current();
      if (path.endsWith('provisioning/services')) return send(200, { data: [{ id: 'x', pricing: { type: 'free' } }] });
      if (path.endsWith('client_registration')) return send(200, {});
      if (path.endsWith('account_requests')) {
        if (c.at === 'account') return send(c.status, c.body, c.headers);
        const { id } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string };
        return send(200, { id, type: 'oauth', oauth: { code: 'stub-code' } });
      }
      if (path.endsWith('oauth/token')) return send(c.status, c.body, c.headers);
      send(404, { error: { code: 'not_found', message: 'no' } });
    });
  });
}

describe.skipIf(!haveKeyring)('APP error envelopes through the CLI', () => {
  const sb = useSandbox({ autoApprove: true });

  it('maps each envelope to its agentprov code and exit class, the message stripped of control characters', async () => {
    const home = tempDir();
    const cwd = tempDir('agentprov-project-');
    writeFileSync(join(cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
    const h: Home = { home, cwd, env: isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' }) };
    expect((await cli(['init', '--orchestrator', sb.current.orchestrator], h)).code).toBe(3);
    const login = await cli(['login', '--complete', '--wait', '15'], h);
    expect(login.code, login.stdout + login.stderr).toBe(0);

    let current = CASES[0]!;
    const server = stub(() => current);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/agentic/`;
      expect((await cli(['providers', 'add', base, '--protocol', 'app', '--id', 'stub'], h)).code).toBe(0);
      for (const [i, c] of CASES.entries()) {
        current = c;
        const r = await cli(['add', 'stub/app:x', '--name', `n-${i}`, '--accept-tos'], h);
        expect(r.code, `${c.name}: ${r.stdout}${r.stderr}`).toBe(c.exit);
        expect(r.stdout, c.name).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]|\\u00(1b|07|9b|00)/i);
        const e = r.json().error;
        expect(e.code, c.name).toBe(c.code);
        expect(e.details, c.name).toMatchObject({ provider: 'stub', status: c.status, ...(c.provider_code ? { provider_code: c.provider_code } : {}), ...c.details });
        if (typeof c.body !== 'string') expect(e.message, c.name).toContain(SHOWN);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r(undefined)));
    }
  }, 300_000);
});
