/**
 * The Cloudflare provider (src/providers/cloudflare/) and `providers link
 * cloudflare`, in process, against the local Cloudflare API double
 * (test/helpers/cloudflare-double.ts) reached through the SDK's base URL,
 * with the real Secret Service for the vault. The signed-in agentprov
 * session is a stored one (test/helpers/stored-session.ts), so no identity
 * provider is needed here. The catalog and the built-in switch are in
 * test/unit/providers/cloudflare.test.ts, the bundled CLI in
 * test/e2e/cloudflare-provider.test.ts.
 *
 * Canary: every error thrown in this file is collected, and none may carry
 * a parent token value in its message, details or next steps.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { verifyAudit } from '../../../src/audit/log.js';
import { linkCommand } from '../../../src/cli/commands/providers-link.js';
import { AgentprovError } from '../../../src/core/errors.js';
import { openCloudflareProvider } from '../../../src/providers/cloudflare/index.js';
import { LINK_ENTRY, linkCloudflare, readLink } from '../../../src/providers/cloudflare/link.js';
import { clearPermissionGroupCache } from '../../../src/providers/cloudflare/tokens.js';
import type { Provider } from '../../../src/providers/provider.js';
import { rejection } from '../../helpers/errors.js';
import { bufferIO } from '../../helpers/io.js';
import { startCloudflareDouble, type CloudflareDouble, type CloudflareDoubleOptions } from '../../helpers/cloudflare-double.js';
import { requireSecretService } from '../../helpers/keyring.js';
import { depsFor, ISSUER, newHome, signIn, type Home } from '../../helpers/stored-session.js';

const haveKeyring = requireSecretService();

const errors: AgentprovError[] = [];
const parentValues = new Set<string>();

async function failure(p: Promise<unknown>, code: string, exit: number): Promise<AgentprovError> {
  const e = await rejection(p);
  errors.push(e);
  expect(e.code, `${e.code}: ${e.message}`).toBe(code);
  expect(e.exitCode).toBe(exit);
  return e;
}

describe.runIf(haveKeyring)('Cloudflare against the API double', () => {
  let double: CloudflareDouble;
  const doubles: CloudflareDouble[] = [];

  async function start(opts: CloudflareDoubleOptions = {}): Promise<CloudflareDouble> {
    const d = await startCloudflareDouble(opts);
    doubles.push(d);
    parentValues.add(d.parent.value);
    return d;
  }

  /** A signed-in home linked to `d` with its parent token. */
  async function linked(d: CloudflareDouble, subject = 'demo-user'): Promise<{ h: Home; deps: ReturnType<typeof depsFor>; provider: Provider }> {
    const h = newHome();
    await signIn(h, subject);
    const deps = depsFor(h);
    await linkCloudflare(deps, { token: d.parent.value, apiUrl: d.url });
    return { h, deps, provider: await openCloudflareProvider(depsFor(h)) };
  }

  const posts = (d: CloudflareDouble, path: RegExp, method = 'POST'): number => d.state.requests.filter((r) => r.method === method && path.test(r.path)).length;

  beforeEach(async () => {
    clearPermissionGroupCache();
    double = await start();
  });
  afterEach(() => {
    expect(double.state.internalErrors).toEqual([]);
  });
  afterAll(async () => {
    for (const d of doubles) await d.close();
    // Canary: no parent token in any error this file saw.
    expect(errors.length).toBeGreaterThan(10);
    for (const e of errors) {
      const text = JSON.stringify({ message: e.message, details: e.details, next: e.nextSteps });
      for (const v of parentValues) expect(text).not.toContain(v);
    }
  });

  describe('providers link cloudflare', () => {
    it('verifies the token, probes token creation (one probe, deleted), stores the link and audits it without the secret', async () => {
      const h = newHome();
      await signIn(h);
      const deps = depsFor(h);
      const out = await linkCloudflare(deps, { token: ` ${double.parent.value}\n`, apiUrl: double.url });
      expect(out).toMatchObject({ provider: 'cloudflare', account_id: double.accountId, token_id: double.parent.id, api_url: double.url, owner: 'user', relinked: false });
      expect(out.account_name).toBeTruthy();

      const probes = double.state.tokenEvents.filter((e) => e.by === double.parent.id);
      expect(probes.map((e) => e.type)).toEqual(['created', 'deleted']);
      const probe = double.state.tokens.find((t) => t.id === probes[0]!.token_id)!;
      expect(Date.parse(probe.expires_on!) - Date.now()).toBeLessThanOrEqual(120_000);
      expect(probe.policies.every((p) => Object.keys(p.resources).every((k) => k === `com.cloudflare.api.account.${double.accountId}`))).toBe(true);
      expect(probe.deleted_on).toBeDefined();

      const link = await readLink(await deps.vault());
      expect(link).toMatchObject({ v: 1, api_url: double.url, account_id: double.accountId, token_id: double.parent.id, parent_token: double.parent.value, subject: 'demo-user', issuer: ISSUER });
      // The vault teaches the redactor the parent token (a secret-named field).
      const fresh = depsFor(h);
      await (await fresh.vault()).get(LINK_ENTRY);
      expect(fresh.io.redactor.redact(`x ${double.parent.value} y`)).toBe('x **** y');

      const audit = readFileSync(join(h.home, 'state', 'audit.jsonl'), 'utf8');
      expect(audit).toContain('"decision":"provider_linked"');
      expect(audit).toContain(double.parent.id);
      expect(audit).not.toContain(double.parent.value);
      expect((await verifyAudit(join(h.home, 'state', 'audit.jsonl'))).ok).toBe(true);

      // Linking again replaces the link.
      const again = await linkCloudflare(depsFor(h), { token: double.parent.value, apiUrl: double.url });
      expect(again.relinked).toBe(true);
    });

    it('refuses an invalid token, an expired one and one without "API Tokens Write", storing nothing', async () => {
      const h = newHome();
      await signIn(h);
      const deps = depsFor(h);
      const bogus = 'A'.repeat(40);
      parentValues.add(bogus);
      await failure(linkCloudflare(deps, { token: bogus, apiUrl: double.url }), 'CLOUDFLARE_LINK_INVALID', 3);

      const expired = double.createToken({ user: ['API Tokens Write'], account: ['Account Settings Read'], expires_on: new Date(Date.now() - 60_000) });
      parentValues.add(expired.value);
      await failure(linkCloudflare(deps, { token: expired.value, apiUrl: double.url }), 'CLOUDFLARE_LINK_INVALID', 3);

      const disabled = double.createToken({ user: ['API Tokens Write'], account: ['Account Settings Read'], status: 'disabled' });
      parentValues.add(disabled.value);
      await failure(linkCloudflare(deps, { token: disabled.value, apiUrl: double.url }), 'CLOUDFLARE_LINK_INVALID', 3);

      const weak = double.createToken({ user: ['User Details Read'], account: ['Account Settings Read', 'Workers KV Storage Write'] });
      parentValues.add(weak.value);
      const e = await failure(linkCloudflare(deps, { token: weak.value, apiUrl: double.url }), 'CLOUDFLARE_TOKEN_CANNOT_CREATE_TOKENS', 3);
      expect(e.details.permission).toBe('API Tokens Write');
      expect(e.message).toContain('API Tokens Write');

      await failure(linkCloudflare(deps, { token: 'short', apiUrl: double.url }), 'USAGE', 2);
      const odd = `${'B'.repeat(30)}!!!!`;
      parentValues.add(odd);
      await failure(linkCloudflare(deps, { token: odd, apiUrl: double.url }), 'CLOUDFLARE_LINK_INVALID', 3);
      expect(await readLink(await deps.vault())).toBeUndefined();
    });

    it('links an account-owned token through the account endpoints', async () => {
      const acct = double.createToken({ ownerAccountId: double.accountId, account: ['Account API Tokens Write', 'Account Settings Read', 'Workers KV Storage Write'] });
      parentValues.add(acct.value);
      const h = newHome();
      await signIn(h);
      const out = await linkCloudflare(depsFor(h), { token: acct.value, apiUrl: double.url });
      expect(out).toMatchObject({ owner: 'account', account_id: double.accountId, token_id: acct.id });
      const provider = await openCloudflareProvider(depsFor(h));
      const cred = await provider.childCredential!({ ttlSeconds: 120, scopes: ['workers_kv:write'] });
      const child = double.token(cred.id!)!;
      expect(child.owner).toEqual({ kind: 'account', id: double.accountId });
      await provider.revoke(cred);
      expect(double.token(cred.id!)).toBeUndefined();
    });

    it('asks which account when the token reaches several, or exits 2 listing them', async () => {
      const multi = await start({ accounts: [{ name: 'Personal' }, { name: 'Work' }] });
      const h = newHome();
      await signIn(h);
      const e = await failure(linkCloudflare(depsFor(h), { token: multi.parent.value, apiUrl: multi.url }), 'USAGE', 2);
      const listed = e.details.accounts as Array<{ id: string; name: string }>;
      expect(listed.map((a) => a.name).sort()).toEqual(['Personal', 'Work']);
      expect(e.nextSteps).toContain('agentprov providers link cloudflare --account <id>');

      const work = listed.find((a) => a.name === 'Work')!;
      const byFlag = await linkCloudflare(depsFor(h), { token: multi.parent.value, apiUrl: multi.url, account: work.id });
      expect(byFlag.account_name).toBe('Work');
      const asked: string[][] = [];
      const byPrompt = await linkCloudflare(depsFor(h), {
        token: multi.parent.value,
        apiUrl: multi.url,
        chooseAccount: async (accounts) => {
          asked.push(accounts.map((a) => a.name));
          return accounts.find((a) => a.name === 'Personal')!.id;
        },
      });
      expect(asked).toHaveLength(1);
      expect(byPrompt.account_name).toBe('Personal');
      await failure(linkCloudflare(depsFor(h), { token: multi.parent.value, apiUrl: multi.url, account: 'f'.repeat(32) }), 'USAGE', 2);
    });

    it('the command reads the token from standard input only, and links nothing else', async () => {
      const h = newHome();
      await signIn(h);
      const ui = { selectAccount: async () => '' };
      const piped = depsFor(h, bufferIO({ stdin: `${double.parent.value}\n` }));
      const r = await linkCommand(piped, ['cloudflare'], { apiUrl: double.url }, ui);
      expect(r.data).toEqual({ provider: 'cloudflare', account_id: double.accountId, account_name: expect.any(String), token_id: double.parent.id, api_url: double.url });
      expect(JSON.stringify(r)).not.toContain(double.parent.value);

      await failure(linkCommand(depsFor(h, bufferIO({ stdin: '' })), ['cloudflare'], { apiUrl: double.url }, ui), 'USAGE', 2);
      await failure(linkCommand(depsFor(h, bufferIO({ stdin: `${double.parent.value}\nsecond line\n` })), ['cloudflare'], { apiUrl: double.url }, ui), 'USAGE', 2);
      await failure(linkCommand(depsFor(h, bufferIO({ stdin: 'x'.repeat(5000) })), ['cloudflare'], { apiUrl: double.url }, ui), 'USAGE', 2);
      // A terminal under --json cannot show the hidden prompt: USAGE with how to pipe it, no prompt.
      const tty = await failure(linkCommand(depsFor(h, bufferIO({ stdinIsTTY: true })), ['cloudflare'], { apiUrl: double.url }, ui), 'USAGE', 2);
      expect(tty.nextSteps.join(' ')).toMatch(/standard input|pipe/);
      await failure(linkCommand(depsFor(h, bufferIO({ stdin: double.parent.value })), ['localcloud'], {}, ui), 'USAGE', 2);
      await failure(linkCommand(depsFor(h, bufferIO({ stdin: double.parent.value })), ['cloudflare'], { apiUrl: 'http://example.com/client/v4' }, ui), 'USAGE', 2);

      const signedOut = newHome();
      await failure(linkCommand(depsFor(signedOut, bufferIO({ stdin: double.parent.value })), ['cloudflare'], { apiUrl: double.url }, ui), 'NOT_SIGNED_IN', 3);
    });

    it('on a terminal: a hidden prompt for the token, and a choice of account', async () => {
      const multi = await start({ accounts: [{ name: 'Personal' }, { name: 'Work' }] });
      const h = newHome();
      await signIn(h);
      const asked: string[] = [];
      const deps = { ...depsFor(h, bufferIO({ stdinIsTTY: true }), { json: false, input: true, verbose: false }), canPrompt: () => true };
      deps.prompter = {
        confirm: async () => false,
        password: async (message: string) => {
          asked.push(message);
          return multi.parent.value;
        },
      };
      const choices: string[][] = [];
      const r = await linkCommand(deps, ['cloudflare'], { apiUrl: multi.url }, {
        selectAccount: async (_d, accounts) => {
          choices.push(accounts.map((a) => a.name));
          return accounts.find((a) => a.name === 'Work')!.id;
        },
      });
      expect(asked).toHaveLength(1);
      expect(choices).toEqual([['Personal', 'Work']]);
      expect(r.data).toMatchObject({ account_name: 'Work' });
      expect(r.human).not.toContain(multi.parent.value);
    });

    it('an answer that is not what Cloudflare documents is INVALID_PROVIDER_RESPONSE naming the field; an oversized one too', async () => {
      const server = createServer((req, res) => {
        if (req.url?.endsWith('/user/tokens/verify')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ success: true, errors: [], messages: [], result: { status: 'active' } }));
        } else {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) });
          res.end();
        }
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
      try {
        const h = newHome();
        await signIn(h);
        const e = await failure(linkCloudflare(depsFor(h), { token: double.parent.value, apiUrl: base }), 'INVALID_PROVIDER_RESPONSE', 5);
        expect(e.details).toMatchObject({ provider: 'cloudflare', call: 'GET /user/tokens/verify', field: 'id' });
        expect(e.message).toContain('cloudflare');
        const { cloudflareClient, parsed } = await import('../../../src/providers/cloudflare/client.js');
        const ctx = cloudflareClient(base, double.parent.value, bufferIO().redactor);
        const before = Date.now();
        const big = await failure(parsed(ctx, 'GET /accounts', z.unknown(), () => ctx.client.accounts.list({})), 'INVALID_PROVIDER_RESPONSE', 5);
        expect(big.message).toMatch(/bytes/);
        expect(Date.now() - before).toBeLessThan(400); // refused at once, not retried
        // Never to another address than the linked API (pagination or a bug cannot send the token elsewhere).
        const off = await failure(parsed(ctx, 'GET elsewhere', z.unknown(), () => ctx.client.get('https://example.com/steal')), 'PROVIDER_ERROR', 5);
        expect(off.details.reason).toBe('off_origin');
      } finally {
        server.close();
      }
    });
  });

  describe('authorize', () => {
    it('needs a link of this agentprov user whose token still verifies', async () => {
      const h = newHome();
      await signIn(h);
      const unlinked = await openCloudflareProvider(depsFor(h));
      const e = await failure(unlinked.authorize({ acceptTerms: false, interactive: false, preflight: true }), 'PROVIDER_NOT_LINKED', 3);
      expect(e.nextSteps).toEqual(['agentprov providers link cloudflare']);

      const { h: mine, provider } = await linked(double);
      expect(await provider.authorize({ acceptTerms: false, interactive: false })).toEqual({ accountId: double.accountId, accountCreated: false, via: 'stored_grant' });
      expect(await provider.authorize({ acceptTerms: false, interactive: false, preflight: true })).toMatchObject({ accountId: double.accountId });

      // Another agentprov user signed in on the same machine does not inherit the link.
      await signIn(mine, 'someone-else');
      await failure((await openCloudflareProvider(depsFor(mine))).authorize({ acceptTerms: false, interactive: false }), 'PROVIDER_NOT_LINKED', 3);
      await signIn(mine, 'demo-user');

      double.token(double.parent.id)!.status = 'disabled';
      const dead = await failure((await openCloudflareProvider(depsFor(mine))).authorize({ acceptTerms: false, interactive: false }), 'CLOUDFLARE_LINK_INVALID', 3);
      expect(dead.nextSteps).toContain('agentprov providers link cloudflare');
    });
  });

  describe('registrar:domain', () => {
    it('quotes the checked price, refuses unavailable, premium and dashboard-only domains, and owes nothing for an owned one', async () => {
      const { provider } = await linked(double);
      double.setPrice('com', '10.44', '10.44');
      double.setPrice('dev', '12.00', '14.50');
      const q = (domain: string, extra: Record<string, unknown> = {}) => provider.quote!({ service: 'registrar:domain', name: 'site', config: { domain, ...extra } });
      expect(await q('my-new-site.com')).toEqual({ amount: 1044, currency: 'USD', interval: 'year', description: 'my-new-site.com for 1 year' });
      expect(await q('my-new-site.dev', { years: 3 })).toEqual({ amount: 1200 + 2 * 1450, currency: 'USD', description: 'my-new-site.dev for 3 years' });
      expect(await provider.quote!({ service: 'kv:namespace', name: 'cache', config: {} })).toBeUndefined();

      double.markTaken('taken.com');
      const taken = await failure(q('taken.com'), 'DOMAIN_UNAVAILABLE', 2);
      expect(taken.details).toMatchObject({ domain: 'taken.com', reason: 'domain_unavailable' });
      double.markPremium('fancy.com', '5000.00');
      expect((await failure(q('fancy.com'), 'DOMAIN_UNAVAILABLE', 2)).details.reason).toBe('domain_premium');
      const viaDash = await failure(q('brand.sh'), 'DOMAIN_UNAVAILABLE', 2);
      expect(viaDash.details).toMatchObject({ reason: 'extension_not_supported_via_api', url: `https://dash.cloudflare.com/${double.accountId}/domains/registrations` });

      const owned = await provider.provision({ service: 'registrar:domain', name: 'site', config: { domain: 'my-new-site.com' }, idempotencyKey: 'k1' });
      expect(owned.status).toBe('active');
      expect(await q('my-new-site.com')).toBeUndefined();
    });

    it('registers once; a re-run after a crash (or a dropped answer) adopts it and never registers again', async () => {
      double.setPrice('com', '10.44');
      const { h, provider } = await linked(double);
      const input = { service: 'registrar:domain', name: 'site', config: { domain: 'once-only.com', years: 1, auto_renew: true, privacy: true }, idempotencyKey: 'k' };
      const first = await provider.provision(input);
      expect(first).toMatchObject({ id: 'domain/once-only.com', service: 'registrar:domain', name: 'site', status: 'active', charge: { amount: 1044, currency: 'USD', interval: 'year' } });
      expect(first.resource).toMatchObject({ domain: 'once-only.com', auto_renew: true, privacy_mode: 'redaction' });
      // A new process (the crash between register and record): same name, adopted, no charge again.
      const again = await (await openCloudflareProvider(depsFor(h))).provision(input);
      expect(again).toMatchObject({ id: 'domain/once-only.com', name: 'site', status: 'active' });
      expect(again.charge).toBeUndefined();
      expect(double.state.registrationPosts.get('once-only.com')).toBe(1);
      expect(double.state.charges.filter((c) => c.domain_name === 'once-only.com')).toHaveLength(1);

      // The answer is lost after Cloudflare registered: unreachable (retryable); the retry adopts.
      double.dropNext({ match: '/registrar/registrations', method: 'POST', after: true });
      const lost = await failure(provider.provision({ ...input, name: 'other', config: { domain: 'lost-answer.com' } }), 'PROVIDER_UNREACHABLE', 5);
      expect(lost.details.retryable).toBe(true);
      const retried = await provider.provision({ ...input, name: 'other', config: { domain: 'lost-answer.com' } });
      expect(retried).toMatchObject({ id: 'domain/lost-answer.com', name: 'other', status: 'active' });
      expect(double.state.registrationPosts.get('lost-answer.com')).toBe(1);

      // get() in a later process finds the registration again (under the name its caller holds).
      expect(await (await openCloudflareProvider(depsFor(h))).get('domain/lost-answer.com', 'other')).toMatchObject({ id: 'domain/lost-answer.com', name: 'other', status: 'active' });
    });

    it('without a billing profile: PAYMENT_METHOD_REQUIRED with the dashboard URL', async () => {
      double.setPrice('com', '10.44');
      double.setBillingProfile(double.accountId, false);
      const { provider } = await linked(double);
      const e = await failure(provider.provision({ service: 'registrar:domain', name: 'site', config: { domain: 'no-card.com' }, idempotencyKey: 'k' }), 'PAYMENT_METHOD_REQUIRED', 3);
      expect(e.details.url).toBe(`https://dash.cloudflare.com/${double.accountId}/billing/payment-info`);
      expect(e.nextSteps).toContain(`https://dash.cloudflare.com/${double.accountId}/billing/payment-info`);
      expect(double.state.charges).toEqual([]);
    });

    it('a registration that stays pending is polled with get() until active; a failed one is reported failed', async () => {
      double.setPrice('com', '10.44');
      const { provider } = await linked(double);
      double.holdPending('slow-domain.com', 2);
      const p = await provider.provision({ service: 'registrar:domain', name: 'slow', config: { domain: 'slow-domain.com' }, idempotencyKey: 'k' });
      expect(p).toMatchObject({ id: 'domain/slow-domain.com', name: 'slow', status: 'pending' });
      const seen: string[] = [];
      let current = p;
      for (let i = 0; i < 5 && current.status === 'pending'; i++) {
        current = await provider.get(p.id, p.name);
        seen.push(current.status);
      }
      expect(current).toMatchObject({ status: 'active', name: 'slow' });
      expect(seen.slice(0, -1).every((s) => s === 'pending')).toBe(true);
      expect(double.state.registrationPosts.get('slow-domain.com')).toBe(1);

      double.holdPending('doomed.com');
      await provider.provision({ service: 'registrar:domain', name: 'doomed', config: { domain: 'doomed.com' }, idempotencyKey: 'k' });
      double.failPending('doomed.com', { code: 'registry_error', message: 'the registry said no' });
      const failed = await provider.get('domain/doomed.com', 'doomed');
      expect(failed).toMatchObject({ status: 'failed', resource: { error_code: 'registry_error' } });

      await failure(provider.remove('domain/slow-domain.com'), 'UNSUPPORTED_OPERATION', 2);
    });
  });

  describe('free resources', () => {
    it('creates, reads and deletes each of KV, R2, D1 and a placeholder Worker; deleting again is fine', async () => {
      const { provider } = await linked(double);
      const kv = await provider.provision({ service: 'kv:namespace', name: 'cache', config: {}, idempotencyKey: 'k' });
      const ns = double.state.kvNamespaces.find((n) => n.title === 'cache')!;
      expect(kv).toMatchObject({ id: `kv/${ns.id}`, name: 'cache', status: 'active', resource: { id: ns.id, title: 'cache' } });
      const r2 = await provider.provision({ service: 'r2:bucket', name: 'my_files', config: { location_hint: 'weur' }, idempotencyKey: 'k' });
      expect(r2).toMatchObject({ id: 'r2/my-files', name: 'my_files', status: 'active', resource: { name: 'my-files' } });
      const d1 = await provider.provision({ service: 'd1:database', name: 'db', config: { database_name: 'main-db' }, idempotencyKey: 'k' });
      const db = double.state.d1Databases.find((d) => d.name === 'main-db')!;
      expect(d1).toMatchObject({ id: `d1/${db.uuid}`, name: 'db', resource: { id: db.uuid, name: 'main-db' } });
      const worker = await provider.provision({ service: 'workers:script', name: 'api', config: {}, idempotencyKey: 'k' });
      expect(worker).toMatchObject({ id: 'worker/api', name: 'api', status: 'active', resource: { name: 'api' } });
      const script = double.state.workerScripts.find((s) => s.name === 'api')!;
      expect(script.parts.map((p) => p.bytes.toString('utf8')).join('')).toContain('placeholder deployed by agentprov');

      for (const p of [kv, r2, d1, worker]) expect(await provider.get(p.id, p.name)).toMatchObject({ id: p.id, name: p.name, status: 'active' });
      for (const p of [kv, r2, d1, worker]) {
        await provider.remove(p.id);
        await provider.remove(p.id);
        await failure(provider.get(p.id, p.name), 'RESOURCE_NOT_FOUND', 2);
      }
      expect(double.state.kvNamespaces).toEqual([]);
      expect(double.state.r2Buckets).toEqual([]);
      expect(double.state.d1Databases).toEqual([]);
      expect(double.state.workerScripts).toEqual([]);
    });

    it('adopts what an earlier attempt created instead of creating a second one', async () => {
      const { h, provider } = await linked(double);
      const kv = await provider.provision({ service: 'kv:namespace', name: 'cache', config: {}, idempotencyKey: 'k' });
      const d1 = await provider.provision({ service: 'd1:database', name: 'db', config: {}, idempotencyKey: 'k' });
      const r2 = await provider.provision({ service: 'r2:bucket', name: 'files', config: {}, idempotencyKey: 'k' });
      const wk = await provider.provision({ service: 'workers:script', name: 'api', config: {}, idempotencyKey: 'k' });
      const rerun = await openCloudflareProvider(depsFor(h));
      expect(await rerun.provision({ service: 'kv:namespace', name: 'cache', config: {}, idempotencyKey: 'k' })).toMatchObject({ id: kv.id, resource: { adopted: true } });
      expect(await rerun.provision({ service: 'd1:database', name: 'db', config: {}, idempotencyKey: 'k' })).toMatchObject({ id: d1.id, resource: { adopted: true } });
      expect(await rerun.provision({ service: 'r2:bucket', name: 'files', config: {}, idempotencyKey: 'k' })).toMatchObject({ id: r2.id, resource: { adopted: true } });
      expect(await rerun.provision({ service: 'workers:script', name: 'api', config: {}, idempotencyKey: 'k' })).toMatchObject({ id: wk.id, resource: { adopted: true } });
      expect(posts(double, /\/storage\/kv\/namespaces$/)).toBe(1);
      expect(posts(double, /\/d1\/database$/)).toBe(1);
      expect(posts(double, /\/r2\/buckets$/)).toBe(1);
      expect(posts(double, /\/workers\/scripts\/api$/, 'PUT')).toBe(1);
      expect(double.state.kvNamespaces).toHaveLength(1);
    });

    it('a 429 is retried after its Retry-After; a long Retry-After fails at once, retryable, saying when', async () => {
      const { provider } = await linked(double);
      double.rateLimitNext(2, 1);
      const started = Date.now();
      const kv = await provider.provision({ service: 'kv:namespace', name: 'limited', config: {}, idempotencyKey: 'k' });
      expect(kv.status).toBe('active');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      expect(double.state.requests.filter((r) => r.status === 429)).toHaveLength(2);

      // A create is never retried blindly, but a 429 (refused before anything happened) is.
      double.failNext('/storage/kv/namespaces', 429, { method: 'POST', code: 971, message: 'Please wait and consider throttling your request speed' });
      const second = await provider.provision({ service: 'kv:namespace', name: 'limited-2', config: {}, idempotencyKey: 'k' });
      expect(second.status).toBe('active');
      expect(posts(double, /\/storage\/kv\/namespaces$/)).toBe(3);
      expect(double.state.kvNamespaces.map((n) => n.title).sort()).toEqual(['limited', 'limited-2']);
      // A 5xx on a create is not sent again (it may have been applied): retryable for the caller, who looks up first.
      double.failNext('/storage/kv/namespaces', 503, { method: 'POST' });
      const e5 = await failure(provider.provision({ service: 'kv:namespace', name: 'limited-3', config: {}, idempotencyKey: 'k' }), 'PROVIDER_UNREACHABLE', 5);
      expect(e5.details.retryable).toBe(true);
      expect(posts(double, /\/storage\/kv\/namespaces$/)).toBe(4);

      double.rateLimitNext(1, 120);
      const t0 = Date.now();
      const e = await failure(provider.get(kv.id, kv.name), 'PROVIDER_ERROR', 5);
      expect(e.details).toMatchObject({ reason: 'rate_limited', retryable: true, retry_after: 120, status: 429 });
      expect(Date.now() - t0).toBeLessThan(5000);
    });

    it('a token lacking a permission is CLOUDFLARE_PERMISSION_DENIED naming the call', async () => {
      const weak = await start({ parentToken: { account: ['Account Settings Read', 'Account API Tokens Write', 'Workers KV Storage Write'] } });
      const { provider } = await linked(weak);
      const e = await failure(provider.provision({ service: 'd1:database', name: 'db', config: {}, idempotencyKey: 'k' }), 'CLOUDFLARE_PERMISSION_DENIED', 3);
      expect(e.details.call).toBe('GET /accounts/:account_id/d1/database');
    });
  });

  describe('child credentials', () => {
    it('childCredential creates exactly one narrowed token expiring within the TTL; revoke deletes it', async () => {
      const { provider } = await linked(double);
      const before = double.state.tokenEvents.length;
      const t0 = Date.now();
      const cred = await provider.childCredential!({ ttlSeconds: 300, scopes: ['workers_kv:write'] });
      const created = double.state.tokenEvents.slice(before).filter((e) => e.type === 'created');
      expect(created).toHaveLength(1);
      expect(cred).toMatchObject({ id: created[0]!.token_id, shortLived: true });
      expect(cred.token).not.toBe(double.parent.value);
      const child = double.token(cred.id!)!;
      expect(Date.parse(child.expires_on!)).toBeLessThanOrEqual(t0 + 300_000 + 1000);
      expect(Date.parse(child.expires_on!)).toBeGreaterThan(t0 + 290_000);
      expect(cred.expiresAt.getTime()).toBe(Date.parse(child.expires_on!));
      expect(child.policies.flatMap((p) => p.permission_groups.map((g) => g.name))).toEqual(['Workers KV Storage Write']);
      expect(child.policies.every((p) => Object.keys(p.resources).join() === `com.cloudflare.api.account.${double.accountId}`)).toBe(true);

      // The child works for what it was given, and for nothing else.
      const kvList = await fetch(`${double.url}/accounts/${double.accountId}/storage/kv/namespaces`, { headers: { authorization: `Bearer ${cred.token}` } });
      expect(kvList.status).toBe(200);
      const d1List = await fetch(`${double.url}/accounts/${double.accountId}/d1/database`, { headers: { authorization: `Bearer ${cred.token}` } });
      expect(d1List.status).toBe(403);

      await provider.revoke(cred);
      expect(double.token(cred.id!)).toBeUndefined();
      await provider.revoke(cred); // already gone: fine
      const after = await fetch(`${double.url}/user/tokens/verify`, { headers: { authorization: `Bearer ${cred.token}` } });
      expect(after.status).toBe(401);
    });

    it('without scopes the child gets every catalog permission the parent holds (enough for wrangler to read the account)', async () => {
      const { provider } = await linked(double);
      const cred = await provider.mint({ ttlSeconds: 60 });
      const groups = double.token(cred.id!)!.policies.flatMap((p) => p.permission_groups.map((g) => g.name)).sort();
      expect(groups).toEqual(['Account Settings Read', 'D1 Write', 'Workers KV Storage Write', 'Workers R2 Storage Write', 'Workers Scripts Write']);
      expect(groups).not.toContain('API Tokens Write');
      await provider.revoke(cred);
      await failure(provider.childCredential!({ ttlSeconds: 10 }), 'USAGE', 2);
      await failure(provider.childCredential!({ ttlSeconds: 60, scopes: ['provision'] }), 'USAGE', 2);
    });

    it('rotate rolls the parent value: the old one is dead, the new one is stored and works', async () => {
      const { h, provider } = await linked(double);
      const old = double.parent.value;
      await provider.rotate();
      const link = (await readLink(await depsFor(h).vault()))!;
      expect(link.parent_token).not.toBe(old);
      parentValues.add(link.parent_token);
      const dead = await fetch(`${double.url}/user/tokens/verify`, { headers: { authorization: `Bearer ${old}` } });
      expect(dead.status).toBe(401);
      expect(await (await openCloudflareProvider(depsFor(h))).authorize({ acceptTerms: false, interactive: false })).toMatchObject({ accountId: double.accountId });
    });
  });
});
