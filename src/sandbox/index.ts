/**
 * The embedded sandbox: every counterpart agentprov needs, on loopback.
 * An identity provider (the orchestrator's issuer), the payment rail and two
 * providers: `localcloud`, which trusts the orchestrator (attested accounts),
 * and `othercloud`, which trusts no orchestrator (consent path only).
 *
 * State lives in the data dir; the ports are remembered there too, because
 * issuer and resource identifiers are URLs and must survive a restart.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { startAppProvider, type AppFaults, type StartedAppProvider } from './app/index.js';
import { startIdp, type SandboxIdp } from './idp/index.js';
import { builtinCatalog, startProvider, type FaultSwitches, type StartedProvider } from './provider/index.js';
import { startRail, type RunningRail } from './rail/index.js';
import { writeFileAtomicSync } from './shared/json-state.js';

export interface SandboxOptions {
  /** Undefined keeps everything in memory (tests that need no restart). */
  dataDir?: string;
  /** Port of the orchestrator; the rail and providers take the next ones. 0 = random (or the ports remembered in dataDir). */
  port?: number;
  autoApprove?: boolean;
  faults?: Partial<Record<string, FaultSwitches>>;
  /** Faults of the APP provider `appcloud` (429 with Retry-After). */
  appFaults?: AppFaults;
  /** Serve appcloud's Stripe-signed surface (`/api/partners/stripe/`) with this signing secret. */
  appStripeSigningSecret?: string;
  /** Rail knobs for tests: payment token lifetime (default 900 s), fault switches. */
  rail?: { tokenTtlSeconds?: number; faults?: { redeemTwice?: boolean } };
  /**
   * More orchestrators whose ID-JAGs `localcloud` trusts, besides the sandbox's own (e.g. the
   * conformance checker's issuer: `agentprov providers check` serves its JWKS at `<issuer>/jwks`).
   */
  trustedIssuers?: Array<{ issuer: string; jwksUri: string }>;
}

export interface Sandbox {
  orchestrator: string;
  issuer: string;
  paymentRail: string;
  providers: Array<{ id: string; url: string }>;
  dataDir: string | undefined;
  idp: SandboxIdp;
  rail: RunningRail;
  provider(id: string): StartedProvider;
  /** The APP 0.1d provider (docs/protocol.md §APP): its base URL is `app.url`. */
  app: StartedAppProvider;
  stop(): Promise<void>;
}

const PROVIDERS = [
  { id: 'localcloud', name: 'LocalCloud', trustsOrchestrator: true },
  { id: 'othercloud', name: 'OtherCloud', trustsOrchestrator: false },
] as const;

const APP_PROVIDER = { id: 'appcloud', name: 'AppCloud' } as const;

const Ports = z.object({ orchestrator: z.number().int(), rail: z.number().int(), providers: z.record(z.string(), z.number().int()) });
type Ports = z.infer<typeof Ports>;

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const { dataDir } = options;
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const remembered = dataDir ? readPorts(dataDir) : undefined;
  const base = options.port ?? 0;
  const portFor = (offset: number, saved: number | undefined): number => (base > 0 ? base + offset : (saved ?? 0));
  const sub = (name: string): string | undefined => (dataDir ? join(dataDir, name) : undefined);

  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    let railUrl = '';
    const providers = new Map<string, StartedProvider>();
    const idp = await startIdp({
      dataDir: sub('idp'),
      port: portFor(0, remembered?.orchestrator),
      autoApprove: options.autoApprove ?? false,
      orchestrator: () => ({
        paymentRail: railUrl,
        providers: [...providers.values()].map((p) => `${p.url}/.well-known/agent-provisioning`),
        idJagTargets: [...providers.values()].map((p) => ({ audience: p.auth.issuer, resource: p.url })),
      }),
    });
    started.push(idp);

    const providerClients = Object.fromEntries(PROVIDERS.map((p) => [p.id, randomBytes(24).toString('base64url')]));
    const rail = await startRail({
      dataDir: sub('rail'),
      port: portFor(1, remembered?.rail),
      verifyAccessToken: (token) => idp.verifyAccessToken(token),
      providerClients,
      usersWithoutPaymentMethod: ['user-second'],
      // Cap raises are approved by the human at the orchestrator's identity provider (docs/protocol-auth.md §10).
      capApprovals: { issuer: idp.issuer, jwksUri: `${idp.issuer}/jwks` },
      ...options.rail,
    });
    started.push(rail);
    railUrl = rail.url;

    for (const [i, p] of PROVIDERS.entries()) {
      const provider = await startProvider({
        id: p.id,
        name: p.name,
        dataDir: sub(p.id),
        port: portFor(2 + i, remembered?.providers[p.id]),
        issuer: p.trustsOrchestrator ? { issuer: idp.issuer, jwksUri: `${idp.issuer}/jwks` } : null,
        ...(p.trustsOrchestrator && options.trustedIssuers ? { alsoTrust: options.trustedIssuers } : {}),
        rail: { url: rail.url, clientSecret: providerClients[p.id]! },
        autoApprove: options.autoApprove ?? false,
        catalog: builtinCatalog(p.id) ?? [],
        ...(options.faults?.[p.id] ? { faults: options.faults[p.id] } : {}),
      });
      started.push(provider);
      providers.set(p.id, provider);
    }

    const app = await startAppProvider({
      ...APP_PROVIDER,
      port: portFor(2 + PROVIDERS.length, remembered?.providers[APP_PROVIDER.id]),
      ...(sub(APP_PROVIDER.id) ? { dataDir: sub(APP_PROVIDER.id)! } : {}),
      ...(options.appFaults ? { faults: options.appFaults } : {}),
      ...(options.appStripeSigningSecret !== undefined ? { stripeSigningSecret: options.appStripeSigningSecret } : {}),
    });
    started.push(app);

    if (dataDir) {
      const ports: Ports = {
        orchestrator: Number(new URL(idp.url).port),
        rail: Number(new URL(rail.url).port),
        providers: { ...Object.fromEntries([...providers].map(([id, p]) => [id, Number(new URL(p.url).port)])), [APP_PROVIDER.id]: Number(new URL(app.url).port) },
      };
      writeFileAtomicSync(join(dataDir, 'ports.json'), JSON.stringify(ports));
    }

    return {
      orchestrator: idp.url,
      issuer: idp.issuer,
      paymentRail: rail.url,
      providers: [...providers].map(([id, p]) => ({ id, url: p.url })),
      dataDir,
      idp,
      rail,
      app,
      provider(id) {
        const p = providers.get(id);
        if (!p) throw new Error(`no sandbox provider "${id}"`);
        return p;
      },
      stop: () => stopAll(started),
    };
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

async function stopAll(started: Array<{ stop(): Promise<void> }>): Promise<void> {
  for (const s of [...started].reverse()) await s.stop().catch(() => undefined);
}

function readPorts(dataDir: string): Ports | undefined {
  const file = join(dataDir, 'ports.json');
  if (!existsSync(file)) return undefined;
  const parsed = Ports.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}
