/**
 * The Cloudflare API double (test/helpers/cloudflare-double.ts) against real
 * clients: the official `cloudflare` SDK with baseURL = double.url, and
 * wrangler (the npm devDependency) spawned with CLOUDFLARE_API_BASE_URL. If
 * the double drifts from what these clients send and expect, these fail.
 */
import Cloudflare, { toFile } from 'cloudflare';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { wranglerWhoami, type WranglerRun } from '../../helpers/wrangler.js';
import { CLOUDFLARE_ERRORS, startCloudflareDouble, type CloudflareDouble, type CloudflareDoubleOptions } from '../../helpers/cloudflare-double.js';


let double!: CloudflareDouble;

/** Replace this test's double with one started with `options`. */
async function start(options: CloudflareDoubleOptions): Promise<void> {
  await double.close();
  double = await startCloudflareDouble(options);
}

beforeEach(async () => {
  double = await startCloudflareDouble();
});
afterEach(async () => {
  expect(double.state.internalErrors).toEqual([]);
  await double.close();
});

function client(token: string, options: { maxRetries?: number } = {}): Cloudflare {
  return new Cloudflare({ apiToken: token, baseURL: double.url, maxRetries: options.maxRetries ?? 0, timeout: 10_000 });
}

/** ISO 8601 to the second, as Cloudflare writes its dates. */
const inSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

interface Rejection {
  /** The SDK's error class, e.g. PermissionDeniedError. */
  kind: string;
  status?: number;
  errors: Array<{ code: number; message: string }>;
  headers?: Headers;
}

/** What an SDK call rejected with, for asserting its class, status, headers and the envelope's errors. */
async function rejection(promise: Promise<unknown>): Promise<Rejection> {
  try {
    await promise;
  } catch (e) {
    const err = e as { status?: number; errors?: Rejection['errors']; headers?: Headers };
    return { kind: (e as object).constructor.name, status: err.status, errors: err.errors ?? [], headers: err.headers };
  }
  throw new Error('expected the call to fail');
}

describe('API tokens', () => {
  it('a child token with expires_on verifies and works, then fails once its parent deletes it', async () => {
    const parent = client(double.parent.value);
    const expiresOn = inSeconds(Date.now() + 15 * 60_000);
    const child = await parent.user.tokens.create({
      name: 'agentprov run',
      policies: double.policies({ account: ['Workers KV Storage Write'] }),
      expires_on: expiresOn,
    });
    expect(child.value).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(child).toMatchObject({ status: 'active', expires_on: expiresOn, name: 'agentprov run' });
    expect(child.policies?.[0]?.permission_groups[0]).toMatchObject({ name: 'Workers KV Storage Write' });

    const asChild = client(child.value!);
    expect(await asChild.user.tokens.verify()).toEqual({ id: child.id, status: 'active', expires_on: expiresOn });
    const ns = await asChild.kv.namespaces.create({ account_id: double.accountId, title: 'cache' });
    await asChild.kv.namespaces.values.update('greeting', { account_id: double.accountId, namespace_id: ns.id, value: 'hello' });
    const value = await asChild.kv.namespaces.values.get('greeting', { account_id: double.accountId, namespace_id: ns.id });
    expect(await value.text()).toBe('hello');

    expect(await parent.user.tokens.delete(child.id!)).toEqual({ id: child.id });

    const verify = await rejection(asChild.user.tokens.verify());
    expect(verify).toMatchObject({ kind: 'AuthenticationError', status: 401, errors: [{ code: 1000, message: 'Invalid API Token' }] });
    const list = await rejection(asChild.kv.namespaces.list({ account_id: double.accountId }));
    expect(list).toMatchObject({ status: 403, errors: [{ code: 10000, message: 'Authentication error' }] });

    const events = double.state.tokenEvents.filter((e) => e.token_id === child.id);
    expect(events.map((e) => [e.type, e.by, e.expires_on])).toEqual([
      ['created', double.parent.id, expiresOn],
      ['deleted', double.parent.id, expiresOn],
    ]);
    const lastCalls = double.state.requests.slice(-2);
    expect(lastCalls.map((r) => [r.token_id, r.auth, r.status])).toEqual([
      [child.id, 'deleted', 401],
      [child.id, 'deleted', 403],
    ]);
    // The inspectable state carries ids, never token values.
    const dump = JSON.stringify(double.state, (_k, v: unknown) => (v instanceof Map ? [...v.entries()] : v));
    expect(dump).not.toContain(child.value);
    expect(dump).not.toContain(double.parent.value);
  });

  it('refuses an expired or not-yet-valid token like an unknown one', async () => {
    const parent = client(double.parent.value);
    const child = await parent.user.tokens.create({
      name: 'short',
      policies: double.policies({ user: ['User Details Read'] }),
      expires_on: inSeconds(Date.now() + 60_000),
    });
    const asChild = client(child.value!);
    expect((await asChild.user.get()).email).toBe('user@example.com');

    double.advanceTime(61_000);
    expect(await rejection(asChild.user.tokens.verify())).toMatchObject({ status: 401, errors: [{ code: 1000 }] });
    expect(await rejection(asChild.user.get())).toMatchObject({ status: 403, errors: [{ code: 10000 }] });
    expect(double.state.requests.at(-1)).toMatchObject({ token_id: child.id, auth: 'expired' });

    const listed = [];
    for await (const t of parent.user.tokens.list()) listed.push(t);
    expect(listed.map((t) => t.id)).not.toContain(child.id);
    const withExpired = [];
    for await (const t of parent.user.tokens.list({ include_expired: true })) withExpired.push(t);
    expect(withExpired.find((t) => t.id === child.id)?.status).toBe('expired');

    const seeded = double.createToken({ user: ['User Details Read'], expires_on: new Date(Date.now() - 1000) });
    expect(await rejection(client(seeded.value).user.tokens.verify())).toMatchObject({ status: 401, errors: [{ code: 1000 }] });
    const early = double.createToken({ user: ['User Details Read'], not_before: new Date(double.now().getTime() + 3_600_000) });
    expect(await rejection(client(early.value).user.get())).toMatchObject({ status: 403, errors: [{ code: 10000 }] });

    expect(await rejection(client('not-a-token-at-all').user.tokens.verify())).toMatchObject({ status: 401, errors: [{ code: 1000 }] });
  });

  it('answers a call the token has no permission for with 403 / 9109, and honours deny', async () => {
    const kvOnly = client(double.createToken({ account: ['Workers KV Storage Write'] }).value);
    for (const call of [
      () => kvOnly.r2.buckets.create({ account_id: double.accountId, name: 'assets' }),
      () => kvOnly.user.get(),
      () => kvOnly.user.tokens.create({ name: 'x', policies: double.policies({ account: ['Workers KV Storage Write'] }) }),
      () => kvOnly.registrar.check({ account_id: double.accountId, domains: ['example.com'] }),
    ]) {
      expect(await rejection(call())).toMatchObject({ kind: 'PermissionDeniedError', status: 403, errors: [{ code: 9109, message: 'Unauthorized to access requested resource' }] });
    }
    expect(double.state.r2Buckets).toEqual([]);
    // A Write group grants its Read: listing namespaces works.
    expect((await kvOnly.kv.namespaces.list({ account_id: double.accountId })).result).toEqual([]);

    const denied = double.createToken({
      policies: [
        ...double.policies({ account: ['Workers KV Storage Write', 'D1 Write'] }),
        { effect: 'deny', permission_groups: [{ id: double.permissionGroupId('D1 Write') }], resources: { [`com.cloudflare.api.account.${double.accountId}`]: '*' } },
      ],
    });
    const asDenied = client(denied.value);
    expect(await rejection(asDenied.d1.database.create({ account_id: double.accountId, name: 'db' }))).toMatchObject({ status: 403, errors: [{ code: 9109 }] });
    await asDenied.kv.namespaces.create({ account_id: double.accountId, title: 'ok' });
  });

  it('does not let a token create or widen a token beyond its own permissions', async () => {
    const narrow = double.createToken({ user: ['API Tokens Write'], account: ['Workers KV Storage Write'] });
    const asNarrow = client(narrow.value);
    const before = double.state.tokens.length;

    const refused = await rejection(
      asNarrow.user.tokens.create({ name: 'wider', policies: double.policies({ account: ['Workers KV Storage Write', 'Workers R2 Storage Write'] }) }),
    );
    expect(refused).toMatchObject({ status: 403, errors: [{ code: 9109 }] });
    expect(double.state.tokens.length).toBe(before);

    const child = await asNarrow.user.tokens.create({ name: 'same', policies: double.policies({ account: ['Workers KV Storage Read'] }) });
    expect(child.value).toBeTruthy();
    const widen = await rejection(
      asNarrow.user.tokens.update(child.id!, { name: 'same', policies: double.policies({ account: ['D1 Write'] }) }),
    );
    expect(widen).toMatchObject({ status: 403, errors: [{ code: 9109 }] });
    expect(double.token(child.id!)?.policies[0]?.permission_groups.map((g) => g.name)).toEqual(['Workers KV Storage Read']);

    const unknownGroup = await rejection(
      asNarrow.user.tokens.create({ name: 'bad', policies: [{ effect: 'allow', permission_groups: [{ id: 'f'.repeat(32) }], resources: { [`com.cloudflare.api.account.${double.accountId}`]: '*' } }] }),
    );
    expect(unknownGroup).toMatchObject({ status: 400, errors: [{ code: CLOUDFLARE_ERRORS.invalid_request.code }] });
  });

  it('rolls a token value: the old value stops working, the new one works', async () => {
    const parent = client(double.parent.value);
    const child = await parent.user.tokens.create({ name: 'roll me', policies: double.policies({ user: ['User Details Read'] }) });
    const rolled = await parent.user.tokens.value.update(child.id!);
    expect(typeof rolled).toBe('string');
    expect(rolled).not.toBe(child.value);
    expect(await rejection(client(child.value!).user.get())).toMatchObject({ status: 403, errors: [{ code: 10000 }] });
    expect(double.state.requests.at(-1)).toMatchObject({ token_id: child.id, auth: 'rolled' });
    expect((await client(rolled).user.get()).id).toBe(double.userId);
  });

  it('serves account-owned tokens, which /user/tokens/verify calls invalid (what wrangler relies on)', async () => {
    const parent = client(double.parent.value);
    const token = await parent.accounts.tokens.create({
      account_id: double.accountId,
      name: 'account token',
      policies: double.policies({ account: ['Account Settings Read'] }),
    });
    const asAccount = client(token.value!);
    expect(await asAccount.accounts.tokens.verify({ account_id: double.accountId })).toMatchObject({ id: token.id, status: 'active' });
    expect(await rejection(asAccount.user.tokens.verify())).toMatchObject({ status: 401, errors: [{ code: 1000 }] });
    expect(await rejection(asAccount.user.get())).toMatchObject({ status: 403, errors: [{ code: 9109 }] });
    expect((await asAccount.accounts.get({ account_id: double.accountId })).name).toBe('Demo Account');
    expect(await rejection(parent.user.tokens.get(token.id!))).toMatchObject({ status: 404, errors: [{ code: 7003 }] });
  });

  it('lists the permission groups by name, filtered like the API', async () => {
    const parent = client(double.parent.value);
    const all = [];
    for await (const g of parent.user.tokens.permissionGroups.list()) all.push(g);
    expect(all.find((g) => g.name === 'API Tokens Write')).toMatchObject({ id: '686d18d5ac6c441c867cbf6771e58a0a', scopes: ['com.cloudflare.api.user'] });
    const kv = [];
    for await (const g of parent.user.tokens.permissionGroups.list({ name: 'Workers KV Storage Write' })) kv.push(g);
    expect(kv).toEqual([expect.objectContaining({ id: 'f7f0eda5697f475c90846e879bab8666' })]);
  });
});

describe('user, accounts, memberships', () => {
  it('pages /accounts and shows a token only the accounts its policies name', async () => {
    await start({ accounts: [{ name: 'One' }, { name: 'Two' }, { name: 'Three' }] });
    const parent = client(double.parent.value);
    const names = [];
    for await (const a of parent.accounts.list({ per_page: 2 })) names.push(a.name);
    expect(names).toEqual(['One', 'Two', 'Three']);
    const first = await parent.accounts.list({ per_page: 2 });
    expect(first.result_info).toMatchObject({ page: 1, per_page: 2, count: 2, total_count: 3, total_pages: 2 });

    const second = double.state.accounts[1]!;
    const narrow = client(double.createToken({ account: ['Account Settings Read'], accountId: second.id }).value);
    const seen = [];
    for await (const a of narrow.accounts.list()) seen.push(a.id);
    expect(seen).toEqual([second.id]);
    expect(await rejection(narrow.accounts.get({ account_id: double.state.accounts[0]!.id }))).toMatchObject({ status: 403, errors: [{ code: 9109 }] });

    const memberships = [];
    for await (const m of parent.memberships.list()) memberships.push(m);
    expect(memberships.map((m) => m.account?.name)).toEqual(['One', 'Two', 'Three']);
    expect(memberships[0]).toMatchObject({ status: 'accepted', roles: ['Super Administrator - All Privileges'] });
  });
});

describe('Registrar', () => {
  it('checks domains: registrable with the documented price, taken, premium, unsupported extensions', async () => {
    double.markTaken('taken-example.com');
    double.markPremium('gold.com', '2500.00');
    const cf = client(double.parent.value);
    const { domains } = await cf.registrar.check({
      account_id: double.accountId,
      domains: ['Fresh-Example.com', 'taken-example.com', 'gold.com', 'fun.lol', 'odd.zzz', 'no-extension'],
    });
    expect(domains).toEqual([
      { name: 'fresh-example.com', registrable: true, tier: 'standard', pricing: { currency: 'USD', registration_cost: '8.57', renewal_cost: '8.57' } },
      { name: 'taken-example.com', registrable: false, reason: 'domain_unavailable' },
      { name: 'gold.com', registrable: false, reason: 'domain_premium', tier: 'premium', pricing: { currency: 'USD', registration_cost: '2500.00', renewal_cost: '2500.00' } },
      { name: 'fun.lol', registrable: false, reason: 'extension_not_supported_via_api' },
      { name: 'odd.zzz', registrable: false, reason: 'extension_not_supported' },
    ]);
    expect(await rejection(cf.registrar.check({ account_id: double.accountId, domains: [] }))).toMatchObject({ status: 400 });
  });

  it('answers the documented domain-search example', async () => {
    const { domains } = await client(double.parent.value).registrar.search({ account_id: double.accountId, q: 'acme corp' });
    expect(domains.map((d) => [d.name, d.pricing?.registration_cost, d.tier])).toEqual([
      ['acmecorp.com', '8.57', 'standard'],
      ['acmecorp.dev', '10.11', 'standard'],
      ['acmecorp.app', '11.00', 'standard'],
    ]);
  });

  it('registers with 201, charges once, and refuses a second registration of the same domain', async () => {
    const cf = client(double.parent.value);
    const { data, response } = await cf.registrar.registrations
      .create({ account_id: double.accountId, domain_name: 'fresh-example.com', years: 2 })
      .withResponse();
    expect(response.status).toBe(201);
    expect(data).toMatchObject({ state: 'succeeded', completed: true, context: { domain_name: 'fresh-example.com', registration: { status: 'active' } } });

    const reg = await cf.registrar.registrations.get('fresh-example.com', { account_id: double.accountId });
    expect(reg.status).toBe('active');
    expect(Date.parse(reg.expires_at!) - Date.parse(reg.created_at)).toBeGreaterThan(2 * 364 * 86_400_000);
    expect(double.state.charges).toEqual([expect.objectContaining({ account_id: double.accountId, domain_name: 'fresh-example.com', amount: '17.14', currency: 'USD' })]);

    const again = await rejection(cf.registrar.registrations.create({ account_id: double.accountId, domain_name: 'fresh-example.com' }));
    expect(again).toMatchObject({ kind: 'BadRequestError', status: 400, errors: [{ code: CLOUDFLARE_ERRORS.registrar_already_registered.code }] });
    expect(double.state.registrationPosts.get('fresh-example.com')).toBe(2);
    expect(double.state.charges).toHaveLength(1);

    const { domains } = await cf.registrar.check({ account_id: double.accountId, domains: ['fresh-example.com'] });
    expect(domains[0]).toMatchObject({ registrable: false, reason: 'domain_unavailable' });
    const listed = [];
    for await (const r of cf.registrar.registrations.list({ account_id: double.accountId })) listed.push(r.domain_name);
    expect(listed).toEqual(['fresh-example.com']);
  });

  it('answers 202 for a registration held pending, polls pending N times, then succeeds and charges', async () => {
    double.holdPending('slow-example.dev', 2);
    const cf = client(double.parent.value);
    const { data, response } = await cf.registrar.registrations.create({ account_id: double.accountId, domain_name: 'slow-example.dev' }).withResponse();
    expect(response.status).toBe(202);
    expect(data).toMatchObject({ state: 'in_progress', completed: false });
    const self = data.links.self;
    expect(self).toBe(`${double.url}/accounts/${double.accountId}/registrar/registrations/slow-example.dev/registration-status`);
    expect(await cf.registrar.registrations.get('slow-example.dev', { account_id: double.accountId })).toMatchObject({ status: 'registration_pending', expires_at: null });
    expect(double.state.charges).toEqual([]);

    const states = [];
    for (let i = 0; i < 2; i++) states.push((await cf.registrar.registrationStatus.get('slow-example.dev', { account_id: double.accountId })).state);
    expect(states).toEqual(['in_progress', 'in_progress']);
    expect(double.state.charges).toEqual([]);

    // links.self is a real URL on the double: poll it the way the docs show.
    const polled = await fetch(self, { headers: { authorization: `Bearer ${double.parent.value}` } });
    expect(polled.status).toBe(200);
    expect(await polled.json()).toMatchObject({ success: true, errors: [], result: { state: 'succeeded', completed: true } });
    expect(double.state.charges).toEqual([expect.objectContaining({ domain_name: 'slow-example.dev', amount: '10.11' })]);
    expect(await cf.registrar.registrations.get('slow-example.dev', { account_id: double.accountId })).toMatchObject({ status: 'active' });
  });

  it('honours Prefer: respond-async, and holds a registration until the test releases it', async () => {
    const cf = client(double.parent.value);
    const asyncReg = await cf.registrar.registrations
      .create({ account_id: double.accountId, domain_name: 'quick-example.app', Prefer: 'respond-async' })
      .withResponse();
    expect(asyncReg.response.status).toBe(202);
    expect(asyncReg.response.headers.get('preference-applied')).toBe('respond-async');
    expect((await cf.registrar.registrationStatus.get('quick-example.app', { account_id: double.accountId })).state).toBe('succeeded');

    double.holdPending('held-example.com');
    await cf.registrar.registrations.create({ account_id: double.accountId, domain_name: 'held-example.com' });
    for (let i = 0; i < 3; i++) {
      expect((await cf.registrar.registrationStatus.get('held-example.com', { account_id: double.accountId })).completed).toBe(false);
    }
    double.release('held-example.com');
    expect((await cf.registrar.registrationStatus.get('held-example.com', { account_id: double.accountId })).state).toBe('succeeded');
    expect(double.state.charges.map((c) => c.domain_name)).toEqual(['quick-example.app', 'held-example.com']);
  });

  it('refuses to register without a billing profile, naming the dashboard page', async () => {
    double.setBillingProfile(double.accountId, false);
    const refused = await rejection(client(double.parent.value).registrar.registrations.create({ account_id: double.accountId, domain_name: 'fresh-example.com' }));
    expect(refused.status).toBe(400);
    expect(refused.errors[0]?.code).toBe(CLOUDFLARE_ERRORS.registrar_billing_profile_missing.code);
    expect(refused.errors[0]?.message).toContain('billing profile');
    expect(refused.errors[0]?.message).toContain(`https://dash.cloudflare.com/${double.accountId}/billing/payment-info`);
    expect(double.state.registrations).toEqual([]);
    expect(double.state.charges).toEqual([]);
    expect(double.state.registrationPosts.get('fresh-example.com')).toBe(1);
  });

  it('refuses to register an unavailable or premium domain', async () => {
    double.markTaken('taken-example.com');
    double.markPremium('gold.com', '2500.00');
    const cf = client(double.parent.value);
    expect(await rejection(cf.registrar.registrations.create({ account_id: double.accountId, domain_name: 'taken-example.com' }))).toMatchObject({
      status: 400,
      errors: [{ code: CLOUDFLARE_ERRORS.registrar_domain_unavailable.code }],
    });
    expect(await rejection(cf.registrar.registrations.create({ account_id: double.accountId, domain_name: 'gold.com' }))).toMatchObject({
      status: 400,
      errors: [{ code: CLOUDFLARE_ERRORS.registrar_domain_premium.code }],
    });
    expect(double.state.registrations).toEqual([]);
    expect(double.state.charges).toEqual([]);
  });
});

describe('fault injection', () => {
  it('rate-limits with 429, Retry-After and code 971', async () => {
    const cf = client(double.parent.value);
    double.rateLimitNext(1, 7);
    const limited = await rejection(cf.registrar.check({ account_id: double.accountId, domains: ['fresh-example.com'] }));
    expect(limited).toMatchObject({ kind: 'RateLimitError', status: 429, errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }] });
    expect(limited.headers?.get('retry-after')).toBe('7');
    expect((await cf.registrar.check({ account_id: double.accountId, domains: ['fresh-example.com'] })).domains).toHaveLength(1);
  });

  it('fails or drops chosen requests; a drop after the fact leaves the registration done', async () => {
    const cf = client(double.parent.value);
    double.failNext('/registrar/domain-check', 503);
    expect(await rejection(cf.registrar.check({ account_id: double.accountId, domains: ['a-example.com'] }))).toMatchObject({ kind: 'InternalServerError', status: 503 });

    double.dropNext();
    expect(await rejection(cf.user.tokens.verify())).toMatchObject({ kind: 'APIConnectionError' });

    double.dropNext({ match: '/registrar/registrations', method: 'POST', after: true });
    expect(await rejection(cf.registrar.registrations.create({ account_id: double.accountId, domain_name: 'crash-example.com' }))).toMatchObject({ kind: 'APIConnectionError' });
    expect(double.state.requests.at(-1)).toMatchObject({ method: 'POST', status: 'dropped' });
    expect(double.state.charges.map((c) => c.domain_name)).toEqual(['crash-example.com']);
    const retry = await rejection(cf.registrar.registrations.create({ account_id: double.accountId, domain_name: 'crash-example.com' }));
    expect(retry).toMatchObject({ status: 400, errors: [{ code: CLOUDFLARE_ERRORS.registrar_already_registered.code }] });
    expect(double.state.charges).toHaveLength(1);
  });
});

describe('Workers KV, R2, D1, Workers scripts', () => {
  it('answers a duplicate KV namespace title with code 10014', async () => {
    const cf = client(double.parent.value);
    await cf.kv.namespaces.create({ account_id: double.accountId, title: 'sessions' });
    expect(await rejection(cf.kv.namespaces.create({ account_id: double.accountId, title: 'sessions' }))).toMatchObject({
      status: 400,
      errors: [{ code: 10014, message: 'a namespace with this account ID and title already exists' }],
    });
    const page = await cf.kv.namespaces.list({ account_id: double.accountId });
    expect(page.result.map((n) => n.title)).toEqual(['sessions']);
    await cf.kv.namespaces.delete(page.result[0]!.id, { account_id: double.accountId });
    expect(double.state.kvNamespaces).toEqual([]);
  });

  it('creates, lists and deletes R2 buckets and D1 databases', async () => {
    const cf = client(double.parent.value);
    expect(await cf.r2.buckets.create({ account_id: double.accountId, name: 'assets' })).toMatchObject({ name: 'assets', storage_class: 'Standard' });
    expect(await rejection(cf.r2.buckets.create({ account_id: double.accountId, name: 'assets' }))).toMatchObject({ status: 409, errors: [{ code: 10004 }] });
    expect((await cf.r2.buckets.list({ account_id: double.accountId })).buckets?.map((b) => b.name)).toEqual(['assets']);
    await cf.r2.buckets.delete('assets', { account_id: double.accountId });
    expect(await rejection(cf.r2.buckets.get('assets', { account_id: double.accountId }))).toMatchObject({ status: 404, errors: [{ code: 10006 }] });

    const db = await cf.d1.database.create({ account_id: double.accountId, name: 'app-db' });
    expect(db.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect((await cf.d1.database.get(db.uuid!, { account_id: double.accountId })).name).toBe('app-db');
    const names = [];
    for await (const d of cf.d1.database.list({ account_id: double.accountId })) names.push(d.name);
    expect(names).toEqual(['app-db']);
    await cf.d1.database.delete(db.uuid!, { account_id: double.accountId });
    expect(double.state.d1Databases).toEqual([]);
  });

  it('stores a Worker uploaded as the SDK sends it (multipart) and deletes it', async () => {
    const cf = client(double.parent.value);
    const source = 'export default { fetch() { return new Response("hi"); } };';
    const params = async (): Promise<Parameters<typeof cf.workers.scripts.update>[1]> => ({
      account_id: double.accountId,
      metadata: { main_module: 'index.js', compatibility_date: '2025-01-01', bindings: [{ type: 'plain_text', name: 'GREETING', text: 'hi' }] },
      files: [await toFile(Buffer.from(source), 'index.js', { type: 'application/javascript+module' })],
    });
    // SDK 7.3.0 labels this multipart body application/javascript; as a script that cannot parse.
    const mislabelled = await rejection(cf.workers.scripts.update('hello', await params()));
    expect(mislabelled).toMatchObject({ status: 400, errors: [{ code: 10021 }] });
    expect(double.state.workerScripts).toEqual([]);

    const uploaded = await cf.workers.scripts.update('hello', await params(), { headers: { 'Content-Type': null } });
    expect(uploaded).toMatchObject({ id: 'hello', has_modules: true, compatibility_date: '2025-01-01' });
    expect(double.state.workerScripts[0]?.metadata).toEqual({
      main_module: 'index.js',
      compatibility_date: '2025-01-01',
      bindings: [{ type: 'plain_text', name: 'GREETING', text: 'hi' }],
    });
    expect(double.state.workerScripts[0]?.parts.map((p) => [p.name, p.bytes.toString('utf8')])).toEqual([['index.js', source]]);
    const listed = [];
    for await (const s of cf.workers.scripts.list({ account_id: double.accountId })) listed.push(s.id);
    expect(listed).toEqual(['hello']);
    await cf.workers.scripts.delete('hello', { account_id: double.accountId });
    expect(await rejection(cf.workers.scripts.delete('hello', { account_id: double.accountId }))).toMatchObject({ status: 404, errors: [{ code: 10007 }] });
  });
});

describe('wrangler whoami against the double', () => {
  const whoami = (token: string): Promise<WranglerRun> => wranglerWhoami(double.url, token);

  it('prints the account for a valid token and fails once the token is deleted', async () => {
    const parent = client(double.parent.value);
    const child = await parent.user.tokens.create({
      name: 'wrangler',
      policies: double.policies({ user: ['User Details Read'], account: ['Account Settings Read'] }),
      expires_on: inSeconds(Date.now() + 10 * 60_000),
    });

    const ok = await whoami(child.value!);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('You are logged in with an User API Token, associated with the email user@example.com');
    expect(ok.stdout).toContain('Demo Account');
    expect(ok.stdout).toContain(double.accountId);
    const calls = double.state.requests.filter((r) => r.token_id === child.id).map((r) => `${r.method} ${r.path} ${r.status}`);
    expect(calls).toEqual(['GET /user/tokens/verify 200', 'GET /user 200', 'GET /accounts 200']);

    await parent.user.tokens.delete(child.id!);
    const before = double.state.requests.length;
    const failed = await whoami(child.value!);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('A request to the Cloudflare API (/user) failed.');
    expect(failed.stderr).toContain('Authentication error [code: 10000]');
    expect(failed.stdout + failed.stderr).not.toContain('Demo Account');
    const after = double.state.requests.slice(before);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((r) => r.token_id === child.id && r.auth === 'deleted' && (r.status === 401 || r.status === 403))).toBe(true);
  }, 150_000);

  it('reports an account-owned token as such (code 1000 on /user/tokens/verify)', async () => {
    const token = await client(double.parent.value).accounts.tokens.create({
      account_id: double.accountId,
      name: 'wrangler account token',
      policies: double.policies({ account: ['Account Settings Read'] }),
    });
    const run = await whoami(token.value!);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('You are logged in with an Account API Token, associated with the account Demo Account');
  }, 90_000);
});
