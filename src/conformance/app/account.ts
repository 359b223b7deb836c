/**
 * APP's way in, as an orchestrator with a CIMD does it: health and version
 * enforcement, the services list, CIMD registration, account requests (a
 * code for a new email; an expired request refused), the code exchange with
 * PKCE (a wrong verifier refused, a code used once), and refresh rotation.
 * Each account request uses a new throwaway email, so each gets a code.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { APP_VERSION, AppAccountAnswer, AppHealth, AppServices, AppTokenResponse, type AppService, type AppTokenResponse as Tokens } from '../../wire/app.js';
import type { Answer } from '../http.js';
import type { SuiteContext } from '../types.js';
import { errorCode, type AppClient } from './client.js';

export async function basicChecks(ctx: SuiteContext, app: AppClient): Promise<AppService[] | undefined> {
  const { report, http } = ctx;
  const h = await app.send('GET', 'provisioning/health', { version: null });
  const health = AppHealth.safeParse(h.json);
  if (!report.expect('app.health', h.status === 200 && health.success && health.data.status === 'ok' && health.data.supported_versions.includes(APP_VERSION), http.describe(h))) return undefined;

  // account_requests: a route every surface has (the partner surface may have dropped services); the version comes first.
  const none = await app.send('POST', 'provisioning/account_requests', { version: null, json: {} });
  const unknown = await app.send('POST', 'provisioning/account_requests', { version: '0.0-agentprov-check', json: {} });
  report.expect(
    'app.api_version',
    none.status === 400 && errorCode(none) === 'invalid_api_version' && unknown.status === 400 && errorCode(unknown) === 'invalid_api_version',
    `${http.describe(none, 'no API-Version')}; ${http.describe(unknown, 'API-Version: 0.0-agentprov-check')}`,
  );
  const s = await app.send('GET', 'provisioning/services');
  const services = AppServices.safeParse(s.json);
  report.expect('app.services', s.status === 200 && services.success, http.describe(s));
  return services.success ? services.data.data : [];
}

export async function accountChecks(ctx: SuiteContext, app: AppClient): Promise<Tokens | undefined> {
  const { report, http, issuer } = ctx;
  const oidc = await import('openid-client');
  const reg = await app.send('POST', 'provisioning/client_registration', { json: { client_id: issuer.cimdUrl } });
  if (!report.expect('app.cimd_registration', reg.status >= 200 && reg.status < 300, http.describe(reg, `client_id ${issuer.cimdUrl}`))) return undefined;

  const request = (expiresInS: number): Promise<Requested> => accountRequest(ctx, app, expiresInS);
  const exchange = (code: string, verifier: string): Promise<Answer> => token(ctx, app, { grant_type: 'authorization_code', code, code_verifier: verifier });

  const first = await request(900);
  const code1 = codeOf(first);
  if (!report.expect('app.account_request', code1 !== undefined, http.describe(first.a, 'a new email'))) return undefined;

  const expired = await request(-60);
  report.expect('app.account_request.expired', expired.a.status >= 400 && expired.a.status < 500 && codeOf(expired) === undefined, http.describe(expired.a, 'expires_at a minute ago'));

  const wrong = await exchange(code1!, oidc.randomPKCECodeVerifier());
  report.expect('app.token.pkce', wrong.status === 400 && errorCode(wrong) === 'invalid_grant', http.describe(wrong, 'the code with another code_verifier'));

  const second = await request(900);
  const code2 = codeOf(second);
  if (!code2) {
    report.fail('app.token.code_single_use', http.describe(second.a, 'a second account request'));
    return undefined;
  }
  const t = await exchange(code2, second.verifier);
  const tokens = AppTokenResponse.safeParse(t.json);
  if (t.status !== 200 || !tokens.success) {
    report.fail('app.token.code_single_use', http.describe(t, 'the code with its code_verifier'));
    return undefined;
  }
  const again = await exchange(code2, second.verifier);
  report.expect('app.token.code_single_use', again.status === 400 && errorCode(again) === 'invalid_grant', http.describe(again, 'tokens once; the same code again'));
  return tokens.data;
}

/** Refresh once: the new tokens; then the old refresh token and the old access token must be refused. */
export async function refreshCheck(ctx: SuiteContext, app: AppClient, old: Tokens): Promise<void> {
  const { report, http } = ctx;
  const r = await token(ctx, app, { grant_type: 'refresh_token', refresh_token: old.refresh_token });
  const fresh = AppTokenResponse.safeParse(r.json);
  if (r.status !== 200 || !fresh.success) {
    report.fail('app.refresh.rotation', http.describe(r, 'refresh'));
    return;
  }
  if (fresh.data.refresh_token === old.refresh_token) {
    report.fail('app.refresh.rotation', 'refresh → 200 with the same refresh token: it did not rotate');
    return;
  }
  const oldRefresh = await token(ctx, app, { grant_type: 'refresh_token', refresh_token: old.refresh_token });
  const oldAccess = await app.send('GET', 'provisioning/resources/agentprov-check-none', { bearer: old.access_token });
  report.expect(
    'app.refresh.rotation',
    oldRefresh.status === 400 && errorCode(oldRefresh) === 'invalid_grant' && oldAccess.status === 401,
    `${http.describe(oldRefresh, 'the old refresh token')}; ${http.describe(oldAccess, 'the old access token')}`,
  );
}

interface Requested {
  a: Answer;
  verifier: string;
  id: string;
}

/** An account request for a new throwaway email, with a fresh PKCE pair. */
async function accountRequest(ctx: SuiteContext, app: AppClient, expiresInS: number): Promise<Requested> {
  const oidc = await import('openid-client');
  const verifier = oidc.randomPKCECodeVerifier();
  const id = `agentprov-check-${randomUUID()}`;
  const a = await app.send('POST', 'provisioning/account_requests', {
    json: {
      id,
      object: 'account_request',
      email: `agentprov-check-${randomBytes(6).toString('hex')}@example.com`,
      name: 'agentprov providers check',
      scopes: [],
      client_id: ctx.issuer.cimdUrl,
      client_capabilities: ['browser'],
      expires_at: new Date(Date.now() + expiresInS * 1000).toISOString(),
      terms_accepted_at: new Date().toISOString(),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    },
  });
  const answer = AppAccountAnswer.safeParse(a.json);
  if (answer.success && answer.data.type === 'oauth') ctx.http.secret(answer.data.oauth.code);
  return { a, verifier, id };
}

function codeOf(r: Requested): string | undefined {
  const answer = AppAccountAnswer.safeParse(r.a.json);
  return r.a.status === 200 && answer.success && answer.data.type === 'oauth' && answer.data.id === r.id ? answer.data.oauth.code : undefined;
}

/** A new account and its tokens (for the resource checks, after the refresh check spent a grant). */
export async function signUp(ctx: SuiteContext, app: AppClient): Promise<Tokens> {
  const r = await accountRequest(ctx, app, 900);
  const code = codeOf(r);
  if (!code) throw new Error(`an account request was refused: ${ctx.http.describe(r.a)}`);
  const t = await token(ctx, app, { grant_type: 'authorization_code', code, code_verifier: r.verifier });
  const tokens = AppTokenResponse.safeParse(t.json);
  if (t.status !== 200 || !tokens.success) throw new Error(`a code exchange was refused: ${ctx.http.describe(t)}`);
  return tokens.data;
}

async function token(ctx: SuiteContext, app: AppClient, form: Record<string, string>): Promise<Answer> {
  const a = await app.send('POST', 'oauth/token', { form });
  const t = AppTokenResponse.safeParse(a.json);
  if (t.success) {
    ctx.http.secret(t.data.access_token);
    ctx.http.secret(t.data.refresh_token);
  }
  return a;
}
