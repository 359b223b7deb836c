/**
 * The sandbox APP provider's Stripe-signed surface over real loopback HTTP:
 * signed requests pass, unsigned, wrongly signed, stale and unversioned ones
 * are refused with the documented status and code, and a rotation header
 * (two v1=, one right) passes.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppProvider, type StartedAppProvider } from '../../../src/sandbox/app/index.js';
import { STRIPE_BASE_PATH, stripeSignature } from '../../../src/sandbox/app/stripe.js';

const SECRET = `whsec_test_${randomBytes(12).toString('hex')}`;
const CLIENT = 'http://127.0.0.1:9/agentprov-client.json';
let app: StartedAppProvider;
let base: string;
const now = (): number => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  app = await startAppProvider({ id: 'appcloud', name: 'AppCloud', stripeSigningSecret: SECRET });
  base = `${app.origin}${STRIPE_BASE_PATH}`;
  // The client registration's CIMD fetch is covered elsewhere; register directly.
  await app.state.registerClient(CLIENT, { client_name: 'agentprov', redirect_uris: ['http://127.0.0.1:9/app/callback'] });
});
afterAll(() => app.stop());

interface Opts { body?: string; t?: number; sig?: string | null; version?: string | null }
async function call(method: 'GET' | 'POST', path: string, o: Opts = {}) {
  const body = o.body ?? '';
  const t = o.t ?? now();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (o.version !== null) headers['api-version'] = o.version ?? '0.1d';
  if (o.sig !== null) headers['stripe-signature'] = o.sig ?? `t=${t},v1=${stripeSignature(SECRET, t, body)}`;
  if (method === 'POST') headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, ...(method === 'POST' ? { body } : {}) });
  return { status: res.status, body: (await res.json()) as any };
}
const accountRequest = (): string =>
  JSON.stringify({
    id: randomUUID(),
    object: 'account_request',
    email: `s-${randomUUID()}@agentprov.test`,
    client_id: CLIENT,
    scopes: [],
    expires_at: new Date(Date.now() + 900_000).toISOString(),
    code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
    code_challenge_method: 'S256',
  });

describe('sandbox APP provider: the Stripe-signed surface', () => {
  it('serves health, services and account_requests to a correctly signed request', async () => {
    const health = await call('GET', 'provisioning/health');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok', supported_versions: ['0.1d'] } });
    const services = await call('GET', 'provisioning/services');
    expect(services.status).toBe(200);
    expect(services.body.data.map((s: { id: string }) => s.id)).toEqual(['analytics', 'analytics-scale', 'analytics-eu']);
    const body = accountRequest();
    const ar = await call('POST', 'provisioning/account_requests', { body });
    expect(ar.status).toBe(200);
    expect(ar.body).toMatchObject({ id: JSON.parse(body).id, type: 'oauth' });
    expect(typeof ar.body.oauth.code).toBe('string');
  });

  it('refuses a stale timestamp (401 stale_signature), even correctly signed', async () => {
    const r = await call('GET', 'provisioning/services', { t: now() - 301 });
    expect(r).toMatchObject({ status: 401, body: { error: { code: 'stale_signature' } } });
  });

  it('refuses a wrong signature: another secret, or a body other than the one signed', async () => {
    const t = now();
    const other = await call('GET', 'provisioning/services', { sig: `t=${t},v1=${stripeSignature('whsec_other', t, '')}` });
    expect(other).toMatchObject({ status: 401, body: { error: { code: 'invalid_signature' } } });
    const body = accountRequest();
    const swapped = await call('POST', 'provisioning/account_requests', { body, sig: `t=${t},v1=${stripeSignature(SECRET, t, accountRequest())}` });
    expect(swapped).toMatchObject({ status: 401, body: { error: { code: 'invalid_signature' } } });
  });

  it('refuses a missing or malformed signature (401 invalid_signature)', async () => {
    for (const sig of [null, 'garbage', `t=${now()}`, `v1=${'0'.repeat(64)}`]) {
      const r = await call('GET', 'provisioning/services', { sig });
      expect(r, String(sig)).toMatchObject({ status: 401, body: { error: { code: 'invalid_signature' } } });
    }
  });

  it('checks API-Version after the signature (missing or unknown → 400 invalid_api_version)', async () => {
    for (const version of [null, '0.1c']) {
      const r = await call('GET', 'provisioning/services', { version });
      expect(r, String(version)).toMatchObject({ status: 400, body: { error: { code: 'invalid_api_version' } } });
    }
    const unsigned = await call('GET', 'provisioning/services', { version: null, sig: null });
    expect(unsigned.status).toBe(401);
  });

  it('accepts a rotation header with two v1= values, one right', async () => {
    const t = now();
    const sig = `t=${t},v1=${stripeSignature('whsec_old', t, '')},v1=${stripeSignature(SECRET, t, '')}`;
    const r = await call('GET', 'provisioning/services', { sig });
    expect(r.status).toBe(200);
    expect(r.body.data).toHaveLength(3);
  });

  it('keeps the partner surface unsigned', async () => {
    const r = await fetch(`${app.url}provisioning/services`, { headers: { 'api-version': '0.1d' } });
    expect(r.status).toBe(200);
  });
});

describe('startSandbox({ appStripeSigningSecret })', () => {
  it('serves appcloud signed under /api/partners/stripe/ with the given secret, and only when asked', async () => {
    const { startSandbox } = await import('../../../src/sandbox/index.js');
    const secret = `whsec_sb_${randomBytes(8).toString('hex')}`;
    const signed = await startSandbox({ appStripeSigningSecret: secret });
    const plain = await startSandbox({});
    try {
      const t = now();
      const headers = { 'api-version': '0.1d', 'stripe-signature': `t=${t},v1=${stripeSignature(secret, t, '')}` };
      const ok = await fetch(`${signed.app.origin}${STRIPE_BASE_PATH}provisioning/services`, { headers });
      expect(ok.status).toBe(200);
      const wrong = await fetch(`${signed.app.origin}${STRIPE_BASE_PATH}provisioning/services`, { headers: { ...headers, 'stripe-signature': `t=${t},v1=${stripeSignature(SECRET, t, '')}` } });
      expect(wrong.status).toBe(401);
      const off = await fetch(`${plain.app.origin}${STRIPE_BASE_PATH}provisioning/services`, { headers });
      expect(off.status).toBe(404);
    } finally {
      await signed.stop();
      await plain.stop();
    }
  });
});
