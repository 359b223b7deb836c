/**
 * The sandbox payment rail (docs/protocol.md §6): users mint single-use payment
 * tokens held against monthly caps; providers redeem them once. State lives
 * in `<dataDir>/rail.json` (ledger) and `<dataDir>/rail-token-key` (the key
 * payment token secrets are derived with; see token-secrets.ts).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet } from 'jose';
import { JsonState } from '../shared/json-state.js';
import { createRailHandler, type VerifiedUser } from './routes.js';
import { RailState, emptyRailState, snapshot, type LedgerSnapshot } from './state.js';
import { createTokenSecrets } from './token-secrets.js';

export type { LedgerSnapshot } from './state.js';
export type { VerifiedUser } from './routes.js';

export interface RailOptions {
  /** Where rail.json and rail-token-key live; undefined keeps everything in memory. */
  dataDir?: string;
  port?: number;
  /** Verifies a user's access token issued by the sandbox IdP; throws if invalid. */
  verifyAccessToken: (token: string) => Promise<VerifiedUser>;
  /** provider id → client secret, for HTTP Basic on redemptions. */
  providerClients: Record<string, string>;
  /** Subjects without a payment method (their mints get PAYMENT_METHOD_REQUIRED). */
  usersWithoutPaymentMethod?: string[];
  /** Where to add a payment method; default `<rail url>/payment-methods`. */
  paymentMethodUrl?: string;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** Payment token lifetime; default 900. */
  tokenTtlSeconds?: number;
  /** Fault switches for the conformance checker's tests, read per request (the object may be changed later): `redeemTwice` lets a redeemed token be redeemed again (a broken rail). */
  faults?: { redeemTwice?: boolean };
  /**
   * The identity provider whose approval tokens raise caps (docs/protocol-auth.md
   * §10): its issuer and its JWKS, by URL (fetched when needed) or as a set.
   * Without it no cap can be raised.
   */
  capApprovals?: { issuer: string; jwksUri: string } | { issuer: string; jwks: JSONWebKeySet };
}

export interface RunningRail {
  url: string;
  stop(): Promise<void>;
  /** A read-only snapshot of the ledger for tests (statuses computed now). */
  ledger(): LedgerSnapshot;
}

export async function startRail(options: RailOptions): Promise<RunningRail> {
  const clock = options.clock ?? Date.now;
  const file = options.dataDir ? join(options.dataDir, 'rail.json') : undefined;
  const state = new JsonState<RailState>(file, emptyRailState, (raw) => RailState.parse(raw));
  const secrets = createTokenSecrets(options.dataDir ? join(options.dataDir, 'rail-token-key') : undefined);
  let url = '';

  const server = createServer(
    { requestTimeout: 30_000, headersTimeout: 10_000 },
    createRailHandler({
      state,
      secrets,
      clock,
      ttlSeconds: options.tokenTtlSeconds ?? 900,
      redeemTwice: () => options.faults?.redeemTwice === true,
      verifyAccessToken: options.verifyAccessToken,
      providerClients: { ...options.providerClients },
      usersWithoutPaymentMethod: new Set(options.usersWithoutPaymentMethod ?? []),
      paymentMethodUrl: () => options.paymentMethodUrl ?? `${url}/payment-methods`,
      selfUrl: () => url,
      ...(options.capApprovals
        ? {
            capApprovals: {
              issuer: options.capApprovals.issuer,
              keys: 'jwks' in options.capApprovals
                ? createLocalJWKSet(options.capApprovals.jwks)
                : createRemoteJWKSet(new URL(options.capApprovals.jwksUri), { timeoutDuration: 5000 }),
            },
          }
        : {}),
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let stopped: Promise<void> | undefined;
  return {
    url,
    ledger: () => snapshot(state.data, clock()),
    /** Idempotent: a second call awaits the first. */
    stop: () =>
      (stopped ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      })),
  };
}
