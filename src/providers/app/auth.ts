/**
 * Authorization at an APP provider (docs/protocol.md §APP.3): register
 * agentprov's CIMD once, send an account request for the signed-in human's
 * email with a fresh PKCE pair, then either exchange the code at once (a new
 * account) or hand the human the provider's consent URL (an existing one)
 * and pick the code up later from the orchestrator's relay
 * (`add … --complete`). Tokens rotate: every refresh runs under the
 * per-provider lock with a re-read first, so a rotated refresh token is
 * never presented twice.
 */
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { AgentprovError } from '../../core/errors.js';
import { readSession, sessionClaims } from '../../auth/store.js';
import { isLoopbackHost } from '../../util/loopback.js';
import { AppAccountAnswer, AppRelayAnswer, AppTokenResponse, cimdUrlProblem } from '../../wire/app.js';
import type { Authorization, AuthorizeOptions } from '../provider.js';
import { clean } from './errors.js';
import { appRequest } from './http.js';
import { AppGrant, AppPending, clientEntry, grantEntry, pendingEntry, readEntry } from './store.js';
import type { AppContext } from './context.js';
import * as z from 'zod';

const REFRESH_MARGIN_S = 60;
const CONSENT_TTL_S = 15 * 60;

export async function authorize(c: AppContext, opts: AuthorizeOptions): Promise<Authorization> {
  const vault = await c.deps.vault();
  const grant = await readEntry(vault, grantEntry(c.id), AppGrant);
  if (grant) return { accountId: grant.account_id, accountCreated: false, via: 'stored_grant' };
  const pending = await readEntry(vault, pendingEntry(c.id), AppPending);
  if (pending && pending.expires_at > c.now()) return completeConsent(c, pending, opts);
  if (!opts.acceptTerms) {
    throw new AgentprovError('TERMS_ACCEPTANCE_REQUIRED', `${c.id} creates or links an account for you only after you accept its terms of service`, {
      details: { provider: c.id, terms_url: c.base },
      nextSteps: [`agentprov add ${c.id}/<service> --accept-tos`],
    });
  }
  const client = await c.clientId();
  if (opts.preflight) return { accountId: '', accountCreated: false, via: 'consent' };
  await register(c, client.clientId);

  const session = await readSession(vault);
  const claims = session ? sessionClaims(session) : undefined;
  if (!claims?.email) throw new AgentprovError('NOT_SIGNED_IN', `${c.id} needs your email address, and the session holds none`, { nextSteps: ['agentprov login'] });
  const verifier = oidc.randomPKCECodeVerifier();
  // The add's journal key when there is one: a re-run after a crash presents the same account request.
  const requestId = opts.requestKey ?? randomUUID();
  const challenge = await oidc.calculatePKCECodeChallenge(verifier);
  const answer = await c.fetch((f) =>
    appRequest(f, {
      provider: c.id,
      base: c.base,
      step: 'account_requests',
      method: 'POST',
      path: 'provisioning/account_requests',
      json: {
        id: requestId,
        object: 'account_request',
        email: claims.email,
        ...(claims.name ? { name: claims.name } : {}),
        scopes: [],
        client_capabilities: ['browser'],
        client_id: client.clientId,
        expires_at: new Date((c.now() + CONSENT_TTL_S) * 1000).toISOString(),
        terms_accepted_at: new Date(c.now() * 1000).toISOString(),
        code_challenge: challenge,
        code_challenge_method: 'S256',
      },
      schema: AppAccountAnswer,
    }),
  );
  const a = answer.body;
  if (a.id !== requestId) throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `provider ${c.id} (account_requests): answer names another id`, { details: { provider: c.id, field: 'id' } });
  if (a.type === 'oauth') {
    c.deps.io.redactor.add(a.oauth.code);
    const accountId = await exchange(c, client.clientId, { grant_type: 'authorization_code', code: a.oauth.code, code_verifier: verifier });
    return { accountId, accountCreated: true, via: 'consent', termsVersion: 'app' };
  }
  const url = consentUrl(c, a.requires_auth.url);
  const next: AppPending = { v: 1, request_id: requestId, code_verifier: verifier, url, client_id: client.clientId, ...(client.relay ? { relay: client.relay } : {}), expires_at: c.now() + CONSENT_TTL_S };
  await vault.set(pendingEntry(c.id), next);
  return completeConsent(c, next, { ...opts, completeWaitSeconds: opts.interactive ? 300 : 0 });
}

/** requires_auth.url: https (http only on loopback), and nothing that could smuggle text into a terminal. */
function consentUrl(c: AppContext, raw: string): string {
  const u = new URL(raw);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname))) {
    throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `provider ${c.id} (account_requests): requires_auth.url must be https`, { details: { provider: c.id, field: 'requires_auth.url' } });
  }
  if (clean(u.href, 2048) !== u.href) throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `provider ${c.id}: requires_auth.url contains control characters`, { details: { provider: c.id, field: 'requires_auth.url' } });
  return u.href;
}

/** The consent under way: the code from the orchestrator's relay (polled up to the wait), else exit 3 with the URL. */
async function completeConsent(c: AppContext, p: AppPending, opts: AuthorizeOptions): Promise<Authorization> {
  const deadline = Date.now() + Math.min(opts.completeWaitSeconds ?? 0, 600) * 1000;
  if (opts.interactive) await c.deps.browser.open(p.url).catch(() => false);
  if (p.relay && !opts.preflight) {
    for (;;) {
      const r = await relay(c, p);
      if (r.status === 'ready') {
        c.deps.io.redactor.add(r.code);
        const accountId = await exchange(c, p.client_id, { grant_type: 'authorization_code', code: r.code, code_verifier: p.code_verifier });
        return { accountId, accountCreated: false, via: 'consent' };
      }
      if (r.status === 'denied') {
        await (await c.deps.vault()).delete(pendingEntry(c.id));
        throw new AgentprovError('AUTHORIZATION_DENIED', `the consent at ${c.id} was not given (${clean(r.error, 100)})`, { details: { provider: c.id }, nextSteps: [`agentprov add ${c.id}/<service>`] });
      }
      if (Date.now() >= deadline) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
  throw new AgentprovError('CONSENT_REQUIRED', `you already have an account at ${c.id}: approve agentprov's access at ${p.url}`, {
    details: { provider: c.id, url: p.url, expires_at: new Date(p.expires_at * 1000).toISOString(), ...(p.relay ? {} : { relay: 'none' }) },
    nextSteps: ['agentprov add <provider>/<service> --complete'],
  });
}

async function relay(c: AppContext, p: AppPending): Promise<z.infer<typeof AppRelayAnswer>> {
  const url = new URL(p.relay!);
  url.searchParams.set('state', p.request_id);
  const { body } = await c.fetch((f) => appRequest(f, { provider: c.id, base: url.href, step: 'code relay', method: 'GET', path: url.href, schema: AppRelayAnswer }));
  return body;
}

/** POST provisioning/client_registration once per provider (remembered in the vault). */
async function register(c: AppContext, clientId: string): Promise<void> {
  const vault = await c.deps.vault();
  if ((await vault.get(clientEntry(c.id))) === clientId) return;
  await c.fetch((f) => appRequest(f, { provider: c.id, base: c.base, step: 'client_registration', method: 'POST', path: 'provisioning/client_registration', json: { client_id: clientId }, schema: z.looseObject({}) }));
  await vault.set(clientEntry(c.id), clientId);
}

/** The token endpoint; the new grant replaces any pending consent. Returns the account id. */
async function exchange(c: AppContext, clientId: string, form: Record<string, string>): Promise<string> {
  const { body } = await c.fetch((f) => appRequest(f, { provider: c.id, base: c.base, step: 'oauth/token', method: 'POST', path: 'oauth/token', form: { ...form, client_id: clientId }, schema: AppTokenResponse }));
  const grant = toGrant(c, clientId, body, body.account?.id ?? 'unknown');
  const vault = await c.deps.vault();
  await c.locked(() =>
    vault.update((entries) => {
      entries[grantEntry(c.id)] = grant;
      delete entries[pendingEntry(c.id)];
    }),
  );
  return grant.account_id;
}

function toGrant(c: AppContext, clientId: string, t: z.infer<typeof AppTokenResponse>, accountId: string): AppGrant {
  c.deps.io.redactor.add(t.access_token);
  c.deps.io.redactor.add(t.refresh_token);
  return { v: 1, client_id: clientId, account_id: clean(accountId, 255), refresh_token: t.refresh_token, access_token: t.access_token, access_token_expires_at: c.now() + t.expires_in };
}

/** A live access token: lock → re-read → refresh only if still needed (or `force`d and unchanged) → write. */
export async function accessToken(c: AppContext, force = false): Promise<string> {
  const vault = await c.deps.vault();
  const seen = await readEntry(vault, grantEntry(c.id), AppGrant);
  if (!seen) throw notAuthorized(c.id);
  const fresh = (g: AppGrant): boolean => g.access_token_expires_at - c.now() >= REFRESH_MARGIN_S;
  if (!force && fresh(seen)) return remember(c, seen).access_token;
  return c.locked(async () => {
    const current = await readEntry(vault, grantEntry(c.id), AppGrant);
    if (!current) throw notAuthorized(c.id);
    if (current.access_token !== seen.access_token && fresh(current)) return remember(c, current).access_token;
    if (!force && fresh(current)) return remember(c, current).access_token;
    let body;
    try {
      ({ body } = await c.fetch((f) => appRequest(f, { provider: c.id, base: c.base, step: 'refresh', method: 'POST', path: 'oauth/token', form: { grant_type: 'refresh_token', refresh_token: current.refresh_token, client_id: current.client_id }, schema: AppTokenResponse })));
    } catch (err) {
      if (err instanceof AgentprovError && err.code === 'PROVIDER_NOT_AUTHORIZED') await vault.delete(grantEntry(c.id));
      throw err;
    }
    const next = toGrant(c, current.client_id, body, current.account_id);
    await vault.set(grantEntry(c.id), next);
    return next.access_token;
  });
}

function remember(c: AppContext, g: AppGrant): AppGrant {
  c.deps.io.redactor.add(g.access_token);
  c.deps.io.redactor.add(g.refresh_token);
  return g;
}

export function notAuthorized(id: string): AgentprovError {
  return new AgentprovError('PROVIDER_NOT_AUTHORIZED', `agentprov holds no usable grant at ${id}`, { details: { provider: id }, nextSteps: [`agentprov add ${id}/<service>`] });
}

/** Where a CIMD URL may live (https, or http on loopback). */
export function checkClientId(provider: string, url: string, field: string): string {
  const problem = cimdUrlProblem(url, isLoopbackHost);
  if (problem) throw new AgentprovError('USAGE', `the client id ${clean(url, 200)} for ${provider} ${problem}`, { details: { provider, field } });
  return url;
}
