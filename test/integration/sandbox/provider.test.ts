/**
 * The sandbox provider's resource + provisioning server over real HTTP:
 * tokens come the real way (an in-test orchestrator signs ID-JAGs, served
 * JWKS on loopback; openid-client presents them with the RFC 7523 grant at
 * the provider's authorization server), payments go through the real rail.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { fetch, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CatalogSchema,
  ProtectedResourceMetadataSchema,
  ProviderDescriptorSchema,
  ProviderErrorBodySchema,
  ProvisionListSchema,
  ProvisionSchema,
} from '../../../src/wire/provider.js';
import { localcloudCatalog, othercloudCatalog, startProvider, type ProviderOptions, type StartedProvider } from '../../../src/sandbox/provider/index.js';
import { startRail, type RunningRail } from '../../../src/sandbox/rail/index.js';

// ---- the orchestrator stand-in: signs ID-JAGs, serves its JWKS ------------

interface TestIssuer { url: string; mint(aud: string, sub: string, extra?: Record<string, unknown>): Promise<string>; stop(): Promise<void> }

async function startIssuer(): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const server = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  const url = await listen(server);
  return {
    url,
    mint: (aud, sub, extra = {}) =>
      new SignJWT({ client_id: 'agentprov-cli', email: `${sub.replace('user-', '')}@agentprov.test`, auth_time: now(), ...extra })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'oauth-id-jag+jwt' })
        .setIssuer(url).setSubject(sub).setAudience(aud).setJti(randomUUID()).setIssuedAt().setExpirationTime('300s')
        .sign(privateKey),
    stop: () => close(server),
  };
}

// ---- helpers --------------------------------------------------------------

const now = (): number => Math.floor(Date.now() / 1000);
const RAIL_SECRET = 'test-localcloud-secret';
const USERS: Record<string, string> = { 'ut-demo': 'user-demo', 'ut-second': 'user-second' };

function listen(server: Server): Promise<string> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}
function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

interface Reply { status: number; headers: Headers; json: any; text: string }
async function api(base: string, method: string, path: string, o: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  if (o.body !== undefined || o.raw !== undefined) headers['Content-Type'] ??= 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers as unknown as Headers, json, text };
}

describe('sandbox provider (resource + provisioning server)', () => {
  let issuer: TestIssuer;
  let rail: RunningRail;
  let provider: StartedProvider;
  const dataDir = mkdtempSync(join(tmpdir(), 'agentprov-provider-'));

  const options = (over: Partial<ProviderOptions> = {}): ProviderOptions => ({
    id: 'localcloud', name: 'LocalCloud', dataDir, catalog: localcloudCatalog, asyncDelayMs: 300,
    issuer: { issuer: issuer.url, jwksUri: `${issuer.url}/jwks` }, rail: { url: rail.url, clientSecret: RAIL_SECRET }, ...over,
  });

  /** An access token for `sub` obtained with the RFC 7523 grant and an ID-JAG. */
  async function tokenFor(p: StartedProvider, sub: string, scope = 'provision kv:read kv:write scripts:deploy'): Promise<{ token: string; accountId: string }> {
    const config = await oidc.discovery(new URL(p.auth.issuer), 'agentprov-cli', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests], algorithm: 'oauth2' });
    const descriptor = (await api(p.url, 'GET', '/.well-known/agent-provisioning')).json as { terms_version: string };
    // The orchestrator binds the ID-JAG to this provider's resource (RFC 8707).
    const assertion = await issuer.mint(p.auth.issuer, sub, { scope, resource: p.url });
    const t = await oidc.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:jwt-bearer', { assertion, scope, terms_version: descriptor.terms_version });
    return { token: t.access_token, accountId: String(t.account_id) };
  }

  async function paymentToken(service: string, amount: number): Promise<string> {
    const r = await api(rail.url, 'POST', '/v1/payment_tokens', { token: 'ut-demo', body: { provider: 'localcloud', service, max_amount: amount, currency: 'USD' } });
    expect(r.status).toBe(201);
    return r.json.payment_token as string;
  }

  beforeAll(async () => {
    issuer = await startIssuer();
    rail = await startRail({
      providerClients: { localcloud: RAIL_SECRET },
      verifyAccessToken: async (t) => {
        const sub = USERS[t];
        if (!sub) throw new Error('bad token');
        return { sub, email: `${sub}@agentprov.test`, authTime: now(), scope: 'openid payments' };
      },
    });
    provider = await startProvider(options());
  });

  afterAll(async () => {
    await provider?.stop();
    await rail?.stop();
    await issuer?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the descriptor, terms, RFC 9728 metadata and a cacheable catalog', async () => {
    const d = ProviderDescriptorSchema.parse((await api(provider.url, 'GET', '/.well-known/agent-provisioning')).json);
    expect(d).toMatchObject({ provider_id: 'localcloud', resource: provider.url, provisioning_endpoint: `${provider.url}/v1/provisions`, authorization_server: provider.auth.issuer, client_id: 'agentprov-cli' });
    const terms = await api(provider.url, 'GET', '/terms');
    expect(terms.headers.get('content-type')).toMatch(/text\/html/);
    expect(terms.text).toContain(d.terms_version);
    const prm = ProtectedResourceMetadataSchema.parse((await api(provider.url, 'GET', '/.well-known/oauth-protected-resource')).json);
    expect(prm.authorization_servers).toEqual([provider.auth.issuer]);
    expect(prm.bearer_methods_supported).toEqual(['header']);
    const first = await api(provider.url, 'GET', '/catalog');
    const catalog = CatalogSchema.parse(first.json);
    expect(catalog.services.map((s) => s.id)).toEqual(['registrar:domain', 'workers:paid', 'kv:namespace', 'kv:pro', 'kv:scale', 'workers:script', 'db:postgres']);
    expect(catalog.services.find((s) => s.id === 'db:postgres')?.pricing).toEqual({ type: 'recurring', amount: 3000, currency: 'USD', interval: 'month' });
    expect(JSON.stringify(first.json)).not.toContain('engine');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(first.headers.get('cache-control')).toBe('max-age=60');
    const again = await api(provider.url, 'GET', '/catalog', { headers: { 'If-None-Match': `W/"x", ${etag}` } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect((await api(provider.url, 'GET', '/catalog', { headers: { 'If-None-Match': '"other"' } })).status).toBe(200);
  });

  it('answers 401 with the RFC 9728 resource_metadata challenge, and 403 on a missing scope', async () => {
    const none = await api(provider.url, 'GET', '/v1/provisions');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${provider.url}/.well-known/oauth-protected-resource"`);
    expect(ProviderErrorBodySchema.parse(none.json).error.code).toBe('UNAUTHORIZED');
    const bad = await api(provider.url, 'POST', '/v1/provisions', { token: 'not-a-real-token', body: {} });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect((await api(provider.url, 'GET', '/kv/prv_0000000000000000/keys')).status).toBe(401);
    const { token } = await tokenFor(provider, 'user-demo', 'kv:read');
    const noScope = await api(provider.url, 'GET', '/v1/provisions', { token });
    expect(noScope.status).toBe(403);
    expect(noScope.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('provisions a free KV namespace whose URL works with the token, for its account only', async () => {
    const demo = await tokenFor(provider, 'user-demo');
    const created = await api(provider.url, 'POST', '/v1/provisions', { token: demo.token, headers: { 'Idempotency-Key': 'kv-1' }, body: { service: 'kv:namespace', name: 'cache' } });
    expect(created.status).toBe(201);
    const p = ProvisionSchema.parse(created.json);
    expect(p).toMatchObject({ service: 'kv:namespace', name: 'cache', status: 'active' });
    expect(created.headers.get('location')).toBe(`${provider.url}/v1/provisions/${p.id}`);
    const kv = String(p.resource.url);
    expect(kv).toBe(`${provider.url}/kv/${p.id}`);
    const put = await fetch(`${kv}/keys/greeting`, { method: 'PUT', headers: { Authorization: `Bearer ${demo.token}`, 'Content-Type': 'text/plain' }, body: 'hello' });
    expect(put.status).toBe(200);
    const got = await fetch(`${kv}/keys/greeting`, { headers: { Authorization: `Bearer ${demo.token}` } });
    expect(await got.text()).toBe('hello');
    expect(got.headers.get('content-type')).toBe('text/plain');
    expect((await api(kv, 'GET', '/keys', { token: demo.token })).json.keys).toEqual([expect.objectContaining({ key: 'greeting', size: 5 })]);
    const list = ProvisionListSchema.parse((await api(provider.url, 'GET', '/v1/provisions', { token: demo.token })).json);
    expect(list.provisions.map((x) => x.id)).toContain(p.id);

    const second = await tokenFor(provider, 'user-second');
    expect(second.accountId).not.toBe(demo.accountId);
    expect((await api(kv, 'GET', '/keys/greeting', { token: second.token })).status).toBe(404);
    expect((await api(provider.url, 'GET', `/v1/provisions/${p.id}`, { token: second.token })).status).toBe(404);
    expect((await api(provider.url, 'DELETE', `/v1/provisions/${p.id}`, { token: second.token })).status).toBe(404);
    const readOnly = await tokenFor(provider, 'user-demo', 'provision kv:read');
    expect((await api(kv, 'PUT', '/keys/x', { token: readOnly.token, raw: '1' })).status).toBe(403);

    const del = await api(provider.url, 'DELETE', `/v1/provisions/${p.id}`, { token: demo.token });
    expect(del.json).toEqual({ id: p.id, status: 'deleted' });
    expect((await api(kv, 'GET', '/keys/greeting', { token: demo.token })).status).toBe(404);
  });

  it('replays the same Idempotency-Key (sequential and concurrent) and refuses it with another body', async () => {
    const { token } = await tokenFor(provider, 'user-demo');
    const body = { service: 'kv:namespace', name: 'idem' };
    const send = (key: string, b: unknown = body): Promise<Reply> => api(provider.url, 'POST', '/v1/provisions', { token, headers: { 'Idempotency-Key': key }, body: b });
    const a = await send('idem-1');
    const b = await send('idem-1');
    expect(b.status).toBe(201);
    expect(b.json.id).toBe(a.json.id);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    const burst = await Promise.all(Array.from({ length: 8 }, () => send('idem-2')));
    expect(new Set(burst.map((r) => r.status))).toEqual(new Set([201]));
    expect(new Set(burst.map((r) => r.json.id)).size).toBe(1);
    expect(provider.resources().filter((r) => r.name === 'idem')).toHaveLength(2);
    const reused = await send('idem-1', { ...body, name: 'other' });
    expect(reused.status).toBe(422);
    expect(reused.json.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: 'Idempotency-Key' });
  });

  it('quotes paid services with 402 and redeems a payment token exactly once', async () => {
    const { token } = await tokenFor(provider, 'user-demo');
    const body = { service: 'db:postgres', name: 'db' };
    const quote = await api(provider.url, 'POST', '/v1/provisions', { token, headers: { 'Idempotency-Key': 'db-1' }, body });
    expect(quote.status).toBe(402);
    expect(ProviderErrorBodySchema.parse(quote.json)).toMatchObject({ error: { code: 'PAYMENT_REQUIRED' }, quote: { amount: 3000, currency: 'USD', interval: 'month' } });
    const pt = await paymentToken('db:postgres', 3000);
    const withToken = { ...body, payment_token: pt };
    const results = await Promise.all([1, 2, 3].map(() => api(provider.url, 'POST', '/v1/provisions', { token, headers: { 'Idempotency-Key': 'db-1' }, body: withToken })));
    expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(new Set(results.map((r) => r.json.id)).size).toBe(1);
    expect(results[0]?.json.charge).toEqual({ amount: 3000, currency: 'USD', interval: 'month' });
    const later = await api(provider.url, 'POST', '/v1/provisions', { token, headers: { 'Idempotency-Key': 'db-1' }, body: withToken });
    expect(later.json.id).toBe(results[0]?.json.id);
    const redemptions = rail.ledger().redemptions.filter((r) => r.reference === results[0]?.json.id);
    expect(redemptions).toHaveLength(1);
    expect(redemptions[0]).toMatchObject({ amount: 3000, provider: 'localcloud', user: 'user-demo' });
    const replayedToken = await api(provider.url, 'POST', '/v1/provisions', { token, headers: { 'Idempotency-Key': 'db-2' }, body: withToken });
    expect(replayedToken.status).toBe(402);
    expect(replayedToken.json.error).toMatchObject({ code: 'PAYMENT_DECLINED', details: { rail_code: 'TOKEN_ALREADY_REDEEMED' } });
  });

  it('registers a domain asynchronously, refuses it to others, and serves a script on it by Host', async () => {
    const demo = await tokenFor(provider, 'user-demo');
    const pt = await paymentToken('registrar:domain', 1200);
    const reg = await api(provider.url, 'POST', '/v1/provisions', { token: demo.token, headers: { 'Idempotency-Key': 'dom-1' }, body: { service: 'registrar:domain', name: 'site-domain', config: { domain: 'mysite.test' }, payment_token: pt } });
    expect(reg.status).toBe(202);
    expect(reg.json).toMatchObject({ status: 'pending', resource: { domain: 'mysite.test' }, charge: { amount: 1200, currency: 'USD' } });
    expect(reg.headers.get('location')).toBe(reg.json.poll_url);
    const second = await tokenFor(provider, 'user-second');
    const taken = await api(provider.url, 'POST', '/v1/provisions', { token: second.token, headers: { 'Idempotency-Key': 'dom-x' }, body: { service: 'registrar:domain', name: 'd', config: { domain: 'mysite.test' }, payment_token: 'pt_unused_unused_unused' } });
    expect(taken.status).toBe(409);
    expect(taken.json.error).toMatchObject({ code: 'DOMAIN_UNAVAILABLE', field: 'config.domain' });
    let state = reg.json.status as string;
    for (let i = 0; i < 40 && state !== 'active'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = (await api(provider.url, 'GET', `/v1/provisions/${reg.json.id}`, { token: demo.token })).json.status;
    }
    expect(state).toBe('active');

    const script = await api(provider.url, 'POST', '/v1/provisions', { token: demo.token, headers: { 'Idempotency-Key': 'site-1' }, body: { service: 'workers:script', name: 'site', config: { name: 'mysite', domain: 'mysite.test' } } });
    expect(script.status).toBe(201);
    expect(script.json.resource.hostname).toBe('mysite.test');
    expect(script.json.resource.default_hostname).toMatch(/^mysite\.[0-9a-f]{6}\.localcloud\.test$/);
    const html = '<h1>deployed</h1>';
    const deploy = await api(String(script.json.resource.url), 'PUT', '/content', { token: demo.token, raw: html, headers: { 'Content-Type': 'text/html' } });
    expect(deploy.status).toBe(200);
    for (const host of ['mysite.test', `${script.json.resource.default_hostname}:8080`]) {
      const site = await request(`${provider.url}/any/path`, { headers: { host } });
      expect(site.statusCode).toBe(200);
      expect(await site.body.text()).toBe(html);
    }
    const other = await request(`${provider.url}/`, { headers: { host: 'unknown.test' } });
    expect(other.statusCode).toBe(404);
    await other.body.dump();
    const foreign = await api(provider.url, 'POST', '/v1/provisions', { token: second.token, headers: { 'Idempotency-Key': 'site-2' }, body: { service: 'workers:script', name: 'x', config: { name: 'x', domain: 'mysite.test' } } });
    expect(foreign.json.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'config.domain' });
  });

  it('refuses malformed requests with 400 naming the field', async () => {
    const { token } = await tokenFor(provider, 'user-demo');
    const post = (o: { key?: string; body?: unknown; raw?: string }): Promise<Reply> =>
      api(provider.url, 'POST', '/v1/provisions', { token, ...(o.raw ? { raw: o.raw } : { body: o.body }), headers: o.key === undefined ? {} : { 'Idempotency-Key': o.key } });
    const cases: Array<[Promise<Reply>, number, string]> = [
      [post({ body: { service: 'kv:namespace', name: 'a' } }), 400, 'Idempotency-Key'],
      [post({ key: 'm1', raw: '{"service": ' }), 400, 'body'],
      [post({ key: 'm2', body: { service: 'kv:namespace' } }), 400, 'name'],
      [post({ key: 'm3', body: { service: 'kv:namespace', name: 'BAD NAME' } }), 400, 'name'],
      [post({ key: 'm4', body: { service: 'registrar:domain', name: 'd', config: { domain: 'evil.com' } } }), 400, 'config.domain'],
      [post({ key: 'm5', body: { service: 'registrar:domain', name: 'd', config: {} } }), 400, 'config.domain'],
      [post({ key: 'm6', body: { service: 'kv:namespace', name: 'a', config: { extra: 1 } } }), 400, 'config.extra'],
      [post({ key: 'm7', body: { service: 'nope:nothing', name: 'a' } }), 404, 'service'],
      [post({ key: 'm8', raw: JSON.stringify({ service: 'kv:namespace', name: 'a', config: { pad: 'x'.repeat(70_000) } }) }), 413, 'body'],
    ];
    for (const [pending, status, field] of cases) {
      const r = await pending;
      expect({ status: r.status, field: r.json?.error?.field }).toEqual({ status, field });
    }
  });

  it('injects deterministic faults: next N 5xx, latency, dropped connections, slow bodies, path filter', async () => {
    provider.setFaults({ status5xx: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await api(provider.url, 'GET', '/catalog')).status);
    expect(statuses).toEqual([503, 503, 200]);
    provider.setFaults({ latencyMs: 250 });
    let t = Date.now();
    expect((await api(provider.url, 'GET', '/catalog')).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(240);
    provider.setFaults({ dropConnection: 1 });
    await expect(fetch(`${provider.url}/catalog`)).rejects.toThrow();
    expect((await api(provider.url, 'GET', '/catalog')).status).toBe(200);
    provider.setFaults({ slowBodyBytesPerSec: 5000 });
    t = Date.now();
    const slow = await api(provider.url, 'GET', '/catalog');
    expect(CatalogSchema.parse(slow.json).services.length).toBe(7);
    expect(Date.now() - t).toBeGreaterThanOrEqual(Math.floor(slow.text.length / 5000) * 1000 - 200);
    provider.setFaults({ status5xx: 1, paths: '/v1/provisions' });
    expect((await api(provider.url, 'GET', '/catalog')).status).toBe(200);
    expect((await api(provider.url, 'GET', '/v1/provisions')).status).toBe(503);
    expect((await api(provider.url, 'GET', '/v1/provisions')).status).toBe(401);
    provider.setFaults({});
  });

  it('updates a provision (§4.4): allowed moves only, 402 quote, paid once per key, replayed, key reuse refused, config in place', async () => {
    const { token } = await tokenFor(provider, 'user-demo');
    const kv = await api(provider.url, 'POST', '/v1/provisions', { token, headers: { 'Idempotency-Key': 'upd-kv' }, body: { service: 'kv:namespace', name: 'plans' } });
    expect(kv.status).toBe(201);
    const path = `/v1/provisions/${kv.json.id}/update`;
    const upd = (key: string | undefined, body: unknown) => api(provider.url, 'POST', path, { token, ...(key ? { headers: { 'Idempotency-Key': key } } : {}), body });
    expect((await upd(undefined, { service: 'kv:pro' })).json.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'Idempotency-Key' });
    const no = await upd('u0', { service: 'workers:script', config: { name: 'x' } });
    expect(no.status).toBe(400);
    expect(no.json.error).toMatchObject({ code: 'UPDATE_NOT_ALLOWED', field: 'service', details: { allowed_updates: ['kv:pro', 'kv:scale'] } });
    const quote = await upd('u1', { service: 'kv:pro' });
    expect(quote.status).toBe(402);
    expect(ProviderErrorBodySchema.parse(quote.json)).toMatchObject({ error: { code: 'PAYMENT_REQUIRED' }, quote: { amount: 900, currency: 'USD', interval: 'month' } });
    const payment_token = await paymentToken('kv:pro', 900);
    const paid = await upd('u1', { service: 'kv:pro', payment_token });
    expect(paid.status).toBe(200);
    expect(ProvisionSchema.parse(paid.json)).toMatchObject({ id: kv.json.id, service: 'kv:pro', charge: { amount: 900 } });
    expect(paid.json.updated_at).toEqual(expect.any(String));
    const again = await upd('u1', { service: 'kv:pro', payment_token });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(rail.ledger().redemptions.filter((r) => r.reference === kv.json.id)).toHaveLength(1);
    expect((await upd('u1', { service: 'kv:scale' })).json.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // A downgrade refunds nothing: no refund member, the charge is gone.
    const down = await upd('u2', { service: 'kv:namespace' });
    expect(down.status).toBe(200);
    expect(down.json.refund).toBeUndefined();
    expect(down.json.charge).toBeUndefined();
    // db:postgres lists itself: a config change in place, free even though the plan is paid.
    const db = await api(provider.url, 'POST', '/v1/provisions', { token, headers: { 'Idempotency-Key': 'upd-db' }, body: { service: 'db:postgres', name: 'pg', payment_token: await paymentToken('db:postgres', 3000) } });
    expect(db.status).toBe(201);
    const moved = await api(provider.url, 'POST', `/v1/provisions/${db.json.id}/update`, { token, headers: { 'Idempotency-Key': 'u3' }, body: { service: 'db:postgres', config: { region: 'local-2' } } });
    expect(moved.status).toBe(200);
    expect(moved.json.charge).toMatchObject({ amount: 3000 });
    expect(rail.ledger().redemptions.filter((r) => r.reference === db.json.id)).toHaveLength(1);
    const bad = await api(provider.url, 'POST', `/v1/provisions/${db.json.id}/update`, { token, headers: { 'Idempotency-Key': 'u4' }, body: { service: 'db:postgres', config: { region: 'mars-1' } } });
    expect(bad.json.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'config.region' });
    // Someone else's provision does not exist.
    const other = await tokenFor(provider, 'user-second');
    expect((await api(provider.url, 'POST', path, { token: other.token, headers: { 'Idempotency-Key': 'x' }, body: { service: 'kv:pro' } })).status).toBe(404);
  });

  it('othercloud trusts no orchestrator, offers RFC 7591 registration and publishes no client_id', async () => {
    const other = await startProvider({ ...options({ id: 'othercloud', name: 'OtherCloud', catalog: othercloudCatalog, issuer: null }), dataDir: undefined });
    try {
      const d = ProviderDescriptorSchema.parse((await api(other.url, 'GET', '/.well-known/agent-provisioning')).json);
      expect(d.client_id).toBeUndefined();
      const as = await api(other.url, 'GET', '/.well-known/oauth-authorization-server/oauth');
      expect(as.json.registration_endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\//);
      const catalog = CatalogSchema.parse((await api(other.url, 'GET', '/catalog')).json);
      expect(catalog.services.map((s) => s.id)).toEqual(['storage:bucket', 'queue:basic']);
      const prm = ProtectedResourceMetadataSchema.parse((await api(other.url, 'GET', '/.well-known/oauth-protected-resource')).json);
      expect(prm.scopes_supported).toEqual(['provision', 'storage:read', 'storage:write']);
    } finally {
      await other.stop();
    }
  });

  it('keeps provisions and KV data across a restart with the same data dir', async () => {
    const demo = await tokenFor(provider, 'user-demo');
    const p = await api(provider.url, 'POST', '/v1/provisions', { token: demo.token, headers: { 'Idempotency-Key': 'persist-1' }, body: { service: 'kv:namespace', name: 'durable' } });
    await api(String(p.json.resource.url), 'PUT', '/keys/k', { token: demo.token, raw: 'kept', headers: { 'Content-Type': 'text/plain' } });
    await provider.stop();
    provider = await startProvider(options());
    const again = await tokenFor(provider, 'user-demo');
    expect(again.accountId).toBe(demo.accountId);
    const fetched = await api(provider.url, 'GET', `/v1/provisions/${p.json.id}`, { token: again.token });
    expect(fetched.json).toMatchObject({ id: p.json.id, status: 'active', resource: { url: `${provider.url}/kv/${p.json.id}` } });
    const value = await api(String(fetched.json.resource.url), 'GET', '/keys/k', { token: again.token });
    expect(value.text).toBe('kept');
    const replay = await api(provider.url, 'POST', '/v1/provisions', { token: again.token, headers: { 'Idempotency-Key': 'persist-1' }, body: { service: 'kv:namespace', name: 'durable' } });
    expect(replay.json.id).toBe(p.json.id);
  });
});
