/**
 * A sandbox provider's authorization server (docs/protocol-auth.md), built on
 * oidc-provider and mounted under `${baseUrl}/oauth` inside the provider's
 * own HTTP server, which hands it every request `handles()` accepts.
 *
 * Grants: JWT bearer with an ID-JAG (RFC 7523, account auto-creation),
 * device authorization (RFC 8628, consent pages), refresh with rotation,
 * token exchange (RFC 8693, down-scoped short-lived tokens); revocation
 * (RFC 7009); RFC 7591 registration when enabled. Metadata (RFC 8414) at
 * `${baseUrl}/.well-known/oauth-authorization-server/oauth` and
 * `${issuer}/.well-known/openid-configuration`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import Provider, { type AccessToken } from 'oidc-provider';
import { AccountStore, type AccountSeed } from './accounts.js';
import { autoApprover } from './auto-approve.js';
import { CLI_CLIENT_ID, providerConfiguration } from './config.js';
import { sendJson } from './http.js';
import { IdJagVerifier, type TrustedIssuer } from './id-jag.js';
import { createInteractions } from './interactions.js';
import { registerJwtBearerGrant } from './jwt-bearer.js';
import { loadOrCreateKeys } from './keys.js';
import { responseDecorator } from './middleware.js';
import { registerTokenExchangeGrant } from './token-exchange.js';

export interface ProviderAuthOptions {
  providerId: string;
  baseUrl: string;
  dataDir?: string;
  trustedIssuers: TrustedIssuer[];
  termsUrl: string;
  termsVersion: string;
  allowDynamicRegistration: boolean;
  scopes: string[];
  autoApprove?: boolean;
  seedAccounts?: AccountSeed[];
  /** Protocol faults for the conformance checker's tests (a broken provider). */
  faults?: () => { noRefreshRotation?: boolean; acceptReplayedIdJag?: boolean };
}

export interface ProviderAuth {
  issuer: string;
  handles(pathname: string): boolean;
  callback(req: IncomingMessage, res: ServerResponse): void;
  verifyAccessToken(token: string): Promise<{ accountId: string; scopes: string[]; jti: string; exp: number; clientId: string }>;
  accounts(): Array<{ id: string; issuer?: string; sub?: string; email: string; createdAt: string; termsVersion?: string }>;
  stop(): Promise<void>;
}

const MOUNT = '/oauth';
const AS_METADATA = '/.well-known/oauth-authorization-server';
const OIDC_METADATA = '/.well-known/openid-configuration';
/** Bodies oidc-provider reads are capped at 56 KiB by it; ours are far smaller. */
const MAX_BODY_BYTES = 16 * 1024;

export async function createProviderAuth(opts: ProviderAuthOptions): Promise<ProviderAuth> {
  const issuer = `${opts.baseUrl}${MOUNT}`;
  const dir = opts.dataDir ? join(opts.dataDir, 'auth') : undefined;
  const rs = { baseUrl: opts.baseUrl, scopes: opts.scopes };
  const terms = { url: opts.termsUrl, version: opts.termsVersion };
  const linkIssuer = opts.trustedIssuers[0]?.issuer;
  const providerName = opts.providerId;

  const keys = await loadOrCreateKeys(dir && join(dir, 'keys.json'));
  const accounts = await AccountStore.open(dir && join(dir, 'accounts.json'), opts.seedAccounts ?? [], CLI_CLIENT_ID);
  const provider = new Provider(
    issuer,
    providerConfiguration({
      providerId: opts.providerId,
      providerName,
      mountPath: MOUNT,
      adapterFile: dir && join(dir, 'oidc.json'),
      keys,
      accounts,
      rs,
      termsUrl: opts.termsUrl,
      allowDynamicRegistration: opts.allowDynamicRegistration,
      noRefreshRotation: () => opts.faults?.().noRefreshRotation === true,
    }),
  );
  registerJwtBearerGrant(provider, {
    verifier: new IdJagVerifier(opts.trustedIssuers, issuer),
    accounts,
    rs,
    termsVersion: opts.termsVersion,
    acceptReplayed: () => opts.faults?.().acceptReplayedIdJag === true,
  });
  registerTokenExchangeGrant(provider, rs);
  const autoApprove = opts.autoApprove ? autoApprover({ provider, accounts, rs, termsVersion: opts.termsVersion, linkIssuer }) : undefined;
  provider.use(responseDecorator({ terms, resourceScopes: opts.scopes, ...(autoApprove ? { autoApprove } : {}) }));
  provider.on('server_error', (_ctx: unknown, err: Error) => {
    process.stderr.write(`[${opts.providerId} auth] server_error: ${err.message}\n`);
  });
  const interactions = createInteractions({ provider, accounts, rs, providerName, mountPath: MOUNT, terms, linkIssuer });
  const koaHandler = provider.callback();
  let stopped = false;

  const handles = (pathname: string): boolean =>
    pathname === MOUNT || pathname.startsWith(`${MOUNT}/`) || pathname === AS_METADATA + MOUNT || pathname === OIDC_METADATA + MOUNT;

  function callback(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (stopped) return sendJson(res, 503, { error: 'temporarily_unavailable', error_description: 'authorization server stopped' });
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      return sendJson(res, 413, { error: 'invalid_request', error_description: 'request body too large' });
    }
    if (interactions.pattern.test(url.pathname)) {
      interactions.handle(req, res, url.pathname).catch((err: Error) => {
        process.stderr.write(`[${opts.providerId} auth] interaction error: ${err.message}\n`);
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      });
      return;
    }
    // oidc-provider routes relative to its mount path and derives that path
    // from `originalUrl` (as under Express); RFC 8414 §3.1 path insertion
    // maps the well-known URLs onto its own metadata route.
    let inner = url.pathname.slice(MOUNT.length) || '/';
    if (url.pathname === AS_METADATA + MOUNT) inner = AS_METADATA;
    if (url.pathname === OIDC_METADATA + MOUNT) inner = OIDC_METADATA;
    Object.assign(req, { originalUrl: `${MOUNT}${inner}${url.search}` });
    req.url = `${inner}${url.search}`;
    void koaHandler(req, res);
  }

  async function verifyAccessToken(token: string) {
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{16,256}$/.test(token)) throw new Error('malformed access token');
    const at = (await provider.AccessToken.find(token)) as AccessToken | undefined;
    const now = Math.floor(Date.now() / 1000);
    if (!at || at.exp === undefined || at.exp <= now) throw new Error('unknown, expired or revoked access token');
    const aud = Array.isArray(at.aud) ? at.aud : [at.aud];
    if (!aud.includes(opts.baseUrl)) throw new Error('access token is not for this resource');
    const grant = await provider.Grant.find(at.grantId);
    if (!grant || grant.accountId !== at.accountId || !accounts.get(at.accountId)) throw new Error('access token grant was revoked');
    return { accountId: at.accountId, scopes: [...at.scopes], jti: at.jti, exp: at.exp, clientId: at.clientId ?? '' };
  }

  return {
    issuer,
    handles,
    callback,
    verifyAccessToken,
    accounts: () =>
      accounts.list().map(({ id, issuer: iss, sub, email, createdAt, termsVersion }) => ({
        id,
        email,
        createdAt,
        ...(iss !== undefined ? { issuer: iss } : {}),
        ...(sub !== undefined ? { sub } : {}),
        ...(termsVersion !== undefined ? { termsVersion } : {}),
      })),
    async stop() {
      stopped = true;
      provider.removeAllListeners();
    },
  };
}
