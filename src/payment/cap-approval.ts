/**
 * The CLI's side of approving a cap raise (docs/protocol-auth.md §10):
 *
 * - start: a device authorization (RFC 8628) at the orchestrator's identity
 *   provider for the pending change, as RFC 9396 `authorization_details` of
 *   type `spending_cap` with the cap keeper as RFC 8707 `resource`, and
 *   `max_age=0` (the identity provider makes the human sign in on the
 *   approval page in any case);
 * - an agent's pending approval lives in the vault (`pending_cap_raise`: the
 *   device code is the secret) until `budget set … --complete` polls it;
 * - poll: openid-client's device grant polling; the approval token it yields
 *   is taught to the redactor at once and never stored;
 * - verify (the ledger's raises): the token's signature against the
 *   identity provider's JWKS (fetched bounded, zod-parsed), issuer, audience
 *   LEDGER_RESOURCE, expiry and details (verifyCapApproval); the ledger then
 *   matches it to its pending change and records its single use.
 */
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import type * as oidc from 'openid-client';
import * as z from 'zod';
import { configuredIssuer } from '../auth/orchestrator-config.js';
import { pollDeviceAuthorization, startDeviceAuthorization } from '../auth/device.js';
import { discoverIssuer } from '../auth/issuer.js';
import { StoredPending, type PendingSignIn } from '../auth/store.js';
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import { createFetcher } from '../http/fetch.js';
import { CAP_APPROVAL_REQUEST_SCOPE, CapApprovalError, detailFor, LEDGER_RESOURCE, PendingCapChange, SpendingCapDetail, verifyCapApproval, type CapApprovalClaims } from '../wire/cap-approval.js';

export const PENDING_CAP_ENTRY = 'pending_cap_raise';

const Token = z.string().min(1).max(16_384);

export const StoredPendingRaise = StoredPending.extend({
  change: PendingCapChange,
  billed_by: z.enum(['rail', 'provider']),
});
export type StoredPendingRaise = z.infer<typeof StoredPendingRaise>;

const nowSeconds = (deps: Pick<Deps, 'clock'>): number => Math.floor(deps.clock.now().getTime() / 1000);

export interface StartedApproval {
  config: oidc.Configuration;
  pending: PendingSignIn;
}

/** Asks the identity provider to let the human approve `change`. */
export async function startApproval(deps: Deps, change: PendingCapChange): Promise<StartedApproval> {
  const { issuer, clientId } = await configuredIssuer(deps);
  const config = await discoverIssuer(issuer, clientId);
  const pending = await startDeviceAuthorization(config, nowSeconds(deps), CAP_APPROVAL_REQUEST_SCOPE, {
    resource: change.resource,
    authorization_details: JSON.stringify([detailFor(change)]),
    max_age: '0',
  });
  deps.io.redactor.add(pending.device_code);
  return { config, pending };
}

export function pendingRaiseEntry(started: PendingSignIn, change: PendingCapChange, billedBy: 'rail' | 'provider'): StoredPendingRaise {
  return StoredPendingRaise.parse({ v: 1, ...started, change, billed_by: billedBy });
}

export async function readPendingRaise(deps: Deps): Promise<StoredPendingRaise | undefined> {
  const raw = await (await deps.vault()).get(PENDING_CAP_ENTRY);
  if (raw === undefined) return undefined;
  const parsed = StoredPendingRaise.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

export function pendingOf(p: StoredPendingRaise): PendingSignIn {
  const { v: _v, change: _c, billed_by: _b, ...pending } = p;
  return pending;
}

const ApprovalResponse = z.looseObject({
  access_token: Token,
  id_token: Token.optional(),
  authorization_details: z.array(z.unknown()).length(1).optional(),
});

/**
 * One poll (or polls for up to `waitSeconds`) of the approval's device
 * authorization: the approval token once the human approved, undefined while
 * they have not. Denied → AUTHORIZATION_DENIED, expired → AUTHORIZATION_EXPIRED.
 */
export async function pollApproval(deps: Deps, config: oidc.Configuration, pending: PendingSignIn, change: PendingCapChange, waitSeconds: number): Promise<string | undefined> {
  const outcome = await pollDeviceAuthorization(config, pending, nowSeconds(deps), waitSeconds);
  if (outcome.kind === 'pending') return undefined;
  const parsed = ApprovalResponse.safeParse(outcome.tokens);
  if (!parsed.success) {
    throw new AgentprovError('INVALID_AUTHORIZATION_RESPONSE', 'the identity provider answered the approval without an approval token', { details: { issuer: pending.issuer, step: 'device' } });
  }
  deps.io.redactor.add(parsed.data.access_token);
  if (parsed.data.id_token) deps.io.redactor.add(parsed.data.id_token);
  // The response repeats what was approved (RFC 9396 §7): it must be the change asked for.
  const echoed = parsed.data.authorization_details?.[0];
  if (echoed !== undefined && JSON.stringify(SpendingCapDetail.safeParse(echoed).data) !== JSON.stringify(detailFor(change))) {
    throw new AgentprovError('INVALID_AUTHORIZATION_RESPONSE', 'the identity provider approved another change than the one asked for', { details: { issuer: pending.issuer, step: 'device' } });
  }
  return parsed.data.access_token;
}

const MAX_JWKS_BYTES = 64 * 1024;
const JWKS_TIMEOUT_MS = 10_000;
const Jwks = z.object({ keys: z.array(z.looseObject({ kty: z.string().max(16), kid: z.string().max(256).optional() })).min(1).max(32) });

/** The identity provider's public keys (its `jwks_uri`), fetched bounded and zod-parsed. */
async function identityProviderKeys(config: oidc.Configuration): Promise<JSONWebKeySet> {
  const meta = config.serverMetadata();
  const unusable = (why: string): AgentprovError =>
    new AgentprovError('ISSUER_METADATA_INVALID', `the identity provider's signing keys are unusable: ${why}`, { details: { issuer: meta.issuer, step: 'discovery' } });
  if (!meta.jwks_uri) throw unusable('its metadata names no jwks_uri');
  const fetcher = createFetcher({ headersTimeoutMs: JWKS_TIMEOUT_MS, bodyTimeoutMs: JWKS_TIMEOUT_MS });
  let body: Buffer;
  try {
    const doc = await fetcher.get(meta.jwks_uri, { signal: AbortSignal.timeout(JWKS_TIMEOUT_MS), maxBytes: MAX_JWKS_BYTES, followRedirects: false });
    body = doc.body ?? Buffer.alloc(0);
  } catch (err) {
    throw new AgentprovError('ISSUER_UNREACHABLE', `the identity provider ${meta.issuer} did not give its signing keys (${(err as Error).message.slice(0, 200)})`, {
      details: { issuer: meta.issuer, step: 'discovery' },
      cause: err,
    });
  } finally {
    await fetcher.close().catch(() => undefined);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw unusable('not JSON');
  }
  const parsed = Jwks.safeParse(raw);
  if (!parsed.success) throw unusable(`${parsed.error.issues[0]?.path.join('.') || '(root)'}: ${parsed.error.issues[0]?.message}`);
  return parsed.data as JSONWebKeySet;
}

/** Verifies approval tokens for agentprov's ledger against the configured identity provider. */
export function ledgerApprovalVerifier(deps: Deps): (token: string) => Promise<CapApprovalClaims> {
  return async (token) => {
    const { issuer, clientId } = await configuredIssuer(deps);
    const config = await discoverIssuer(issuer, clientId);
    const keys = createLocalJWKSet(await identityProviderKeys(config));
    return verifyCapApproval(token, { issuer: config.serverMetadata().issuer, audience: LEDGER_RESOURCE, keys, now: deps.clock.now() });
  };
}

export { CapApprovalError };
