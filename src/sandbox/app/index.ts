/**
 * The sandbox APP provider (`appcloud`): APP 0.1d's partner surface on
 * loopback, under `<url>/api/agentic/`, plus the small API its credentials
 * work against (`GET <url>/api/whoami` with `Authorization: Bearer
 * <api_key>`). Every APP route but health wants `API-Version: 0.1d`;
 * resource routes want a bearer token from `oauth/token`. Faults: `rateLimit`
 * answers the next N APP requests 429 with `Retry-After`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as z from 'zod';
import { APP_VERSION, AppAccountRequest, AppDeepLinkRequest, AppResourceRequest } from '../../wire/app.js';
import { DeepLinks, loggablePath } from '../shared/deep-links.js';
import { parseBearer, readBody, readForm, sendHtml, sendJson } from '../shared/http.js';
import { fetchClientMetadata } from './cimd.js';
import { appConsoleView, issueAppDeepLink } from './deep-links.js';
import { consentPage, donePage, PAGE_HEADERS } from './pages.js';
import { AppError, AppState, type ResourceRecord } from './state.js';
import { replay, STRIPE_BASE_PATH, verifyStripeSignature } from './stripe.js';

export const APP_BASE_PATH = '/api/agentic/';
/** The `region` member of every sandbox resource's access_configuration. */
export const SANDBOX_REGION = 'appcloud-sandbox-region-1';

export interface AppService {
  id: string;
  description: string;
  categories: string[];
  pricing: { type: 'free' } | { type: 'paid'; paid: { type: 'freeform'; freeform: string } };
  /** Where `update_service` may move a resource of this service. */
  allowed_updates: string[];
}

export const APPCLOUD_SERVICES: AppService[] = [
  { id: 'analytics', description: 'Product analytics project (free tier)', categories: ['analytics'], pricing: { type: 'free' }, allowed_updates: ['analytics-scale', 'analytics-eu'] },
  { id: 'analytics-scale', description: 'Product analytics, Scale plan', categories: ['analytics'], pricing: { type: 'paid', paid: { type: 'freeform', freeform: '$450/month, billed by AppCloud' } }, allowed_updates: ['analytics'] },
  { id: 'analytics-eu', description: 'Product analytics project hosted in the EU (free tier)', categories: ['analytics'], pricing: { type: 'free' }, allowed_updates: ['analytics'] },
];

export interface AppFaults {
  /** Answer the next N APP requests (not health) with 429 and Retry-After. */
  rateLimit?: number;
  retryAfterSeconds?: number;
  /** A broken provider (conformance tests): `API-Version` is not checked. */
  noApiVersionCheck?: boolean;
}

export interface StartedAppProvider {
  id: string;
  /** The APP base URL (`…/api/agentic/`). */
  url: string;
  origin: string;
  state: AppState;
  faults: AppFaults;
  stop(): Promise<void>;
}

const MAX_BODY = 16 * 1024;
/** A real rate limit, as deployed providers have one: `provisioning/services` answers 429 with Retry-After beyond this many a second. */
export const SERVICES_PER_SECOND = 10;

function windowLimit(max: number, windowMs: number): { take(): boolean } {
  let start = 0;
  let used = 0;
  return {
    take() {
      const now = Date.now();
      if (now - start >= windowMs) {
        start = now;
        used = 0;
      }
      used += 1;
      return used <= max;
    },
  };
}

/** `stripeSigningSecret` also serves the Stripe-signed surface under STRIPE_BASE_PATH (stripe.ts). */
export async function startAppProvider(opts: { id: string; name: string; port?: number; dataDir?: string; faults?: AppFaults; stripeSigningSecret?: string }): Promise<StartedAppProvider> {
  const state = new AppState(opts.dataDir ? join(opts.dataDir, 'state.json') : undefined);
  const faults: AppFaults = { ...opts.faults };
  const servicesLimit = windowLimit(SERVICES_PER_SECOND, 1000);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const base = `${origin}${APP_BASE_PATH}`;
  // The human's console, reached only through single-use deep links (provisioning/deep_links).
  const links = new DeepLinks('/console/', opts.name);

  const json = async (req: IncomingMessage): Promise<unknown> => {
    const body = await readBody(req, MAX_BODY, () => new AppError(413, 'invalid_request', 'body too large'));
    try {
      return JSON.parse(body.toString('utf8') || '{}');
    } catch {
      throw new AppError(400, 'invalid_request', 'body is not JSON');
    }
  };
  const parse = <T>(schema: z.ZodType<T>, raw: unknown): T => {
    const r = schema.safeParse(raw);
    if (!r.success) throw new AppError(400, 'invalid_request', `invalid ${r.error.issues[0]?.path.join('.') || 'body'}: ${r.error.issues[0]?.message}`);
    return r.data;
  };
  // A member beyond api_key and host, which agentprov's catalog does not map: `run` injects it as APPCLOUD_REGION.
  const resourceBody = (r: ResourceRecord) => ({ status: 'complete', id: r.id, service_id: r.service_id, complete: { access_configuration: { api_key: r.api_key, host: origin, region: SANDBOX_REGION } } });

  const route = async (incoming: IncomingMessage, res: ServerResponse): Promise<void> => {
    let req = incoming;
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/api/whoami' && method === 'GET') {
      const key = parseBearer(req.headers.authorization);
      const r = key ? state.byApiKey(key) : undefined;
      if (!r) return sendJson(res, 401, { error: { code: 'unauthorized', message: 'invalid API key' } });
      return sendJson(res, 200, { resource_id: r.id, service_id: r.service_id, account: r.account });
    }
    if (links.handle(req, res, path, (s) => appConsoleView(state, s))) return;
    const stripe = opts.stripeSigningSecret !== undefined && path.startsWith(STRIPE_BASE_PATH);
    if (!path.startsWith(APP_BASE_PATH) && !stripe) throw new AppError(404, 'not_found', 'no such route');
    const rel = path.slice((stripe ? STRIPE_BASE_PATH : APP_BASE_PATH).length);
    if (stripe) {
      const raw = await readBody(req, MAX_BODY, () => new AppError(413, 'invalid_request', 'body too large'));
      verifyStripeSignature(req.headers['stripe-signature'], opts.stripeSigningSecret!, raw);
      req = replay(req, raw);
    }
    if (rel === 'provisioning/health' && method === 'GET') return sendJson(res, 200, { status: 'ok', supported_versions: [APP_VERSION] });

    // The consent page is the human's, in a browser: no API-Version there.
    const consent = /^consent\/([A-Za-z0-9_-]{1,64})$/.exec(rel);
    if (consent && !stripe) return consentRoute(consent[1]!, req, res);

    if ((faults.rateLimit ?? 0) > 0) {
      faults.rateLimit!--;
      const after = String(faults.retryAfterSeconds ?? 1);
      return sendJson(res, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': after, 'ratelimit-remaining': '0' });
    }
    if (req.headers['api-version'] !== APP_VERSION && faults.noApiVersionCheck !== true) throw new AppError(400, 'invalid_api_version', `API-Version must be ${APP_VERSION}`);

    if (rel === 'provisioning/services' && method === 'GET') {
      if (!servicesLimit.take()) return sendJson(res, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '1', 'ratelimit-remaining': '0' });
      return sendJson(res, 200, { data: APPCLOUD_SERVICES.map((s) => ({ ...s, kind: 'plan' })) });
    }
    if (rel === 'provisioning/client_registration' && method === 'POST') {
      const { client_id } = parse(z.object({ client_id: z.string().max(2048) }), await json(req));
      await state.registerClient(client_id, await fetchClientMetadata(client_id));
      return sendJson(res, 200, { client_id, status: 'registered' });
    }
    if (rel === 'provisioning/account_requests' && method === 'POST') {
      const ar = parse(AppAccountRequest, await json(req));
      if (Date.parse(ar.expires_at) <= Date.now()) throw new AppError(400, 'expired', 'this account request has expired (expires_at is past)');
      if (!state.data.clients[ar.client_id]) throw new AppError(401, 'unauthorized', 'unknown client: register it at provisioning/client_registration first');
      const out = await state.accountRequest({ email: ar.email, ...(ar.name ? { name: ar.name } : {}), client_id: ar.client_id, challenge: ar.code_challenge, state: ar.id });
      if ('code' in out) return sendJson(res, 200, { id: ar.id, type: 'oauth', oauth: { code: out.code } });
      return sendJson(res, 200, { id: ar.id, type: 'requires_auth', requires_auth: { url: `${base}consent/${out.consent.id}` } });
    }
    if (rel === 'oauth/token' && method === 'POST') {
      const form = await readForm(req, MAX_BODY, {
        wrongType: () => new AppError(400, 'invalid_request', 'form body expected', 'oauth'),
        tooLarge: () => new AppError(413, 'invalid_request', 'body too large', 'oauth'),
        duplicate: (k) => new AppError(400, 'invalid_request', `${k} given twice`, 'oauth'),
      });
      let t;
      if (form.grant_type === 'authorization_code' && form.code && form.code_verifier) t = await state.exchangeCode(form.code, form.code_verifier);
      else if (form.grant_type === 'refresh_token' && form.refresh_token) t = await state.refresh(form.refresh_token);
      else throw new AppError(400, form.grant_type === 'authorization_code' || form.grant_type === 'refresh_token' ? 'invalid_request' : 'unsupported_grant_type', 'bad grant', 'oauth');
      return sendJson(res, 200, { token_type: 'bearer', access_token: t.access_token, refresh_token: t.refresh_token, expires_in: t.expires_in, account: { id: t.account, payment_credentials: 'orchestrator' } });
    }

    const account = state.bearer(parseBearer(req.headers.authorization));
    if (rel === 'provisioning/resources' && method === 'POST') {
      const body = parse(AppResourceRequest.extend({ payment_credentials: z.unknown().optional() }), await json(req));
      const service = APPCLOUD_SERVICES.find((s) => s.id === body.service_id);
      if (!service) throw new AppError(400, 'unknown_service', `no service ${body.service_id}`);
      if (service.pricing.type !== 'free' && body.payment_credentials === undefined) throw new AppError(402, 'requires_payment_credentials', 'this service is paid');
      return sendJson(res, 200, resourceBody(await state.createResource(account, body.project_id, body.service_id)));
    }
    if (rel === 'provisioning/deep_links' && method === 'POST') return sendJson(res, 200, issueAppDeepLink(state, links, origin, account, parse(AppDeepLinkRequest, await json(req))));
    const m = /^provisioning\/resources\/([A-Za-z0-9_-]{1,64})(\/rotate_credentials|\/remove|\/update_service)?$/.exec(rel);
    if (m && method === 'POST' && m[2] === '/update_service') {
      const body = parse(z.object({ service_id: z.string().min(1).max(255), payment_credentials: z.unknown().optional() }), await json(req));
      const target = APPCLOUD_SERVICES.find((s) => s.id === body.service_id);
      if (!target) throw new AppError(400, 'unknown_service', `no service ${body.service_id}`);
      const current = APPCLOUD_SERVICES.find((s) => s.id === state.resource(account, m[1]!).service_id);
      if (current?.id !== target.id && !current?.allowed_updates.includes(target.id)) throw new AppError(400, 'invalid_request', `${current?.id ?? 'this service'} cannot move to ${target.id}; allowed: ${current?.allowed_updates.join(', ') || 'none'}`);
      if (target.pricing.type !== 'free' && body.payment_credentials === undefined) throw new AppError(402, 'requires_payment_credentials', 'this service is paid');
      return sendJson(res, 200, resourceBody(await state.updateService(account, m[1]!, target.id)));
    }
    if (m && method === 'GET' && !m[2]) return sendJson(res, 200, resourceBody(state.resource(account, m[1]!)));
    if (m && method === 'POST' && m[2] === '/rotate_credentials') return sendJson(res, 200, resourceBody(await state.rotate(account, m[1]!)));
    if (m && method === 'POST' && m[2] === '/remove') {
      await state.remove(account, m[1]!);
      return sendJson(res, 200, { status: 'removed', id: m[1] });
    }
    throw new AppError(404, 'not_found', 'no such route');
  };

  const consentRoute = async (id: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const c = state.data.consents[id];
    if (!c || c.decided || c.expires_at < Date.now() / 1000) return sendHtml(res, 404, donePage('This request is used, expired or unknown.'), PAGE_HEADERS);
    const client = state.data.clients[c.client_id];
    if (!client) return sendHtml(res, 400, donePage('Unknown client.'), PAGE_HEADERS);
    if (req.method === 'GET') {
      const email = state.data.accounts[c.account]?.email ?? '';
      return sendHtml(res, 200, consentPage({ providerName: opts.name, clientName: client.client_name, email, action: `${base}consent/${id}` }), PAGE_HEADERS);
    }
    if (req.method !== 'POST') throw new AppError(405, 'invalid_request', 'GET or POST');
    const form = await readForm(req, 1024, {
      wrongType: () => new AppError(400, 'invalid_request', 'form expected'),
      tooLarge: () => new AppError(413, 'invalid_request', 'too large'),
      duplicate: () => new AppError(400, 'invalid_request', 'duplicate'),
    });
    const { consent, code } = await state.decide(id, form.decision === 'approve');
    const to = new URL(client.redirect_uris[0]!);
    if (code) to.searchParams.set('code', code);
    else to.searchParams.set('error', 'access_denied');
    to.searchParams.set('state', consent.state);
    res.writeHead(303, { location: to.href, 'cache-control': 'no-store' });
    res.end();
  };

  server.on('request', (req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof AppError) {
        const body = err.envelope === 'oauth' ? { error: err.code, error_description: err.message } : { error: { code: err.code, message: err.message } };
        return sendJson(res, err.status, body);
      }
      process.stderr.write(`[sandbox] ${opts.id}: ${req.method} ${loggablePath((req.url ?? '').split('?')[0] ?? '')}: ${(err as Error).message}\n`);
      sendJson(res, 500, { error: { code: 'server_error', message: 'internal error' } });
    });
  });

  return {
    id: opts.id,
    url: base,
    origin,
    state,
    faults,
    stop: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}
