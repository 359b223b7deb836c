/**
 * The OAuth half of the Cloudflare double (test/helpers/cloudflare-double.ts):
 * Cloudflare's authorization server for self-managed clients as its
 * documentation describes it (developers.cloudflare.com/fundamentals/oauth/):
 *
 *   GET  /oauth2/auth    the consent page, a real HTML form (Approve / Deny)
 *   POST /oauth2/auth    the decision: 302 to the loopback redirect with
 *                        `code` and `state`, or `error=access_denied`
 *   POST /oauth2/token   authorization_code (PKCE S256 verified, public
 *                        clients with token_endpoint_auth_method none) and
 *                        refresh_token (rotated; a spent one revokes the grant)
 *   POST /oauth2/revoke  RFC 7009; a refresh token ends its grant and every
 *                        access token issued from it
 *
 * Where the documentation is silent the double follows the RFCs: loopback
 * redirect URIs match whatever the port (RFC 8252 §7.3), a refresh token needs
 * `offline_access`, scope names are the permission names as
 * `oauthScopeOf` spells them. An access token is a bearer token of the v4 API
 * with the permission groups of its scopes (user groups on the user, account
 * groups on every account), so every API route checks it as it checks a token.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';

export interface OAuthClientSpec {
  client_id: string;
  /** Registered redirect URIs; a loopback one matches any port. */
  redirect_uris: string[];
  /** The scopes the client was created with. */
  scopes: string[];
  visibility?: 'private' | 'public';
}

export interface OAuthGrantRecord {
  id: string;
  client_id: string;
  scope: string[];
  revoked: boolean;
  refresh_tokens_issued: number;
  access_token_ids: string[];
}

export interface OAuthEvent {
  type: 'authorize' | 'consent' | 'code_exchanged' | 'refreshed' | 'refresh_reused' | 'revoked' | 'token_error';
  client_id: string;
  grant_id?: string;
  detail?: string;
}

export interface OAuthHooks {
  now(): number;
  /** Every permission-group name the double knows, and which are user-level. */
  groups: readonly string[];
  isUserGroup(name: string): boolean;
  scopeOf(group: string): string;
  /** A bearer token for the v4 API with these groups, expiring at `expiresOn`. */
  mint(grantId: string, groups: string[], expiresOn: string): { id: string; value: string };
  /** The token with this id stops working. */
  kill(id: string): void;
}

export interface OAuthDouble {
  clients: Map<string, OAuthClientSpec>;
  grants: OAuthGrantRecord[];
  events: OAuthEvent[];
  accessTokenTtlSeconds: number;
  /** Answers a request on /oauth2/*; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): boolean;
}

const b64url = (b: Buffer): string => b.toString('base64url');
const rand = (n = 32): string => b64url(randomBytes(n));
const sha256 = (s: string): string => b64url(createHash('sha256').update(s).digest());

const AuthorizeQuery = z.object({
  response_type: z.literal('code'),
  client_id: z.string().min(1).max(255),
  redirect_uri: z.string().url().max(2048),
  scope: z.string().min(1).max(4096),
  state: z.string().min(8).max(512),
  code_challenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  code_challenge_method: z.literal('S256'),
});

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function createOAuthDouble(hooks: OAuthHooks, opts: { accessTokenTtlSeconds?: number } = {}): OAuthDouble {
  const clients = new Map<string, OAuthClientSpec>();
  const grants: OAuthGrantRecord[] = [];
  const events: OAuthEvent[] = [];
  const pending = new Map<string, z.infer<typeof AuthorizeQuery>>();
  const codes = new Map<string, { req: z.infer<typeof AuthorizeQuery>; expires: number; used: boolean; grant?: string }>();
  /** refresh token digest → grant id and whether it is the grant's current one. */
  const refresh = new Map<string, { grant: string; current: boolean }>();
  const accessGrant = new Map<string, { grant: string; id: string }>();
  const self: OAuthDouble = { clients, grants, events, accessTokenTtlSeconds: opts.accessTokenTtlSeconds ?? 3600, handle };

  function redirectMatches(client: OAuthClientSpec, uri: string): boolean {
    const u = URL.parse(uri);
    if (!u || u.search || u.hash) return false;
    return client.redirect_uris.some((r) => {
      const reg = URL.parse(r)!;
      if (reg.hostname === '127.0.0.1' && u.hostname === '127.0.0.1') return reg.protocol === u.protocol && reg.pathname === u.pathname;
      return r === uri;
    });
  }

  function page(res: ServerResponse, status: number, html: string): void {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Cloudflare</title></head><body>${html}</body></html>`);
  }
  function json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  }
  const oauthError = (res: ServerResponse, client: string, error: string, description: string, status = 400): void => {
    events.push({ type: 'token_error', client_id: client, detail: error });
    json(res, status, { error, error_description: description });
  };

  function authorizePage(res: ServerResponse, url: URL): void {
    const q = AuthorizeQuery.safeParse(Object.fromEntries(url.searchParams));
    const client = clients.get(url.searchParams.get('client_id') ?? '');
    if (!client || !redirectMatches(client, url.searchParams.get('redirect_uri') ?? '')) return page(res, 400, '<h1 id="error">invalid_client or redirect_uri</h1>');
    if (!q.success) {
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('error', 'invalid_request');
      back.searchParams.set('error_description', q.error.issues[0]?.path.join('.') ?? 'invalid');
      const state = url.searchParams.get('state');
      if (state) back.searchParams.set('state', state);
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    const scopes = q.data.scope.split(' ');
    const unknown = scopes.filter((s) => s !== 'offline_access' && !client.scopes.includes(s));
    if (unknown.length) return page(res, 400, `<h1 id="error">invalid_scope: ${escapeHtml(unknown.join(' '))}</h1>`);
    const id = rand(16);
    pending.set(id, q.data);
    events.push({ type: 'authorize', client_id: client.client_id, detail: q.data.scope });
    page(
      res,
      200,
      `<h1>Authorize ${escapeHtml(client.client_id)}</h1><p>This application asks for:</p><ul id="scopes">${scopes.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul>` +
        `<form method="post" action="/oauth2/auth"><input type="hidden" name="request" value="${id}">` +
        `<button type="submit" name="decision" value="approve" data-action="approve">Authorize</button>` +
        `<button type="submit" name="decision" value="deny" data-action="deny">Deny</button></form>`,
    );
  }

  function decide(res: ServerResponse, form: URLSearchParams): void {
    const req = pending.get(form.get('request') ?? '');
    if (!req) return page(res, 400, '<h1 id="error">unknown or used authorization request</h1>');
    pending.delete(form.get('request')!);
    const back = new URL(req.redirect_uri);
    if (form.get('decision') === 'approve') {
      const code = rand();
      codes.set(code, { req, expires: hooks.now() + 60_000, used: false });
      back.searchParams.set('code', code);
      events.push({ type: 'consent', client_id: req.client_id });
    } else {
      back.searchParams.set('error', 'access_denied');
    }
    back.searchParams.set('state', req.state);
    res.writeHead(302, { location: back.href }).end();
  }

  function issue(grant: OAuthGrantRecord): Record<string, unknown> {
    const groups = hooks.groups.filter((g) => grant.scope.includes(hooks.scopeOf(g)));
    const ttl = self.accessTokenTtlSeconds;
    const access = hooks.mint(grant.id, groups, new Date(hooks.now() + ttl * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    grant.access_token_ids.push(access.id);
    accessGrant.set(sha256(access.value), { grant: grant.id, id: access.id });
    const out: Record<string, unknown> = { access_token: access.value, token_type: 'bearer', expires_in: ttl, scope: grant.scope.join(' ') };
    if (grant.scope.includes('offline_access')) {
      for (const r of refresh.values()) if (r.grant === grant.id) r.current = false;
      const rt = rand();
      refresh.set(sha256(rt), { grant: grant.id, current: true });
      grant.refresh_tokens_issued += 1;
      out.refresh_token = rt;
    }
    return out;
  }

  function revokeGrant(grant: OAuthGrantRecord): void {
    grant.revoked = true;
    for (const id of grant.access_token_ids) hooks.kill(id);
  }

  function token(res: ServerResponse, form: URLSearchParams): void {
    const clientId = form.get('client_id') ?? '';
    const client = clients.get(clientId);
    if (!client) return oauthError(res, clientId, 'invalid_client', 'unknown client', 401);
    const type = form.get('grant_type');
    if (type === 'authorization_code') {
      const entry = codes.get(form.get('code') ?? '');
      if (!entry || entry.req.client_id !== clientId || entry.expires < hooks.now()) return oauthError(res, clientId, 'invalid_grant', 'unknown or expired code');
      if (entry.used) {
        const g = grants.find((x) => x.id === entry.grant);
        if (g) revokeGrant(g);
        return oauthError(res, clientId, 'invalid_grant', 'code already used');
      }
      entry.used = true;
      if (form.get('redirect_uri') !== entry.req.redirect_uri) return oauthError(res, clientId, 'invalid_grant', 'redirect_uri mismatch');
      const verifier = form.get('code_verifier') ?? '';
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || sha256(verifier) !== entry.req.code_challenge) return oauthError(res, clientId, 'invalid_grant', 'PKCE verification failed');
      const grant: OAuthGrantRecord = { id: rand(8), client_id: clientId, scope: entry.req.scope.split(' '), revoked: false, refresh_tokens_issued: 0, access_token_ids: [] };
      grants.push(grant);
      entry.grant = grant.id;
      events.push({ type: 'code_exchanged', client_id: clientId, grant_id: grant.id });
      return json(res, 200, issue(grant));
    }
    if (type === 'refresh_token') {
      const found = refresh.get(sha256(form.get('refresh_token') ?? ''));
      const grant = found && grants.find((g) => g.id === found.grant && g.client_id === clientId);
      if (!found || !grant || grant.revoked) return oauthError(res, clientId, 'invalid_grant', 'unknown or revoked refresh token');
      if (!found.current) {
        events.push({ type: 'refresh_reused', client_id: clientId, grant_id: grant.id });
        revokeGrant(grant);
        return oauthError(res, clientId, 'invalid_grant', 'refresh token already used');
      }
      events.push({ type: 'refreshed', client_id: clientId, grant_id: grant.id });
      return json(res, 200, issue(grant));
    }
    return oauthError(res, clientId, 'unsupported_grant_type', 'only authorization_code and refresh_token');
  }

  function revoke(res: ServerResponse, form: URLSearchParams): void {
    const clientId = form.get('client_id') ?? '';
    if (!clients.has(clientId)) return oauthError(res, clientId, 'invalid_client', 'unknown client', 401);
    const digest = sha256(form.get('token') ?? '');
    const r = refresh.get(digest);
    const access = accessGrant.get(digest);
    const grant = grants.find((g) => g.id === (r?.grant ?? access?.grant) && g.client_id === clientId);
    if (grant && r) {
      revokeGrant(grant);
      events.push({ type: 'revoked', client_id: clientId, grant_id: grant.id, detail: 'refresh_token' });
    } else if (grant) {
      // RFC 7009 §2.1 would allow ending the grant too; the double ends only this access token.
      hooks.kill(access!.id);
      events.push({ type: 'revoked', client_id: clientId, grant_id: grant.id, detail: 'access_token' });
    }
    res.writeHead(200, { 'cache-control': 'no-store' }).end(); // RFC 7009 §2.2: 200 whether or not the token was known
  }

  function handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): boolean {
    if (!url.pathname.startsWith('/oauth2/')) return false;
    const method = (req.method ?? 'GET').toUpperCase();
    const form = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(body.toString('utf8')) : new URLSearchParams();
    if (url.pathname === '/oauth2/auth' && method === 'GET') authorizePage(res, url);
    else if (url.pathname === '/oauth2/auth' && method === 'POST') decide(res, form);
    else if (url.pathname === '/oauth2/token' && method === 'POST') token(res, form);
    else if (url.pathname === '/oauth2/revoke' && method === 'POST') revoke(res, form);
    else json(res, 404, { error: 'not_found' });
    return true;
  }

  return self;
}
