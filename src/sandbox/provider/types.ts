/**
 * Types shared by the sandbox provider's modules. The authorization server
 * (./auth/, built separately) is seen here only through the structural
 * `AuthPort`, so this server does not depend on how it is built.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Service } from '../../wire/provider.js';

/** How the sandbox implements a service (never sent on the wire). */
export type Engine =
  /** resource.url = <base>/kv/<id>; at most maxKeys keys (the plan's limit, enforced on PUT and on an update). */
  | { type: 'kv'; readScope: string; writeScope: string; maxKeys: number }
  | { type: 'script'; deployScope: string } // resource.url = <base>/scripts/<id>, served by Host
  | { type: 'domain' } // config.domain registered; unique across all accounts
  /** Plans and stand-ins; string values may use {id}, {short}, {name}, {provider}. */
  | { type: 'static'; attributes: Record<string, string | number> };

export type ServiceDefinition = Service & { engine: Engine };

/**
 * Fault switches, all off by default. Counts are deterministic: "the next N
 * matching requests". They apply to the catalog and provisioning routes,
 * narrowed further by `paths` (a string is a pathname prefix).
 */
export interface FaultSwitches {
  /** Delay before handling each matching request. */
  latencyMs?: number;
  /** The next N matching requests get 503 SERVICE_UNAVAILABLE (with Retry-After: 1). */
  status5xx?: number;
  /** The next N matching requests have their connection destroyed without a response. */
  dropConnection?: number;
  /** Trickle every matching response body at this rate. */
  slowBodyBytesPerSec?: number;
  paths?: string | RegExp;
  /** Quote (and charge) paid services at this multiple of the catalog price, e.g. 2 (a dishonest provider). */
  quoteFactor?: number;
  /** Protocol faults (a broken provider, for the conformance checker's tests): refresh tokens do not rotate. */
  noRefreshRotation?: boolean;
  /** A repeated request with the same Idempotency-Key and body creates a second provision. */
  nonIdempotentProvisioning?: boolean;
  /** An ID-JAG whose `jti` was already redeemed is accepted again. */
  acceptReplayedIdJag?: boolean;
}

/** The protocol faults the authorization server reads (a getter: `setFaults` may change them). */
export type AuthFaults = Pick<FaultSwitches, 'noRefreshRotation' | 'acceptReplayedIdJag'>;

export interface AccessTokenInfo {
  accountId: string;
  scopes: string[];
  jti: string;
  exp: number;
  clientId: string;
}

/** The part of S3a's `ProviderAuth` this server uses. */
export interface AuthPort {
  issuer: string;
  handles(pathname: string): boolean;
  callback(req: IncomingMessage, res: ServerResponse): void;
  verifyAccessToken(token: string): Promise<AccessTokenInfo>;
  stop(): Promise<void>;
}

/** S3a's `ProviderAuthOptions`, structurally. */
export interface AuthOptionsPort {
  providerId: string;
  baseUrl: string;
  dataDir?: string;
  trustedIssuers: Array<{ issuer: string; jwksUri: string }>;
  termsUrl: string;
  termsVersion: string;
  allowDynamicRegistration: boolean;
  scopes: string[];
  autoApprove?: boolean;
  seedAccounts?: Array<{ issuer: string; sub: string; email: string; consented: boolean }>;
  faults?: () => AuthFaults;
}

export interface ProviderOptions {
  /** `localcloud`, `othercloud` or any provider id. */
  id: string;
  name: string;
  /** Undefined keeps all state in memory. */
  dataDir?: string;
  port?: number;
  /** The orchestrator whose ID-JAGs this provider trusts; null trusts none (consent path only). */
  issuer: { issuer: string; jwksUri: string } | null;
  /** More trusted orchestrators (e.g. the conformance checker's issuer, `agentprov sandbox --trust-issuer`). */
  alsoTrust?: Array<{ issuer: string; jwksUri: string }>;
  rail: { url: string; clientSecret: string };
  autoApprove?: boolean;
  catalog: ServiceDefinition[];
  faults?: FaultSwitches;
  /** RFC 7591 registration at the AS. Default: every provider but `localcloud`. */
  dynamicRegistration?: boolean;
  termsVersion?: string;
  seedAccounts?: AuthOptionsPort['seedAccounts'];
  /** How long an async provision stays pending. Default 1000 ms. */
  asyncDelayMs?: number;
}

export interface ProviderResourceView {
  id: string;
  accountId: string;
  service: string;
  name: string;
  status: 'pending' | 'active' | 'failed' | 'deleted';
  createdAt: string;
  resource: Record<string, string | number | boolean>;
}
