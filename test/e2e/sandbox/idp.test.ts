/**
 * The sandbox identity provider against real counterparts: openid-client as
 * the OAuth client, headless Chromium on the real sign-in / consent / device
 * pages, jose verifying ID-JAGs against the published JWKS.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, createRemoteJWKSet, jwtVerify, SignJWT, decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OrchestratorDescriptor } from '../../../src/wire/orchestrator.js';
import { startIdp, type SandboxIdp } from '../../../src/sandbox/idp/index.js';
import { approveConsent, completeDeviceFlow, launchBrowser, signIn, type TestBrowser } from '../../helpers/browser.js';

const CLIENT_ID = 'agentprov-cli';
/** The second sandbox user, who signs in on the device pages. */
const SECOND = { email: 'second@agentprov.test', password: 'second' };
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
const ORCHESTRATOR = () => ({
  paymentRail: 'http://127.0.0.1:4100',
  providers: ['http://127.0.0.1:4200/.well-known/agent-provisioning'],
  // The providers it issues ID-JAGs for: (authorization server, resource) pairs.
  idJagTargets: [
    { audience: 'http://127.0.0.1:4300/', resource: 'http://127.0.0.1:4300/api' },
    { audience: 'http://127.0.0.1:4400/oauth', resource: 'http://127.0.0.1:4400' },
  ],
});

async function discover(issuer: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), CLIENT_ID, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

/** A one-shot loopback redirect listener, like the CLI's. */
async function loopback(): Promise<{ redirectUri: string; received: Promise<URL>; close(): void }> {
  let resolve!: (u: URL) => void;
  const received = new Promise<URL>((r) => (resolve = r));
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<h1 id="cb">done</h1>');
    resolve(new URL(req.url ?? '/', `http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  return { redirectUri, received, close: () => server.close() };
}

/** Authorization code + PKCE through the real pages. */
async function codeFlow(
  config: oidc.Configuration,
  browser: TestBrowser,
  extra: Record<string, string>,
  drive: (page: Awaited<ReturnType<TestBrowser['newPage']>>) => Promise<void>,
) {
  const cb = await loopback();
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: cb.redirectUri,
    scope: 'openid email offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  // Every step bounded and named, so a stuck browser says where it stuck.
  const page = await step('open a page', browser.newPage());
  try {
    await step('load the authorization URL', page.goto(url.href));
    await step('drive the pages', drive(page));
    const callbackUrl = await step(`receive the callback (browser at ${page.url()})`, cb.received);
    return await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
  } finally {
    await page.close(); // bounded by the test browser

    cb.close();
  }
}

function step<T>(label: string, p: Promise<T>, ms = 15_000): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`stuck: ${label} (> ${ms} ms)`)), ms).unref())]);
}

describe('sandbox identity provider', () => {
  let idp: SandboxIdp;
  let browser: TestBrowser;
  let config: oidc.Configuration;
  let firstAuthTime = 0;
  let deviceIdToken = '';

  beforeAll(async () => {
    [idp, browser] = await Promise.all([startIdp({ orchestrator: ORCHESTRATOR }), launchBrowser()]);
    config = await discover(idp.issuer);
  });
  afterAll(async () => {
    await browser?.close();
    await idp?.stop();
  });

  it('serves OIDC discovery and the orchestrator descriptor', async () => {
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(idp.issuer);
    expect(meta.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', TOKEN_EXCHANGE]),
    );
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.device_authorization_endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(meta.revocation_endpoint).toBeDefined();

    const res = await fetch(`${idp.url}/.well-known/agent-orchestrator`);
    expect(res.status).toBe(200);
    const descriptor = OrchestratorDescriptor.parse(await res.json());
    expect(descriptor).toEqual({
      issuer: idp.issuer,
      client_id: CLIENT_ID,
      payment_rail: 'http://127.0.0.1:4100',
      providers: ['http://127.0.0.1:4200/.well-known/agent-provisioning'],
      name: 'agentprov sandbox',
      // APP providers: agentprov's client metadata document and the code relay, both on the orchestrator's origin.
      app_client_id: `${idp.url}/.well-known/agentprov-client.json`,
      app_code_relay: `${idp.url}/app/relay`,
    });
  });

  it('authorization code + PKCE via the sign-in and consent pages; refresh rotates; a replayed refresh token is refused', async () => {
    const tokens = await codeFlow(config, browser, {}, async (page) => {
      await signIn(page, 'demo@agentprov.test', 'wrong-password');
      await expect(page.locator('[role=alert]').textContent()).resolves.toContain('Wrong email or password');
      await signIn(page, 'demo@agentprov.test', 'demo');
      await expect(page.locator('#scopes').textContent()).resolves.toContain('offline_access');
      await approveConsent(page);
    });
    const claims = tokens.claims();
    expect(claims?.sub).toBe('user-demo');
    expect(claims?.email).toBe('demo@agentprov.test');
    expect(typeof claims?.auth_time).toBe('number');
    expect(tokens.refresh_token).toBeTruthy();
    firstAuthTime = claims!.auth_time!;

    const who = await idp.verifyAccessToken(tokens.access_token);
    expect(who).toMatchObject({ sub: 'user-demo', email: 'demo@agentprov.test', authTime: firstAuthTime, clientId: CLIENT_ID });
    expect(who.scope.split(' ')).toEqual(expect.arrayContaining(['openid', 'email', 'offline_access']));

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect((await idp.verifyAccessToken(refreshed.access_token)).authTime).toBe(firstAuthTime);

    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // oidc-provider treats the replay as theft and revokes the whole grant.
    await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(idp.verifyAccessToken(refreshed.access_token)).rejects.toThrow();
  });

  it('prompt=login forces a fresh sign-in (new auth_time, still a refresh token); revoking the refresh token kills it', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const tokens = await codeFlow(config, browser, { prompt: 'login' }, async (page) => {
      await signIn(page, 'demo@agentprov.test', 'demo');
      await approveConsent(page);
    });
    expect(tokens.claims()!.auth_time!).toBeGreaterThan(firstAuthTime);
    expect(tokens.refresh_token).toBeTruthy();
    expect((await idp.verifyAccessToken(tokens.access_token)).authTime).toBe(tokens.claims()!.auth_time);

    await oidc.tokenRevocation(config, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(idp.verifyAccessToken(tokens.access_token)).rejects.toThrow();
  });

  it('device authorization grant approved through the device pages', async () => {
    await browser.context.clearCookies();
    const da = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email offline_access' });
    expect(da.interval).toBe(1);
    const polled = oidc.pollDeviceAuthorizationGrant(config, da);
    const page = await browser.newPage();
    await completeDeviceFlow(page, { verificationUri: da.verification_uri, userCode: da.user_code, ...SECOND, decision: 'approve' });
    await expect(page.locator('#done').textContent()).resolves.toContain('Device connected');
    await page.close();
    const tokens = await polled;
    expect(tokens.claims()?.sub).toBe('user-second');
    expect(tokens.refresh_token).toBeTruthy();
    deviceIdToken = tokens.id_token!;

    const who = await idp.verifyAccessToken(tokens.access_token);
    expect(who).toMatchObject({ sub: 'user-second', email: 'second@agentprov.test', authTime: tokens.claims()!.auth_time });
    await oidc.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
    await expect(idp.verifyAccessToken(tokens.access_token)).rejects.toThrow(/unknown, expired or revoked/);
    await expect(idp.verifyAccessToken('not-a-token')).rejects.toThrow();
    // Revoking only the access token leaves the grant alive.
    expect((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();
  });

  it('device authorization denied on the consent page ends in access_denied', async () => {
    const da = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' });
    const polled = oidc.pollDeviceAuthorizationGrant(config, da);
    polled.catch(() => undefined);
    const page = await browser.newPage();
    await completeDeviceFlow(page, { verificationUri: da.verification_uri, userCode: da.user_code, ...SECOND, decision: 'deny' });
    await page.close();
    await expect(polled).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('Deny on the consent page of the code flow ends with access_denied at the client', async () => {
    const denied = codeFlow(config, browser, {}, async (page) => {
      // Normally the session from earlier tests is still there; if not, sign in first.
      if (await page.locator('input[name=password]').count()) await signIn(page, 'demo@agentprov.test', 'demo');
      await page.click('[data-action="deny"]');
    });
    await expect(denied).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('token exchange issues an ID-JAG signed with a key from the JWKS; forged subjects are refused', async () => {
    const audience = 'http://127.0.0.1:4300/';
    const response = await oidc.genericGrantRequest(config, TOKEN_EXCHANGE, {
      subject_token: deviceIdToken,
      subject_token_type: ID_TOKEN_TYPE,
      requested_token_type: ID_JAG_TYPE,
      audience,
      scope: 'registrar:domain kv:namespace',
      resource: 'http://127.0.0.1:4300/api',
    });
    expect(response.issued_token_type).toBe(ID_JAG_TYPE);
    expect(response.token_type).toBe('n_a'); // openid-client lower-cases N_A
    expect(response.expires_in).toBe(300);

    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload, protectedHeader } = await jwtVerify(response.access_token, jwks, {
      issuer: idp.issuer,
      audience,
      typ: 'oauth-id-jag+jwt',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({
      sub: 'user-second',
      client_id: CLIENT_ID,
      email: 'second@agentprov.test',
      scope: 'registrar:domain kv:namespace',
      resource: 'http://127.0.0.1:4300/api',
      auth_time: decodeJwt(deviceIdToken).auth_time,
    });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(typeof payload.jti).toBe('string');

    const exchange = (params: Record<string, string>) =>
      oidc.genericGrantRequest(config, TOKEN_EXCHANGE, {
        subject_token: deviceIdToken,
        subject_token_type: ID_TOKEN_TYPE,
        requested_token_type: ID_JAG_TYPE,
        audience,
        resource: 'http://127.0.0.1:4300/api',
        ...params,
      });
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ ...decodeJwt(deviceIdToken) })
      .setProtectedHeader({ alg: 'RS256', kid: decodeJwt(deviceIdToken).sub as string })
      .sign(privateKey);
    await expect(exchange({ subject_token: forged })).rejects.toMatchObject({ error: 'invalid_request' });
    await expect(exchange({ subject_token: response.access_token })).rejects.toMatchObject({ error: 'invalid_request' });
    await expect(exchange({ subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' })).rejects.toMatchObject({
      error: 'invalid_request',
    });
    await expect(exchange({ requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' })).rejects.toMatchObject({
      error: 'invalid_request',
    });
    await expect(exchange({ audience: 'not a url' })).rejects.toMatchObject({ error: 'invalid_target' });
    // Audience binding: only known providers, and only each one's own (authorization server, resource) pair.
    await expect(exchange({ audience: 'http://127.0.0.1:4999/oauth' })).rejects.toMatchObject({ error: 'invalid_target' });
    await expect(exchange({ resource: 'http://127.0.0.1:4400' })).rejects.toMatchObject({ error: 'invalid_target' }); // the mix-up
    await expect(exchange({ audience: 'http://127.0.0.1:4400/oauth', resource: 'http://127.0.0.1:4300/api' })).rejects.toMatchObject({ error: 'invalid_target' });
    const noResource = oidc.genericGrantRequest(config, TOKEN_EXCHANGE, { subject_token: deviceIdToken, subject_token_type: ID_TOKEN_TYPE, requested_token_type: ID_JAG_TYPE, audience });
    await expect(noResource).rejects.toMatchObject({ error: 'invalid_request' });
    const other = await exchange({ audience: 'http://127.0.0.1:4400/oauth', resource: 'http://127.0.0.1:4400/' });
    expect(decodeJwt(other.access_token)).toMatchObject({ aud: 'http://127.0.0.1:4400/oauth', resource: 'http://127.0.0.1:4400/' });
  });

  it('answers malformed interaction input with 400 JSON naming the field', async () => {
    const res = await fetch(`${idp.url}/interaction/nope/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=a',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request', field: 'interaction' });
  });
});

describe('sandbox identity provider with autoApprove and a data dir', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'agentprov-idp-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('approves device codes without a browser, and a restart keeps refresh tokens valid', async () => {
    const stderr = vi.spyOn(process.stderr, 'write');
    let idp = await startIdp({ dataDir, autoApprove: true, orchestrator: ORCHESTRATOR });
    expect(stderr.mock.calls.map((c) => String(c[0]))).toContain('[sandbox] auto-approve is ON (demo only)\n');
    stderr.mockRestore();
    const port = Number(new URL(idp.url).port);
    let config = await discover(idp.issuer);
    const da = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email offline_access' });
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, da);
    expect(tokens.claims()?.sub).toBe('user-demo');
    expect(typeof tokens.claims()?.auth_time).toBe('number');
    expect(tokens.refresh_token).toBeTruthy();
    const { authTime } = await idp.verifyAccessToken(tokens.access_token);

    // Code flow: the human still signs in on the real page, consent is granted without a click.
    const browser = await launchBrowser();
    try {
      const codeTokens = await codeFlow(config, browser, {}, (page) => signIn(page, 'demo@agentprov.test', 'demo'));
      expect(codeTokens.claims()?.sub).toBe('user-demo');
      expect(codeTokens.refresh_token).toBeTruthy();
    } finally {
      await browser.close();
    }
    await idp.stop();

    idp = await startIdp({ dataDir, port, orchestrator: ORCHESTRATOR });
    try {
      config = await discover(idp.issuer);
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.claims()?.sub).toBe('user-demo');
      expect(await idp.verifyAccessToken(refreshed.access_token)).toMatchObject({ sub: 'user-demo', authTime });
    } finally {
      await idp.stop();
    }
  });
});
