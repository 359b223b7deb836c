/**
 * The rail's request handler: a tiny router over `node:http` plus the
 * endpoint handlers. Wire shapes are in src/wire/rail.ts; the ledger
 * rules are in mint.ts, redeem.ts and caps.ts. Every state change goes
 * through JsonState.update (serialized, persisted).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTVerifyGetKey } from 'jose';
import * as z from 'zod';
import { CapApprovalError, pendingView, verifyCapApproval, type CapApprovalClaims } from '../../wire/cap-approval.js';
import {
  CreatePaymentTokenRequest,
  ProviderId,
  RedemptionRequest,
  SetGlobalCapRequest,
  SetProviderCapRequest,
} from '../../wire/rail.js';
import type { JsonState } from '../shared/json-state.js';
import { secretMatches } from '../shared/secret-compare.js';
import { RailError, invalidRequest, notFound } from './errors.js';
import { basicCredentials, bearerToken, invalidBasic, invalidBearer, parseOr400, readJsonBody, sendError, sendJson } from './http.js';
import { mintToken, paymentTokenResponse } from './mint.js';
import { redeemToken, redemptionResponse, tokenStatusResponse } from './redeem.js';
import { setCap, spendView } from './caps.js';
import { sendPaymentMethodsPage } from './payment-methods-page.js';
import type { RailState } from './state.js';
import type { TokenSecrets } from './token-secrets.js';

const VerifiedUser = z.object({ sub: z.string().min(1), email: z.string(), authTime: z.number(), scope: z.string() });
export type VerifiedUser = z.infer<typeof VerifiedUser>;

export interface RailDeps {
  state: JsonState<RailState>;
  secrets: TokenSecrets;
  clock: () => number;
  ttlSeconds: number;
  /** Fault switch, read per request (tests flip it): a redeemed token can be redeemed again. */
  redeemTwice?: () => boolean;
  verifyAccessToken: (token: string) => Promise<VerifiedUser>;
  providerClients: Readonly<Record<string, string>>;
  usersWithoutPaymentMethod: ReadonlySet<string>;
  paymentMethodUrl: () => string;
  /** This rail's URL: the audience (RFC 8707 resource) of cap approvals. */
  selfUrl: () => string;
  /** Who approves cap raises: the orchestrator's identity provider and its signing keys. Without it no cap can be raised. */
  capApprovals?: { issuer: string; keys: JWTVerifyGetKey };
}

/** A refused approval as the rail says it (docs/protocol-auth.md §10.4). */
export function approvalRefusal(err: CapApprovalError): RailError {
  const details = { reason: err.reason };
  if (err.reason === 'expired') return new RailError(403, 'CAP_APPROVAL_EXPIRED', err.message, details);
  if (err.reason === 'replayed') return new RailError(409, 'CAP_APPROVAL_USED', err.message, details);
  return new RailError(403, 'CAP_APPROVAL_INVALID', err.message, details);
}

type Handler = (req: IncomingMessage, res: ServerResponse, param: string) => Promise<void>;
interface Route { method: string; path: RegExp; handler: Handler }

export function createRailHandler(deps: RailDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const knownProviders = new Set(Object.keys(deps.providerClients));

  async function user(req: IncomingMessage): Promise<VerifiedUser> {
    const token = bearerToken(req);
    let claims: unknown;
    try {
      claims = await deps.verifyAccessToken(token);
    } catch {
      throw invalidBearer();
    }
    return VerifiedUser.parse(claims); // a malformed result is our bug: 500
  }

  function provider(req: IncomingMessage): string {
    const { id, secret } = basicCredentials(req);
    const expected = Object.hasOwn(deps.providerClients, id) ? deps.providerClients[id] : undefined;
    if (!secretMatches(secret, expected)) throw invalidBasic();
    return id;
  }

  const routes: Route[] = [
    { method: 'POST', path: /^\/v1\/payment_tokens$/, handler: async (req, res) => {
      const who = await user(req);
      const body = parseOr400(CreatePaymentTokenRequest, await readJsonBody(req));
      if (deps.usersWithoutPaymentMethod.has(who.sub)) {
        const url = deps.paymentMethodUrl();
        throw new RailError(402, 'PAYMENT_METHOD_REQUIRED', `add a payment method first: ${url}`, { url });
      }
      const { token, replayed } = await deps.state.update((d) => mintToken(d, body, {
        user: who.sub, now: deps.clock(), ttlSeconds: deps.ttlSeconds, secrets: deps.secrets, knownProviders,
      }));
      sendJson(res, 201, paymentTokenResponse(token, deps.secrets), replayed ? { 'idempotent-replayed': 'true' } : {});
    } },
    { method: 'GET', path: /^\/v1\/payment_tokens\/([^/]+)$/, handler: async (req, res, id) => {
      const me = provider(req);
      const token = deps.state.data.tokens.find((t) => t.id === id && t.provider === me);
      if (!token) throw new RailError(404, 'TOKEN_UNKNOWN', 'no such payment token for this provider');
      sendJson(res, 200, tokenStatusResponse(deps.state.data, token, deps.clock()));
    } },
    { method: 'POST', path: /^\/v1\/redemptions$/, handler: async (req, res) => {
      const me = provider(req);
      const body = parseOr400(RedemptionRequest, await readJsonBody(req));
      const redemption = await deps.state.update((d) =>
        redeemToken(d, body, { provider: me, now: deps.clock(), secrets: deps.secrets, ...(deps.redeemTwice?.() ? { redeemTwice: true } : {}) }));
      sendJson(res, 200, redemptionResponse(redemption));
    } },
    { method: 'GET', path: /^\/v1\/spend$/, handler: async (req, res) => {
      const who = await user(req);
      sendJson(res, 200, spendView(deps.state.data, who.sub, deps.clock()));
    } },
    { method: 'PUT', path: /^\/v1\/caps\/([^/]+)$/, handler: async (req, res, target) => {
      const who = await user(req);
      const isGlobal = target === 'global';
      const providerId = isGlobal ? null : parseOr400(ProviderId, target, 'provider');
      const raw = await readJsonBody(req);
      const body = isGlobal ? parseOr400(SetGlobalCapRequest, raw) : parseOr400(SetProviderCapRequest, raw);
      let approval: CapApprovalClaims | undefined;
      if (body.approval !== undefined) {
        if (!deps.capApprovals) throw new RailError(403, 'CAP_APPROVAL_INVALID', 'this rail trusts no identity provider for cap approvals', { reason: 'invalid' });
        try {
          approval = await verifyCapApproval(body.approval, { ...deps.capApprovals, audience: deps.selfUrl(), now: new Date(deps.clock()) });
        } catch (err) {
          if (err instanceof CapApprovalError) throw approvalRefusal(err);
          throw err;
        }
      }
      const outcome = await deps.state.update((d) => setCap(d, {
        user: who.sub, now: deps.clock(), provider: providerId, amount: body.amount, ...(approval ? { approval } : {}),
      }));
      if (outcome.kind === 'refused') throw approvalRefusal(outcome.error);
      if (outcome.kind === 'approval_required') {
        throw new RailError(403, 'CAP_RAISE_APPROVAL_REQUIRED', 'raising a cap needs the human to approve this change at the identity provider', {
          ...pendingView(outcome.change, deps.selfUrl()),
          ...(deps.capApprovals ? { issuer: deps.capApprovals.issuer } : {}),
        });
      }
      sendJson(res, 200, outcome.response);
    } },
    { method: 'GET', path: /^\/payment-methods$/, handler: async (_req, res) => sendPaymentMethodsPage(res) },
  ];

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://rail.invalid').pathname;
    const matching = routes.map((r) => ({ r, m: r.path.exec(path) })).filter((x) => x.m);
    const hit = matching.find((x) => x.r.method === req.method);
    if (!hit) {
      if (matching.length === 0) throw notFound();
      const allow = matching.map((x) => x.r.method).join(', ');
      throw new RailError(405, 'METHOD_NOT_ALLOWED', `use ${allow}`, { allow }, { allow });
    }
    let param = '';
    try {
      param = decodeURIComponent(hit.m?.[1] ?? '');
    } catch {
      throw invalidRequest('path', 'malformed percent-encoding');
    }
    await hit.r.handler(req, res, param);
  }

  return (req, res) => {
    dispatch(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof RailError) return sendError(res, err);
      // Only the error's kind and message: request data (tokens) is never logged.
      process.stderr.write(`agentprov rail: internal error: ${(err as Error)?.name}: ${(err as Error)?.message}\n`);
      sendError(res, new RailError(500, 'INTERNAL', 'internal error'));
    });
  };
}
