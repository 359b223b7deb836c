/**
 * One sandbox provider: a node `http` server on 127.0.0.1 serving discovery,
 * the catalog, provisioning and the provisioned resources, with the
 * authorization server (built elsewhere, passed in as `createAuth`) mounted
 * on the paths it claims. `index.ts` binds the real authorization server.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProviderIdSchema, ServiceSchema } from '../../wire/provider.js';
import { authenticate } from './bearer.js';
import { ConfigValidator } from './config-validator.js';
import { catalogOf, CatalogResponse, serveDescriptor, serveProtectedResourceMetadata, serveTerms, type DiscoveryInfo } from './discovery.js';
import { Faults } from './faults.js';
import { ApiError, methodNotAllowed, sendError, sendJson, type Exchange } from './http.js';
import { handleKv, KV_PATH } from './kv.js';
import { DeepLinks, loggablePath } from '../shared/deep-links.js';
import { consoleView, DEEP_LINK_PATH, handleDeepLink, handleProvisions, handleUpdate, PROVISIONS_PATH, UPDATE_PATH } from './provision-routes.js';
import { Provisioner } from './provisions.js';
import { handleScript, SCRIPT_PATH, serveSite } from './scripts.js';
import { currentStatus, openStore } from './store.js';
import { Updater } from './updates.js';
import type { AuthFaults, AuthOptionsPort, AuthPort, FaultSwitches, ProviderOptions, ProviderResourceView, ServiceDefinition } from './types.js';

export const DEFAULT_TERMS_VERSION = '2026-11-01';
export const PREREGISTERED_CLIENT_ID = 'agentprov-cli';

/** Routes served without a token. */
const PUBLIC_ROUTES: Partial<Record<string, 'descriptor' | 'metadata' | 'terms' | 'catalog'>> = {
  '/.well-known/agent-provisioning': 'descriptor',
  '/.well-known/oauth-protected-resource': 'metadata',
  '/terms': 'terms',
  '/catalog': 'catalog',
};

export interface RunningProvider<A extends AuthPort = AuthPort> {
  url: string;
  id: string;
  auth: A;
  stop(): Promise<void>;
  /** Replace all fault switches (`{}` clears them). */
  setFaults(f: FaultSwitches): void;
  /** Every provision of every account, for tests and the composer. */
  resources(): ProviderResourceView[];
}

export async function startProviderServer<A extends AuthPort>(
  options: ProviderOptions,
  createAuth: (opts: AuthOptionsPort) => Promise<A>,
): Promise<RunningProvider<A>> {
  const id = ProviderIdSchema.parse(options.id);
  const services = checkCatalog(options.catalog);
  const store = openStore(options.dataDir);
  const faults = new Faults(options.faults);
  const termsVersion = options.termsVersion ?? DEFAULT_TERMS_VERSION;
  const dcr = options.dynamicRegistration ?? id !== 'localcloud';
  const scopes = [...new Set(['provision', ...options.catalog.flatMap((s) => s.scopes)])];
  let baseUrl = '';
  let auth: A | undefined;
  let info: DiscoveryInfo | undefined;
  const catalog = new CatalogResponse(catalogOf(id, options.catalog));
  // The human's console, reached only through single-use deep links (docs/protocol.md §4.5).
  const links = new DeepLinks('/console/', options.name);
  const provisioner = new Provisioner({
    providerId: id,
    baseUrl: () => baseUrl,
    services,
    store,
    validator: new ConfigValidator(options.catalog),
    rail: options.rail,
    asyncDelayMs: options.asyncDelayMs ?? 1000,
    quoteFactor: () => faults.quoteFactor,
    nonIdempotent: () => faults.protocol.nonIdempotentProvisioning === true,
  });
  const updater = new Updater(provisioner);

  const route = async (ex: Exchange): Promise<void> => {
    if (!auth || !info) throw new ApiError(503, 'SERVICE_UNAVAILABLE', 'starting');
    if (serveSite(ex, provisioner)) return;
    const path = ex.url.pathname;
    if (auth.handles(path)) return auth.callback(ex.req, ex.res);
    const open = PUBLIC_ROUTES[path];
    if (open) {
      if (ex.req.method !== 'GET') throw methodNotAllowed(['GET']);
      if (open === 'descriptor') return serveDescriptor(ex, info);
      if (open === 'metadata') return serveProtectedResourceMetadata(ex, info);
      if (open === 'terms') return serveTerms(ex, info);
      return (await faults.apply(ex)) ? catalog.serve(ex) : undefined;
    }
    if (links.handle(ex.req, ex.res, path, (s) => consoleView(provisioner, s))) return;
    if (!/^\/(v1|kv|scripts)\//.test(`${path}/`)) throw new ApiError(404, 'NOT_FOUND', 'no such endpoint');
    if (!(await faults.apply(ex))) return;
    const bearer = await authenticate(ex.req, auth, baseUrl);
    let m: RegExpExecArray | null;
    if ((m = DEEP_LINK_PATH.exec(path))) return handleDeepLink(ex, m, bearer, provisioner, links, baseUrl);
    if ((m = UPDATE_PATH.exec(path))) return handleUpdate(ex, m, bearer, updater, baseUrl);
    if ((m = PROVISIONS_PATH.exec(path))) return handleProvisions(ex, m, bearer, provisioner, baseUrl);
    if ((m = KV_PATH.exec(path))) return handleKv(ex, m, bearer, provisioner, store, baseUrl);
    if ((m = SCRIPT_PATH.exec(path))) return handleScript(ex, m, bearer, provisioner, store, baseUrl);
    throw new ApiError(404, 'NOT_FOUND', 'no such endpoint');
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? '/';
    const ex: Exchange = { req, res, url: new URL(`http://provider${raw.startsWith('/') ? raw : '/'}`) };
    // RFC 9110 §9.3.2: HEAD is GET without the content, wherever GET is answered. Node created `res`
    // knowing the method was HEAD and drops any body written to it, so HEAD is routed as GET.
    if (req.method === 'HEAD') req.method = 'GET';
    route(ex).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      if (err instanceof ApiError) return sendError(ex, err);
      process.stderr.write(`[provider ${id}] internal error on ${req.method} ${loggablePath(ex.url.pathname)}: ${(err as Error).message}\n`);
      sendJson(ex, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async (): Promise<void> => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections();
    await closed;
  };
  try {
    auth = await createAuth({
      providerId: id,
      baseUrl,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      trustedIssuers: [...(options.issuer ? [options.issuer] : []), ...(options.alsoTrust ?? [])],
      faults: () => ({ ...pick(faults.protocol) }),
      termsUrl: `${baseUrl}/terms`,
      termsVersion,
      allowDynamicRegistration: dcr,
      scopes,
      ...(options.autoApprove !== undefined ? { autoApprove: options.autoApprove } : {}),
      ...(options.seedAccounts ? { seedAccounts: options.seedAccounts } : {}),
    });
  } catch (err) {
    await close();
    throw err;
  }
  const a = auth;
  info = { providerId: id, name: options.name, baseUrl, termsVersion, authIssuer: a.issuer, scopes, ...(dcr ? {} : { clientId: PREREGISTERED_CLIENT_ID }) };

  return {
    url: baseUrl,
    id,
    auth: a,
    async stop() {
      await close();
      await a.stop();
      await store.update(() => undefined); // wait for queued writes
    },
    setFaults: (f) => faults.set(f),
    resources: () =>
      Object.values(store.data.provisions).map((p) => ({
        id: p.id,
        accountId: p.accountId,
        service: p.service,
        name: p.name,
        status: currentStatus(p),
        createdAt: p.createdAt,
        resource: provisioner.render(p).resource,
      })),
  };
}

function pick(f: Readonly<FaultSwitches>): AuthFaults {
  return { ...(f.noRefreshRotation ? { noRefreshRotation: true } : {}), ...(f.acceptReplayedIdJag ? { acceptReplayedIdJag: true } : {}) };
}

/** Parse the catalog with the wire schema, so a broken built-in catalog fails at start. */
function checkCatalog(catalog: ServiceDefinition[]): Map<string, ServiceDefinition> {
  const map = new Map<string, ServiceDefinition>();
  for (const s of catalog) {
    ServiceSchema.parse(s);
    if (map.has(s.id)) throw new Error(`duplicate service id ${s.id} in catalog`);
    map.set(s.id, s);
  }
  return map;
}
