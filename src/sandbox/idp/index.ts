/**
 * The sandbox identity provider (the orchestrator's issuer), built on
 * oidc-provider: sign-in and consent pages, device flow, refresh rotation,
 * revocation, RFC 8693 → ID-JAG issuance, approvals of spending cap changes
 * (cap-approval.ts), and the orchestrator descriptor at
 * `/.well-known/agent-orchestrator`. Binds 127.0.0.1; issuer = its URL.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Provider from 'oidc-provider';
import { ORCHESTRATOR_DESCRIPTOR_PATH, OrchestratorDescriptor } from '../../wire/orchestrator.js';
import { createAdapterFactory } from '../shared/oidc-adapter.js';
import { buildConfiguration, CLI_CLIENT_ID, SCOPES } from './config.js';
import { deviceAuthorizationHook, offlineAccessPromptHook } from './hooks.js';
import { APP_CLIENT_PATH, APP_RELAY_PATH, appClientRoutes } from './app-client.js';
import { sendJson } from './http.js';
import { registerIdJagGrant, type IdJagTarget } from './id-jag.js';
import { handleInteraction } from './interactions.js';
import { idJagSigningJwk, loadOrCreateKeys, publicJwks } from './keys.js';
import { findUserBySub, publicUsers, type PublicSandboxUser } from './users.js';

export { CLI_CLIENT_ID } from './config.js';
export { DEMO_USER, SECOND_USER, SANDBOX_USERS, type SandboxUser, type PublicSandboxUser } from './users.js';

export interface IdpOptions {
  /** Directory for keys and OAuth state; undefined keeps everything in memory. */
  dataDir?: string;
  /** Port on 127.0.0.1; 0 or undefined picks a free one. */
  port?: number;
  /** README demo only: approve device codes and consent for the demo user without a browser. */
  autoApprove?: boolean;
  /**
   * Read on every request that needs it, because the rail and providers
   * start after the IdP. `idJagTargets`: the (authorization server,
   * resource) pairs it issues ID-JAGs for (none when absent).
   */
  orchestrator: () => { paymentRail: string; providers: string[]; idJagTargets?: IdJagTarget[] };
}

export interface VerifiedAccessToken {
  sub: string;
  email: string;
  /** Epoch seconds of the user's real authentication (kept across refreshes). */
  authTime: number;
  scope: string;
  clientId: string;
}

export interface SandboxIdp {
  url: string;
  issuer: string;
  stop(): Promise<void>;
  /** Resolves for a live access token this IdP issued; throws for expired, revoked or unknown ones. */
  verifyAccessToken(token: string): Promise<VerifiedAccessToken>;
  users: PublicSandboxUser[];
}

export async function startIdp(options: IdpOptions): Promise<SandboxIdp> {
  const autoApprove = options.autoApprove ?? false;
  const keys = await loadOrCreateKeys(options.dataDir);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const adapter = createAdapterFactory(options.dataDir ? join(options.dataDir, 'oidc-state.json') : undefined);
  const provider = new Provider(url, buildConfiguration({ keys, adapter, paymentRail: () => options.orchestrator().paymentRail }));
  await registerIdJagGrant(provider, {
    signingJwk: idJagSigningJwk(keys),
    publicJwks: publicJwks(keys),
    targets: () => options.orchestrator().idJagTargets ?? [],
  });
  provider.use(offlineAccessPromptHook(provider));
  provider.use(deviceAuthorizationHook(provider, { autoApprove, scopes: SCOPES }));
  const oidc = provider.callback();
  const appRoutes = appClientRoutes(url);

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = URL.parse(req.url ?? '/', url)?.pathname ?? '/';
    if (path === ORCHESTRATOR_DESCRIPTOR_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      const { paymentRail, providers } = options.orchestrator();
      const descriptor = OrchestratorDescriptor.parse({
        issuer: url,
        client_id: CLI_CLIENT_ID,
        payment_rail: paymentRail,
        providers,
        name: 'agentprov sandbox',
        app_client_id: `${url}${APP_CLIENT_PATH}`,
        app_code_relay: `${url}${APP_RELAY_PATH}`,
      });
      sendJson(res, 200, descriptor);
      return;
    }
    if (appRoutes(req, res, path)) return;
    if (path.startsWith('/interaction/')) {
      await handleInteraction({ provider, autoApprove }, req, res, path.slice('/interaction/'.length));
      return;
    }
    await oidc(req, res);
  };
  server.on('request', (req, res) => {
    route(req, res).catch((err: unknown) => {
      process.stderr.write(`[sandbox] idp: ${req.method} ${URL.parse(req.url ?? '/', url)?.pathname}: ${(err as Error).message}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.destroy();
    });
  });
  if (autoApprove) process.stderr.write('[sandbox] auto-approve is ON (demo only)\n');

  const verifyAccessToken = async (token: string): Promise<VerifiedAccessToken> => {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw new Error('access token is malformed');
    const at = await provider.AccessToken.find(token);
    if (!at || at.isExpired) throw new Error('access token is unknown, expired or revoked');
    // Tokens for a resource (cap approvals) are not session tokens.
    if (at.aud !== undefined || at.resourceServer !== undefined) throw new Error('access token is for another resource');
    const grant = await provider.Grant.find(at.grantId);
    if (!grant || grant.clientId !== at.clientId || grant.accountId !== at.accountId) throw new Error('access token grant is revoked');
    const user = findUserBySub(at.accountId);
    if (!user) throw new Error('access token account does not exist');
    const authTime = at.extra?.auth_time;
    if (typeof authTime !== 'number') throw new Error('access token carries no auth_time');
    return { sub: user.sub, email: user.email, authTime, scope: at.scope ?? '', clientId: at.clientId ?? '' };
  };

  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    // Let in-process keep-alive clients (undici) read the FIN before anything,
    // e.g. a restart on the same port, could reuse a dead pooled socket.
    await new Promise((resolve) => setTimeout(resolve, 10));
  };

  return { url, issuer: url, stop, verifyAccessToken, users: publicUsers() };
}
