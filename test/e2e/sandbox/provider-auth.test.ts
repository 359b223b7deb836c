/**
 * The sandbox provider's authorization server, over real HTTP on loopback:
 * a tiny node server routes to `createProviderAuth().callback`, a throwaway
 * ID-JAG issuer (jose key pair + JWKS on loopback) stands in for the
 * orchestrator, openid-client v6 plays the CLI, headless Chromium the human.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GRANT_JWT_BEARER,
  GRANT_TOKEN_EXCHANGE,
  JwtBearerTokenResponseSchema,
  ProviderTokenErrorSchema,
  TermsAcceptanceRequiredSchema,
  TOKEN_TYPE_ACCESS_TOKEN,
  TokenExchangeResponseSchema,
} from '../../../src/wire/provider-auth.js';
import { createProviderAuth, type ProviderAuth, type ProviderAuthOptions } from '../../../src/sandbox/provider/auth/index.js';
import { approveConsent, enterDeviceCode, launchBrowser, signIn, type TestBrowser } from '../../helpers/browser.js';

const SCOPES = ['provision', 'kv:read', 'kv:write', 'scripts:deploy'];
const TERMS = '2026-11-01';
const CLI = 'agentprov-cli';

// ---- counterparts ---------------------------------------------------------

async function listen(server: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

/** An ID-JAG issuer: ES256 key, JWKS on loopback, and a signer with overridable claims (`defaults` first: e.g. the provider's resource). */
async function startIssuer() {
  const defaults: JWTPayload = {};
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  const issuer = await listen(server);
  const sign = (claims: JWTPayload, o: { key?: CryptoKey; typ?: string; kid?: string } = {}) =>
    new SignJWT({ iss: issuer, client_id: CLI, email: 'demo@agentprov.test', jti: randomUUID(), ...defaults, ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: o.typ ?? 'oauth-id-jag+jwt', kid: o.kid ?? kid })
      .setIssuedAt(typeof claims.iat === 'number' ? claims.iat : undefined)
      .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : '300s')
      .sign(o.key ?? privateKey);
  return { issuer, jwksUri: `${issuer}/jwks`, kid, sign, defaults, stop: () => new Promise<void>((r) => server.close(() => r())) };
}
type Issuer = Awaited<ReturnType<typeof startIssuer>>;

/** A provider HTTP server that routes what `handles()` accepts to the AS. */
async function startProvider(
  opts: Partial<ProviderAuthOptions> & Pick<ProviderAuthOptions, 'trustedIssuers' | 'allowDynamicRegistration'>,
  port = 0,
) {
  let auth: ProviderAuth | undefined;
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://x');
    if (auth?.handles(pathname)) return auth.callback(req, res);
    res.writeHead(404).end();
  });
  const url = await listen(server, port);
  auth = await createProviderAuth({
    providerId: 'localcloud',
    baseUrl: url,
    termsUrl: `${url}/terms`,
    termsVersion: TERMS,
    scopes: SCOPES,
    ...opts,
  });
  const stop = async () => {
    await auth?.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return { url, auth, stop };
}

async function tokenRequest(asIssuer: string, form: Record<string, string>) {
  const res = await fetch(`${asIssuer}/token`, { method: 'POST', body: new URLSearchParams({ client_id: CLI, ...form }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function configFor(asIssuer: string, clientId = CLI): Promise<oidc.Configuration> {
  // algorithm oauth2: RFC 8414 §3.1 path insertion (/.well-known/oauth-authorization-server/oauth).
  return oidc.discovery(new URL(asIssuer), clientId, undefined, oidc.None(), {
    algorithm: 'oauth2',
    execute: [oidc.allowInsecureRequests],
  });
}

const now = () => Math.floor(Date.now() / 1000);

// ---- localcloud: trusts the orchestrator, no DCR --------------------------

describe('provider AS trusting the orchestrator (localcloud)', () => {
  let idp: Issuer;
  let rogue: Issuer;
  let p: Awaited<ReturnType<typeof startProvider>>;
  let config: oidc.Configuration;
  let dataDir: string;
  let browser: TestBrowser;
  const aud = () => p.auth.issuer;
  const accountFor = (sub: string) => p.auth.accounts().find((a) => a.sub === sub);

  beforeAll(async () => {
    idp = await startIssuer();
    rogue = await startIssuer();
    dataDir = mkdtempSync(join(tmpdir(), 'agentprov-pauth-'));
    p = await startProvider({
      dataDir,
      trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri }],
      allowDynamicRegistration: false,
      seedAccounts: [{ issuer: idp.issuer, sub: 'user-second', email: 'second@agentprov.test', consented: false }],
    });
    // The orchestrator binds every ID-JAG to the provider's resource (RFC 8707).
    idp.defaults.resource = p.url;
    rogue.defaults.resource = p.url;
    config = await configFor(p.auth.issuer);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await p?.stop();
    await idp?.stop();
    await rogue?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('publishes RFC 8414 metadata by path insertion and under the issuer', async () => {
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(`${p.url}/oauth`);
    expect(meta.token_endpoint).toBe(`${p.url}/oauth/token`);
    expect(meta.device_authorization_endpoint).toBe(`${p.url}/oauth/device/auth`);
    expect(meta.revocation_endpoint).toBe(`${p.url}/oauth/token/revocation`);
    expect(meta.grant_types_supported).toEqual(expect.arrayContaining([GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE]));
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(SCOPES));
    expect(meta.registration_endpoint).toBeUndefined();
    const oidcMeta = await fetch(`${p.auth.issuer}/.well-known/openid-configuration`);
    expect(((await oidcMeta.json()) as { issuer: string }).issuer).toBe(p.auth.issuer);
  });

  it('asks for terms, then creates the account, then finds it; a jti is single use', async () => {
    const assertion = await idp.sign({ sub: 'user-demo', aud: aud(), auth_time: now() - 5 });
    const refused = await tokenRequest(p.auth.issuer, { grant_type: GRANT_JWT_BEARER, assertion });
    expect(refused.status).toBe(400);
    expect(TermsAcceptanceRequiredSchema.parse(refused.body)).toMatchObject({ terms_url: `${p.url}/terms`, terms_version: TERMS });
    expect(accountFor('user-demo')).toBeUndefined();

    const staleTerms = await tokenRequest(p.auth.issuer, { grant_type: GRANT_JWT_BEARER, assertion, terms_version: '1999-01-01' });
    expect(staleTerms.body.error).toBe('terms_acceptance_required');

    const created = await oidc.genericGrantRequest(config, GRANT_JWT_BEARER, { assertion, terms_version: TERMS });
    const body = JwtBearerTokenResponseSchema.parse(created);
    expect(body.account_created).toBe(true);
    expect(body.token_type.toLowerCase()).toBe('bearer');
    expect(body.expires_in).toBe(600);
    expect(body.scope?.split(' ').sort()).toEqual([...SCOPES].sort());
    const account = accountFor('user-demo');
    expect(account).toMatchObject({ id: body.account_id, issuer: idp.issuer, email: 'demo@agentprov.test', termsVersion: TERMS });
    const info = await p.auth.verifyAccessToken(body.access_token);
    expect(info).toMatchObject({ accountId: body.account_id, clientId: CLI, jti: body.access_token });
    expect(info.exp).toBeGreaterThan(now() + 590);

    const replay = await tokenRequest(p.auth.issuer, { grant_type: GRANT_JWT_BEARER, assertion, terms_version: TERMS });
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    // Concurrent presentations of one fresh assertion: exactly one wins.
    const fresh = await idp.sign({ sub: 'user-demo', aud: aud() });
    const racing = await Promise.all([1, 2, 3].map(() => tokenRequest(p.auth.issuer, { grant_type: GRANT_JWT_BEARER, assertion: fresh })));
    expect(racing.map((r) => r.status).sort()).toEqual([200, 400, 400]);

    const again = await tokenRequest(p.auth.issuer, {
      grant_type: GRANT_JWT_BEARER,
      assertion: await idp.sign({ sub: 'user-demo', aud: aud() }),
      scope: 'kv:read bogus',
    });
    expect(JwtBearerTokenResponseSchema.parse(again.body)).toMatchObject({ account_created: false, account_id: body.account_id, scope: 'kv:read' });
  });

  it('refuses forged, expired, mis-addressed and misbound assertions without creating accounts', async () => {
    const sub = 'user-victim';
    const { privateKey: attackerKey } = await generateKeyPair('ES256');
    const cases: Array<[string, Promise<string>]> = [
      ['forged signature', idp.sign({ sub, aud: aud() }, { key: attackerKey })],
      ['expired', idp.sign({ sub, aud: aud(), iat: now() - 900, exp: now() - 600 })],
      ['wrong aud', idp.sign({ sub, aud: 'http://127.0.0.1:1/oauth' })],
      ['wrong iss (signed by the trusted key)', idp.sign({ sub, aud: aud(), iss: 'http://127.0.0.1:1' })],
      ['client_id mismatch', idp.sign({ sub, aud: aud(), client_id: 'someone-else' })],
      ['wrong typ', idp.sign({ sub, aud: aud() }, { typ: 'JWT' })],
      ['too long-lived', idp.sign({ sub, aud: aud(), exp: now() + 7200 })],
    ];
    for (const [name, pending] of cases) {
      const res = await tokenRequest(p.auth.issuer, { grant_type: GRANT_JWT_BEARER, assertion: await pending, terms_version: TERMS });
      expect({ name, status: res.status, error: res.body.error }).toEqual({ name, status: 400, error: 'invalid_grant' });
      expect(ProviderTokenErrorSchema.safeParse(res.body).success).toBe(true);
    }
    expect(accountFor(sub)).toBeUndefined();

    // Audience binding: an assertion for another resource (the mix-up), or for none, is invalid_target.
    const unbound: Array<[string, Promise<string>]> = [
      ['another resource', idp.sign({ sub, aud: aud(), resource: 'http://127.0.0.1:1' })],
      ['one of two resources', idp.sign({ sub, aud: aud(), resource: [p.url, 'http://127.0.0.1:1'] })],
      ['no resource', idp.sign({ sub, aud: aud(), resource: undefined })],
    ];
    for (const [name, pending] of unbound) {
      const res = await tokenRequest(p.auth.issuer, { grant_type: GRANT_JWT_BEARER, assertion: await pending, terms_version: TERMS });
      expect({ name, status: res.status, error: res.body.error }).toEqual({ name, status: 400, error: 'invalid_target' });
    }
    const otherParam = await tokenRequest(p.auth.issuer, { grant_type: GRANT_JWT_BEARER, assertion: await idp.sign({ sub, aud: aud() }), resource: 'http://127.0.0.1:1', terms_version: TERMS });
    expect(otherParam.body.error).toBe('invalid_target');
    expect(accountFor(sub)).toBeUndefined();

    const missing = await tokenRequest(p.auth.issuer, { grant_type: GRANT_JWT_BEARER });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: 'invalid_request' });
    expect(String(missing.body.error_description)).toContain('assertion');
  });

  it('answers interaction_required for an issuer it does not trust', async () => {
    const res = await tokenRequest(p.auth.issuer, {
      grant_type: GRANT_JWT_BEARER,
      assertion: await rogue.sign({ sub: 'user-demo', aud: aud() }),
      terms_version: TERMS,
    });
    expect(res).toMatchObject({ status: 400, body: { error: 'interaction_required' } });
  });

  it('answers consent_required for an unconsented account, which the device flow fixes', async () => {
    const seeded = accountFor('user-second');
    expect(seeded).toBeDefined();
    const first = await tokenRequest(p.auth.issuer, {
      grant_type: GRANT_JWT_BEARER,
      assertion: await idp.sign({ sub: 'user-second', email: 'second@agentprov.test', aud: aud() }),
    });
    expect(first).toMatchObject({ status: 400, body: { error: 'consent_required' } });

    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'provision kv:read' });
    const page = await browser.newPage();
    await enterDeviceCode(page, device.verification_uri, device.user_code);
    await signIn(page, 'second@agentprov.test', 'second');
    await page.waitForSelector('[data-action="approve"]');
    expect(await page.locator('input[name=accept_terms]').count()).toBe(0); // the account exists already
    expect(await page.textContent('body')).toContain('kv:read');
    await approveConsent(page);
    await page.waitForSelector('text=connected');
    await page.close();

    const tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
    expect(tokens.account_id).toBe(seeded?.id);
    expect(tokens.refresh_token).toBeTruthy();
    expect((await p.auth.verifyAccessToken(tokens.access_token)).scopes.sort()).toEqual(['kv:read', 'provision']);

    const after = await tokenRequest(p.auth.issuer, {
      grant_type: GRANT_JWT_BEARER,
      assertion: await idp.sign({ sub: 'user-second', email: 'second@agentprov.test', aud: aud() }),
    });
    expect(JwtBearerTokenResponseSchema.parse(after.body)).toMatchObject({ account_id: seeded?.id, account_created: false });

    // Same browser again: the provider session stands, so straight to consent.
    const second = await oidc.initiateDeviceAuthorization(config, { scope: 'kv:write' });
    const page2 = await browser.newPage();
    await enterDeviceCode(page2, second.verification_uri, second.user_code);
    await page2.waitForSelector('[data-action="approve"]');
    expect(await page2.locator('input[name=password]').count()).toBe(0);
    await approveConsent(page2);
    await page2.waitForSelector('text=connected');
    await page2.close();
    const more = await oidc.pollDeviceAuthorizationGrant(config, second);
    expect(more.account_id).toBe(seeded?.id);
    expect(more.scope).toBe('kv:write');
  });

  it('rotates refresh tokens, exchanges for short-lived down-scoped tokens, and revokes at once', async () => {
    const issued = JwtBearerTokenResponseSchema.parse(
      await oidc.genericGrantRequest(config, GRANT_JWT_BEARER, { assertion: await idp.sign({ sub: 'user-demo', aud: aud() }) }),
    );
    const refreshed = await oidc.refreshTokenGrant(config, issued.refresh_token, { scope: 'kv:read kv:write' });
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(issued.refresh_token);
    expect(refreshed.account_id).toBe(issued.account_id);
    expect((await p.auth.verifyAccessToken(refreshed.access_token)).scopes.sort()).toEqual(['kv:read', 'kv:write']);

    const exchanged = TokenExchangeResponseSchema.parse(
      await oidc.genericGrantRequest(config, GRANT_TOKEN_EXCHANGE, {
        subject_token: refreshed.access_token,
        subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
        scope: 'kv:read',
        resource: p.url,
        requested_expires_in: '60',
      }),
    );
    expect(exchanged).toMatchObject({ expires_in: 60, scope: 'kv:read', account_id: issued.account_id });
    const narrow = await p.auth.verifyAccessToken(exchanged.access_token);
    expect(narrow.scopes).toEqual(['kv:read']);
    expect(narrow.jti).not.toBe(refreshed.access_token);
    expect(narrow.exp).toBeLessThanOrEqual(now() + 61);

    const exchange = (form: Record<string, string>) =>
      tokenRequest(p.auth.issuer, { grant_type: GRANT_TOKEN_EXCHANGE, subject_token_type: TOKEN_TYPE_ACCESS_TOKEN, ...form });
    const overScoped = await exchange({ subject_token: exchanged.access_token, scope: 'kv:read kv:write' });
    expect(overScoped.body.error).toBe('invalid_scope');
    expect((await exchange({ subject_token: refreshed.access_token, resource: 'http://127.0.0.1:1' })).body.error).toBe('invalid_target');
    const tooShort = await exchange({ subject_token: refreshed.access_token, requested_expires_in: '5' });
    expect(tooShort.body.error).toBe('invalid_request');
    expect(String(tooShort.body.error_description)).toContain('requested_expires_in');

    // Revoking the exchanged token kills it alone; revoking the refresh token kills the grant.
    await oidc.tokenRevocation(config, exchanged.access_token);
    await expect(p.auth.verifyAccessToken(exchanged.access_token)).rejects.toThrow();
    await expect(p.auth.verifyAccessToken(refreshed.access_token)).resolves.toMatchObject({ accountId: issued.account_id });
    await oidc.tokenRevocation(config, refreshed.refresh_token!);
    await expect(p.auth.verifyAccessToken(refreshed.access_token)).rejects.toThrow();
    const dead = await tokenRequest(p.auth.issuer, { grant_type: 'refresh_token', refresh_token: refreshed.refresh_token! });
    expect(dead.body.error).toBe('invalid_grant');
  });

  it('keeps accounts, used jtis and refresh tokens across a restart with the same data dir', async () => {
    const assertion = await idp.sign({ sub: 'user-demo', aud: aud() });
    const issued = JwtBearerTokenResponseSchema.parse(await oidc.genericGrantRequest(config, GRANT_JWT_BEARER, { assertion }));
    const before = p.auth.accounts();
    await p.stop();
    await new Promise((r) => setTimeout(r, 100)); // let the client's pool notice the closed keep-alive sockets
    p = await startProvider(
      { dataDir, trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri }], allowDynamicRegistration: false },
      Number(new URL(p.url).port),
    );
    config = await configFor(p.auth.issuer);
    expect(p.auth.accounts()).toEqual(before);
    await expect(p.auth.verifyAccessToken(issued.access_token)).resolves.toMatchObject({ accountId: issued.account_id });
    const replay = await tokenRequest(p.auth.issuer, { grant_type: GRANT_JWT_BEARER, assertion });
    expect(replay.body.error).toBe('invalid_grant');
    const refreshed = await oidc.refreshTokenGrant(config, issued.refresh_token);
    expect(refreshed.account_id).toBe(issued.account_id);
  });
});

// ---- othercloud: trusts no orchestrator, offers DCR ------------------------

describe('provider AS without trusted issuers, with DCR (othercloud)', () => {
  let idp: Issuer;
  let p: Awaited<ReturnType<typeof startProvider>>;
  let browser: TestBrowser;

  beforeAll(async () => {
    idp = await startIssuer();
    p = await startProvider({ providerId: 'othercloud', trustedIssuers: [], allowDynamicRegistration: true });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await p?.stop();
    await idp?.stop();
  });

  it('answers interaction_required to any ID-JAG', async () => {
    const res = await tokenRequest(p.auth.issuer, {
      grant_type: GRANT_JWT_BEARER,
      assertion: await idp.sign({ sub: 'user-demo', aud: p.auth.issuer }),
      terms_version: TERMS,
    });
    expect(res).toMatchObject({ status: 400, body: { error: 'interaction_required' } });
    expect(p.auth.accounts()).toEqual([]);
  });

  it('registers a public client (RFC 7591) and creates the account through the device flow with terms', async () => {
    const metadata = { client_name: 'agentprov', application_type: 'native', token_endpoint_auth_method: 'none' };
    const grantTypes = ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token', GRANT_TOKEN_EXCHANGE];
    const config = await oidc.dynamicClientRegistration(
      new URL(p.auth.issuer),
      { ...metadata, grant_types: grantTypes, response_types: [] },
      oidc.None(),
      { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests] },
    );
    const clientId = config.clientMetadata().client_id;
    expect(clientId).toBeTruthy();
    expect(config.serverMetadata().registration_endpoint).toBe(`${p.url}/oauth/reg`);
    const confidential = await fetch(`${p.auth.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...metadata, token_endpoint_auth_method: 'client_secret_basic', grant_types: grantTypes, response_types: [] }),
    });
    expect(confidential.status).toBe(400);

    // Deny first: the client sees access_denied, nothing is created.
    const denied = await oidc.initiateDeviceAuthorization(config, { scope: 'provision' });
    let page = await browser.newPage();
    await enterDeviceCode(page, denied.verification_uri, denied.user_code);
    await signIn(page, 'demo@agentprov.test', 'demo');
    await page.click('[data-action="deny"]');
    await page.waitForLoadState('load');
    await page.close();
    await expect(oidc.pollDeviceAuthorizationGrant(config, denied)).rejects.toMatchObject({ error: 'access_denied' });
    expect(p.auth.accounts()).toEqual([]);

    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'provision kv:read' });
    page = await browser.newPage();
    await page.goto(device.verification_uri_complete!); // code pre-filled, straight to confirmation
    await page.click('[data-action="confirm"]');
    const onConsent = await page.waitForSelector('input[name=password], [data-action="approve"]');
    if ((await onConsent.getAttribute('name')) === 'password') await signIn(page, 'demo@agentprov.test', 'demo');
    expect(await page.textContent('body')).toContain(`version ${TERMS}`);
    await approveConsent(page); // without ticking the terms box
    await page.waitForSelector('[role=alert]');
    await page.check('input[name=accept_terms]');
    await approveConsent(page);
    await page.waitForSelector('text=connected');
    await page.close();

    const tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
    const account = p.auth.accounts()[0];
    expect(account).toMatchObject({ email: 'demo@agentprov.test', termsVersion: TERMS });
    expect(account?.issuer).toBeUndefined();
    expect(tokens.account_id).toBe(account?.id);
    expect(await p.auth.verifyAccessToken(tokens.access_token)).toMatchObject({ accountId: account?.id, clientId });
  });
});

// ---- autoApprove ------------------------------------------------------------

describe('autoApprove (README demo)', () => {
  it('approves a device authorization for the demo user without a browser', async () => {
    const p = await startProvider({ trustedIssuers: [], allowDynamicRegistration: false, autoApprove: true });
    try {
      const config = await configFor(p.auth.issuer);
      const device = await oidc.initiateDeviceAuthorization(config, { scope: 'provision' });
      const tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
      const [account] = p.auth.accounts();
      expect(account).toMatchObject({ email: 'demo@agentprov.test', termsVersion: TERMS });
      expect(tokens.account_id).toBe(account?.id);
      expect((await p.auth.verifyAccessToken(tokens.access_token)).scopes).toEqual(['provision']);
    } finally {
      await p.stop();
    }
  });
});
