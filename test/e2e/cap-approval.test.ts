/**
 * Issue 15: a spending cap is raised only by a human who approved that raise.
 *
 * - The real sandbox (identity provider on oidc-provider, rail) with
 *   openid-client and headless Chromium: the approval page, real approval
 *   tokens misused at the rail and the ledger.
 * - The bundled CLI as an agent (real Secret Service): exit 3 right after
 *   init, approval and denial in Chromium, `--complete`, the audit log.
 *
 * The rail's and the ledger's checks against approval tokens this test signs
 * with its own key are in test/integration/sandbox/cap-approval.test.ts and
 * test/unit/payment/cap-approval.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet } from 'jose';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as budget } from '../../src/cli/commands/budget.js';
import { createDeps } from '../../src/cli/deps.js';
import { bufferIO } from '../helpers/io.js';
import { openLedger } from '../../src/payment/ledger.js';
import { CAP_APPROVAL_REQUEST_SCOPE, detailFor, LEDGER_RESOURCE, PendingCapChange, SPENDING_CAP_TYPE, verifyCapApproval } from '../../src/wire/cap-approval.js';
import { CapResponse, RailErrorBody } from '../../src/wire/rail.js';
import { completeDeviceFlow, enterDeviceCode, launchBrowser, signIn, type TestBrowser } from '../helpers/browser.js';
import { expectNoSecretLeaks, vaultSecrets } from '../helpers/canary.js';
import { isolatedEnv, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { rejection } from '../helpers/errors.js';
import { requireSecretService } from '../helpers/keyring.js';
import { DEMO_USER, useSandbox } from '../helpers/sandbox.js';

const CLIENT_ID = 'agentprov-cli';

const errorOf = (json: unknown) => RailErrorBody.parse(json).error;

describe('approval at the sandbox identity provider: its page, its tokens, misused at the rail and the ledger', () => {
  const sb = useSandbox();
  let browser: TestBrowser;
  let config: oidc.Configuration;
  let demoToken = '';

  beforeAll(async () => {
    browser = await launchBrowser();
    config = await oidc.discovery(new URL(sb.current.issuer), CLIENT_ID, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const da = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email offline_access payments' });
    const polled = oidc.pollDeviceAuthorizationGrant(config, da);
    const page = await browser.newPage();
    await completeDeviceFlow(page, { verificationUri: da.verification_uri, userCode: da.user_code, ...DEMO_USER, decision: 'approve' });
    await page.close();
    demoToken = (await polled).access_token;
  });
  afterAll(async () => {
    await browser?.close();
  });

  const putCap = async (target: string, body: Record<string, unknown>) => {
    const res = await fetch(`${sb.current.paymentRail}/v1/caps/${target}`, { method: 'PUT', headers: { authorization: `Bearer ${demoToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as unknown };
  };
  /** The human's side in Chromium (the browser still holds the demo user's session from the sign-in above). */
  const approveIn = async (da: oidc.DeviceAuthorizationResponse, decision: 'approve' | 'deny', user = DEMO_USER): Promise<{ signInShown: boolean; texts: string[] }> => {
    const page = await browser.newPage();
    try {
      await enterDeviceCode(page, da.verification_uri, da.user_code);
      // A new sign-in on the approval page, whatever session the browser has.
      const signInShown = (await page.waitForSelector('input[name=password]', { timeout: 10_000 }).catch(() => null)) !== null;
      const texts = [await page.locator('#cap-changes').innerText()];
      await signIn(page, user.email, user.password);
      await page.waitForSelector('[data-action="approve"]');
      texts.push(await page.locator('#cap-changes').innerText());
      const decided = page.waitForURL((url) => !url.pathname.includes('/interaction/'));
      await page.click(`[data-action="${decision}"]`);
      await decided;
      return { signInShown, texts };
    } finally {
      await page.close();
    }
  };
  const request = (change: PendingCapChange) =>
    oidc.initiateDeviceAuthorization(config, { scope: CAP_APPROVAL_REQUEST_SCOPE, resource: change.resource, authorization_details: JSON.stringify([detailFor(change)]) });

  it('the approval page says what changes, demands a sign-in, and yields a short-lived JWT for exactly that change; misused, it is refused', async () => {
    const asked = await putCap('localcloud', { amount: 20_000 });
    const change = PendingCapChange.parse(errorOf(asked.json).details);
    const da = await request(change);
    const polled = oidc.pollDeviceAuthorizationGrant(config, da);
    const seen = await approveIn(da, 'approve');
    expect(seen.signInShown).toBe(true);
    for (const t of seen.texts) expect(t).toContain('Raise the cap of localcloud from 100.00 USD to 200.00 USD a month');
    const tokens = await polled;
    expect(tokens.authorization_details).toEqual([detailFor(change)]);
    const claims = await verifyCapApproval(tokens.access_token, {
      issuer: sb.current.issuer, audience: sb.current.paymentRail, keys: createRemoteJWKSet(new URL(`${sb.current.issuer}/jwks`)), now: new Date(),
    });
    expect(claims).toMatchObject({ sub: 'user-demo', clientId: CLIENT_ID, detail: detailFor(change) });
    expect(claims.exp - claims.iat).toBe(120);
    // Not a session: the rail refuses it as a Bearer token.
    const asBearer = await fetch(`${sb.current.paymentRail}/v1/spend`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(asBearer.status).toBe(401);

    expect((await putCap('global', { amount: 5000 })).status).toBe(200); // from no limit: a lowering
    for (const [target, amount] of [['localcloud', 10_000_000], ['othercloud', 20_000], ['global', 20_000]] as const) {
      const misused = await putCap(target, { amount, approval: tokens.access_token });
      expect([misused.status, errorOf(misused.json).code, errorOf(misused.json).details.reason]).toEqual([403, 'CAP_APPROVAL_INVALID', 'mismatch']);
    }
    const applied = await putCap('localcloud', { amount: 20_000, approval: tokens.access_token });
    expect(CapResponse.parse(applied.json)).toMatchObject({ cap: 20_000, previous_cap: 10_000 });
    await putCap('localcloud', { amount: 10_000 });
    const replay = await putCap('localcloud', { amount: 20_000, approval: tokens.access_token });
    expect([replay.status, errorOf(replay.json).code]).toEqual([409, 'CAP_APPROVAL_USED']);
    expect(sb.current.rail.ledger().caps['user-demo']?.providers.localcloud).toBe(10_000);
  }, 90_000);

  it('denied on the page: access_denied, no token, the pending change stays unapplied', async () => {
    const change = PendingCapChange.parse(errorOf((await putCap('othercloud', { amount: 30_000 })).json).details);
    const da = await request(change);
    const polled = oidc.pollDeviceAuthorizationGrant(config, da);
    polled.catch(() => undefined);
    await approveIn(da, 'deny');
    await expect(polled).rejects.toMatchObject({ error: 'access_denied' });
    expect(sb.current.rail.ledger().cap_changes.find((c) => c.id === change.change_id)).toMatchObject({ status: 'pending' });
  }, 60_000);

  it('the identity provider refuses malformed or misplaced spending_cap details, and resources other than the rail and the ledger', async () => {
    const change = PendingCapChange.parse(errorOf((await putCap('localcloud', { amount: 40_000 })).json).details);
    const bad = (params: Record<string, string>) => oidc.initiateDeviceAuthorization(config, { scope: CAP_APPROVAL_REQUEST_SCOPE, ...params });
    await expect(bad({ resource: change.resource, authorization_details: JSON.stringify([{ ...detailFor(change), amount: -1 }]) })).rejects.toMatchObject({ error: 'invalid_authorization_details' });
    await expect(bad({ resource: LEDGER_RESOURCE, authorization_details: JSON.stringify([detailFor(change)]) })).rejects.toMatchObject({ error: 'invalid_authorization_details' });
    await expect(bad({ resource: change.resource, authorization_details: JSON.stringify([detailFor(change), detailFor(change)]) })).rejects.toMatchObject({ error: 'invalid_authorization_details' });
    await expect(bad({ resource: 'http://127.0.0.1:9/', authorization_details: JSON.stringify([{ ...detailFor(change), locations: ['http://127.0.0.1:9/'] }]) })).rejects.toMatchObject({ error: 'invalid_target' });
    expect(SPENDING_CAP_TYPE).toBe('spending_cap');
  });

  it("a real ledger approval raises agentprov's ledger once, to its amount, for its provider only", async () => {
    const home = tempDir();
    const ledger = openLedger({ paths: { state: join(home, 'state'), config: join(home, 'config'), cache: join(home, 'cache') }, clock: { now: () => new Date() } });
    const subject = async () => 'user-demo';
    const change = PendingCapChange.parse((await rejection(ledger.setCap('cloudflare', 30_000, { subject }))).details);
    const da = await request(change);
    const polled = oidc.pollDeviceAuthorizationGrant(config, da);
    const seen = await approveIn(da, 'approve');
    expect(seen.texts[1]).toContain('Raise the cap of cloudflare from 100.00 USD to 300.00 USD a month');
    const token = (await polled).access_token;
    const keys = createRemoteJWKSet(new URL(`${sb.current.issuer}/jwks`));
    const verify = (t: string) => verifyCapApproval(t, { issuer: sb.current.issuer, audience: LEDGER_RESOURCE, keys, now: new Date() });
    // At the rail, a ledger approval is for another audience.
    const atRail = await putCap('localcloud', { amount: 30_000, approval: token });
    expect(errorOf(atRail.json)).toMatchObject({ code: 'CAP_APPROVAL_INVALID', details: { reason: 'invalid' } });
    expect((await rejection(ledger.setCap('cloudflare', 10_000_000, { subject, approval: { token, verify } }))).details.reason).toBe('mismatch');
    expect((await rejection(ledger.setCap('othercloud', 30_000, { subject, approval: { token, verify } }))).details.reason).toBe('mismatch');
    expect(await ledger.setCap('cloudflare', 30_000, { subject, approval: { token, verify } })).toMatchObject({ cap: 30_000, previous_cap: 10_000 });
    await ledger.setCap('cloudflare', 1000, { subject });
    expect((await rejection(ledger.setCap('cloudflare', 30_000, { subject, approval: { token, verify } }))).details.reason).toBe('replayed');
  }, 90_000);
});

describe.runIf(requireSecretService())('budget set by an agent: exit 3 until the human approves that raise', () => {
  const sb = useSandbox();
  let browser: TestBrowser;
  const outputs: CliResult[] = [];
  let home = '';
  let env: NodeJS.ProcessEnv = {};
  const cli = async (args: string[]) => {
    const r = await runCli(args, { env, timeoutMs: 90_000 });
    outputs.push(r);
    return r;
  };
  const railCap = (provider: string) => sb.current.rail.ledger().caps['user-demo']?.providers[provider] ?? 10_000;
  const humanOnPage = async (details: { verification_uri: string; user_code: string }, decision: 'approve' | 'deny'): Promise<string> => {
    const page: Page = await browser.newPage();
    try {
      await enterDeviceCode(page, details.verification_uri, details.user_code);
      await page.waitForSelector('input[name=password]'); // even with the session from init in this browser
      await signIn(page, DEMO_USER.email, DEMO_USER.password);
      await page.waitForSelector('[data-action="approve"]');
      const text = await page.locator('#cap-changes').innerText();
      const decided = page.waitForURL((url) => !url.pathname.includes('/interaction/'));
      await page.click(`[data-action="${decision}"]`);
      await decided;
      return text;
    } finally {
      await page.close();
    }
  };

  beforeAll(async () => {
    browser = await launchBrowser();
    home = tempDir();
    env = isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('right after a fresh init, `budget set localcloud 100000 --json --no-input` exits 3 CAP_RAISE_APPROVAL_REQUIRED; the cap is unchanged', async () => {
    const init = await cli(['init', '--orchestrator', sb.current.orchestrator, '--json']);
    expect(init.code, init.stdout + init.stderr).toBe(3);
    const page = await browser.newPage();
    await completeDeviceFlow(page, { verificationUri: init.json().error.details.verification_uri, userCode: init.json().error.details.user_code, ...DEMO_USER, decision: 'approve' });
    await page.close();
    expect((await cli(['login', '--complete', '--wait', '10', '--json'])).code).toBe(0);

    const r = await cli(['budget', 'set', 'localcloud', '100000', '--json', '--no-input']);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const e = r.json();
    expect(e.error.code).toBe('CAP_RAISE_APPROVAL_REQUIRED');
    expect(e.error.details).toMatchObject({
      verification_uri: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//),
      user_code: expect.any(String),
      expires_at: expect.any(String),
      provider: 'localcloud',
      previous_cap: 10_000,
      new_cap: 10_000_000,
      currency: 'USD',
      billed_by: 'rail',
    });
    expect(e.next_steps).toEqual(['agentprov budget set localcloud 100000 --complete --wait 120']);
    expect(railCap('localcloud')).toBe(10_000);
    // A session alone never raises: asking again is another pending change, the cap still 100.00.
    expect((await cli(['budget', 'set', 'localcloud', '100000', '--json'])).code).toBe(3);
    const early = await cli(['budget', 'set', 'localcloud', '100000', '--complete', '--json']);
    expect([early.code, early.json().error.code]).toEqual([3, 'CAP_RAISE_APPROVAL_REQUIRED']);
    expect(railCap('localcloud')).toBe(10_000);
  }, 120_000);

  it('the human approves 250.00 in Chromium; --complete applies exactly it; another amount cannot use it; the audit log says who approved what, when', async () => {
    const r = await cli(['budget', 'set', 'localcloud', '250.00', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const text = await humanOnPage(r.json().error.details, 'approve');
    expect(text).toContain('Raise the cap of localcloud from 100.00 USD to 250.00 USD a month');

    const other = await cli(['budget', 'set', 'localcloud', '100000', '--complete', '--json']);
    expect([other.code, other.json().error.code]).toEqual([2, 'NO_PENDING_AUTHORIZATION']);
    expect(other.json().next_steps[0]).toBe('agentprov budget set localcloud 250.00 --complete');
    expect(railCap('localcloud')).toBe(10_000);

    const done = await cli(['budget', 'set', 'localcloud', '250.00', '--complete', '--wait', '15', '--json']);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.json().data).toMatchObject({ scope: 'provider', provider: 'localcloud', cap: 25_000, previous_cap: 10_000, billed_by: 'rail', change: { approved_by: 'user-demo' } });
    expect(railCap('localcloud')).toBe(25_000);
    const again = await cli(['budget', 'set', 'localcloud', '250.00', '--complete', '--json']);
    expect([again.code, again.json().error.code]).toEqual([2, 'NO_PENDING_AUTHORIZATION']);

    const audit = readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { decision: string; details?: Record<string, unknown> });
    const approved = audit.find((a) => a.decision === 'cap_raise_approved');
    expect(approved?.details).toMatchObject({ target: 'localcloud', previous_cap: 10_000, new_cap: 25_000, approved_by: 'user-demo', approved_at: expect.any(String), authenticated_at: expect.any(String) });
    const decisions = audit.map((a) => a.decision);
    expect(decisions).toEqual(expect.arrayContaining(['cap_raise_requested', 'cap_raise_approved', 'cap_changed']));
    expect(decisions.indexOf('cap_raise_approved')).toBeLessThan(decisions.lastIndexOf('cap_changed'));
  }, 120_000);

  it('denied in Chromium: --complete exits 3 AUTHORIZATION_DENIED and the cap is unchanged', async () => {
    const r = await cli(['budget', 'set', '--global', '500.00', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0); // no global cap yet: 500.00 is a lowering
    const raise = await cli(['budget', 'set', '--global', '900.00', '--json']);
    expect([raise.code, raise.json().error.details.provider, raise.json().error.details.previous_cap]).toEqual([3, 'global', 50_000]);
    expect(await humanOnPage(raise.json().error.details, 'deny')).toContain('Raise the global cap from 500.00 USD to 900.00 USD a month');
    const denied = await cli(['budget', 'set', '--global', '900.00', '--complete', '--wait', '15', '--json']);
    expect(denied.code, denied.stdout + denied.stderr).toBe(3);
    expect(denied.json().error.code).toBe('AUTHORIZATION_DENIED');
    expect(denied.json().error.message).toContain('the cap is unchanged');
    expect(sb.current.rail.ledger().caps['user-demo']?.global).toBe(50_000);
    expect(readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')).toContain('"cap_raise_denied"');
  }, 120_000);

  it('on a terminal: budget set shows the change and the code, opens the browser, and waits until the human approved; then the cap is raised', async () => {
    const io = bufferIO({ stdinIsTTY: true });
    Object.assign(io, { stderrIsTTY: true });
    const deps = createDeps({ json: false, input: true, verbose: false }, { ...env, AGENTPROV_NO_BROWSER: undefined, CI: undefined }, io, []);
    expect(deps.canPrompt()).toBe(true);
    let human: Promise<string> | undefined;
    deps.browser = {
      available: async () => true,
      open: async (url) => {
        const u = new URL(url);
        const code = u.searchParams.get('user_code') ?? '';
        u.search = '';
        human = humanOnPage({ verification_uri: u.href, user_code: code }, 'approve');
        return true;
      },
    };
    const r = await budget(deps, ['set', 'othercloud', '150.00'], {});
    expect(human).toBeDefined();
    expect(await human).toContain('Raise the cap of othercloud from 100.00 USD to 150.00 USD a month');
    expect(r.data).toMatchObject({ provider: 'othercloud', cap: 15_000, previous_cap: 10_000, billed_by: 'rail' });
    expect(railCap('othercloud')).toBe(15_000);
    expect(io.text()).toMatch(/Raising the cap of othercloud from 100\.00 USD to 150\.00 USD a month needs your approval: open http:\/\/127\.0\.0\.1:\d+\/\S+ and enter the code \S+/);
  }, 120_000);

  it("the ledger's raise (cloudflare) takes the same approval, verified against the identity provider's keys; no secret anywhere", async () => {
    const r = await cli(['budget', 'set', 'cloudflare', '300.00', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.json().error.details).toMatchObject({ provider: 'cloudflare', previous_cap: 10_000, new_cap: 30_000, billed_by: 'provider' });
    expect(await humanOnPage(r.json().error.details, 'approve')).toContain('Raise the cap of cloudflare from 100.00 USD to 300.00 USD a month');
    const done = await cli(['budget', 'set', 'cloudflare', '300.00', '--complete', '--wait', '15', '--json']);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.json().data).toMatchObject({ provider: 'cloudflare', cap: 30_000, previous_cap: 10_000, billed_by: 'provider' });
    const ledger = JSON.parse(readFileSync(join(home, 'state', 'ledger.json'), 'utf8'));
    expect(ledger.caps.cloudflare).toBe(30_000);
    expect(Object.values(ledger.cap_changes)).toEqual(expect.arrayContaining([expect.objectContaining({ status: 'applied', approved_by: 'user-demo' })]));

    expectNoSecretLeaks(await vaultSecrets(env, home), outputs, [join(home, 'state'), join(home, 'config'), join(home, 'cache')]);
  }, 120_000);
});
