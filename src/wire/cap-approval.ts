/**
 * Approving a raise of a spending cap (docs/protocol-auth.md §10), shared by
 * the CLI, agentprov's ledger, the sandbox rail and the sandbox identity
 * provider.
 *
 * A raise is never applied on the strength of a session. It becomes a
 * pending change (at the rail, or in agentprov's own ledger) with an id; the
 * human approves exactly that change at the orchestrator's identity provider
 * through an RFC 8628 device authorization request that carries it as RFC 9396
 * `authorization_details` of type `spending_cap` and names the cap keeper as
 * its RFC 8707 `resource`. The identity provider makes the human sign in on
 * the approval page, whatever session it holds, and issues a short-lived JWT
 * access token (RFC 9068, `typ: at+jwt`) for that resource whose
 * `authorization_details` are the approved change. The cap keeper applies
 * the change only for such a token: its signature, issuer and audience, and
 * its `authorization_details` equal to the pending change (which target,
 * which new and old amount), issued and authenticated after the change was
 * requested, unexpired, and never used before.
 */
import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import * as z from 'zod';
import { Currency, IsoDateTime, MinorAmount, ProviderId } from './rail.js';

/** RFC 9396 `type` of the change a human approves. */
export const SPENDING_CAP_TYPE = 'spending_cap';
/** The resource scope an approval token is issued with. */
export const CAP_APPROVAL_SCOPE = 'spending_caps';
/** The `scope` of an approval request (the CLI client must ask for `openid`, as it always gets `auth_time`). */
export const CAP_APPROVAL_REQUEST_SCOPE = `openid ${CAP_APPROVAL_SCOPE}`;
/** RFC 8707 resource indicator (and token audience) of agentprov's own spending ledger. */
export const LEDGER_RESOURCE = 'urn:agentprov:spending-ledger';
/** `provider` value of the global cap (the rail's path name for it too). */
export const GLOBAL_CAP = 'global';
/** Lifetime of an approval token. */
export const APPROVAL_TOKEN_TTL_SECONDS = 120;
/** Longest `exp − iat` a cap keeper accepts. */
export const MAX_APPROVAL_TOKEN_LIFETIME_SECONDS = 600;
/** How long a pending change waits for its approval (the device code lives 600 s). */
export const CAP_CHANGE_TTL_SECONDS = 900;
/** Signature algorithms of approval tokens. */
export const APPROVAL_ALGORITHMS = ['ES256', 'RS256', 'PS256', 'EdDSA'];

export const CapChangeId = z.string().regex(/^capchg_[A-Za-z0-9_-]{16,64}$/, 'cap change id: capchg_ and 16-64 of [A-Za-z0-9_-]');
/** A provider id, or "global". */
export const CapTarget = z.union([z.literal(GLOBAL_CAP), ProviderId]);

/** The RFC 9396 authorization details object of one cap change. Amounts in minor units; null = no cap (global only). */
export const SpendingCapDetail = z.strictObject({
  type: z.literal(SPENDING_CAP_TYPE),
  /** The pending change at the cap keeper (RFC 9396 §2.2 `identifier`). */
  identifier: CapChangeId,
  /** The cap keeper: the rail's URL, or LEDGER_RESOURCE (RFC 9396 §2.2 `locations`). */
  locations: z.tuple([z.string().min(1).max(2048)]),
  provider: CapTarget,
  currency: Currency,
  /** The new monthly cap. */
  amount: MinorAmount.nullable(),
  /** The monthly cap when the change was requested. */
  previous_amount: MinorAmount.nullable(),
});
export type SpendingCapDetail = z.infer<typeof SpendingCapDetail>;

/** What a cap keeper answers a raise with (HTTP 403 CAP_RAISE_APPROVAL_REQUIRED at the rail): the change to approve. */
/** What a change is: which cap, from what to what, asked when, valid until when. */
const CapChangeFacts = z.object({
  provider: CapTarget,
  amount: MinorAmount.nullable(),
  previous_cap: MinorAmount.nullable(),
  currency: Currency,
  requested_at: IsoDateTime,
  expires_at: IsoDateTime,
});

export const PendingCapChange = CapChangeFacts.extend({
  change_id: CapChangeId,
  /** The resource indicator to ask the identity provider for (the audience of the approval). */
  resource: z.string().min(1).max(2048),
});
export type PendingCapChange = z.infer<typeof PendingCapChange>;

export function detailFor(change: PendingCapChange): SpendingCapDetail {
  return {
    type: SPENDING_CAP_TYPE,
    identifier: change.change_id,
    locations: [change.resource],
    provider: change.provider,
    currency: change.currency,
    amount: change.amount,
    previous_amount: change.previous_cap,
  };
}

/** A change as a cap keeper stores it. */
export const StoredCapChange = CapChangeFacts.extend({
  id: CapChangeId,
  /** The user's subject at the identity provider (the rail); the session's subject (the ledger). */
  user: z.string().min(1).max(255),
  status: z.enum(['pending', 'applied']),
  applied_at: IsoDateTime.optional(),
  /** The approval token's `jti`, `sub`, `iat` and `auth_time` (never the token). */
  approval_jti: z.string().max(255).optional(),
  approved_by: z.string().max(255).optional(),
  approved_at: IsoDateTime.optional(),
  authenticated_at: IsoDateTime.optional(),
});
export type StoredCapChange = z.infer<typeof StoredCapChange>;

export type CapApprovalFailure =
  /** Not a token the identity provider issued for this cap keeper (signature, issuer, audience, type, shape). */
  | 'invalid'
  /** The token or the pending change has expired. */
  | 'expired'
  /** The token approves another change: other target, amount, previous cap, or no such pending change. */
  | 'mismatch'
  /** The change was already applied with an approval. */
  | 'replayed'
  /** Approved by another user than the one who asked. */
  | 'wrong_user'
  /** Issued, or the human authenticated, before the change was requested. */
  | 'stale'
  /** The cap is no longer what the human was shown as the old cap. */
  | 'cap_changed';

export class CapApprovalError extends Error {
  constructor(
    readonly reason: CapApprovalFailure,
    message: string,
  ) {
    super(message);
    this.name = 'CapApprovalError';
  }
}

export interface CapApprovalClaims {
  jti: string;
  sub: string;
  /** Epoch seconds. */
  iat: number;
  exp: number;
  authTime: number;
  clientId: string;
  detail: SpendingCapDetail;
}

const ApprovalPayload = z.looseObject({
  jti: z.string().min(1).max(255),
  sub: z.string().min(1).max(255),
  iat: z.int().nonnegative(),
  exp: z.int().nonnegative(),
  auth_time: z.int().nonnegative(),
  client_id: z.string().min(1).max(255),
  authorization_details: z.array(z.unknown()).length(1),
});

/**
 * Checks an approval token's signature and claims: `typ` at+jwt, issuer,
 * audience = `audience` (the rail's URL or LEDGER_RESOURCE), unexpired,
 * a bounded lifetime, exactly one `spending_cap` detail located at
 * `audience`. Does not look at any pending change (checkApproval does).
 */
export async function verifyCapApproval(
  token: string,
  opts: { issuer: string; audience: string; keys: JWTVerifyGetKey; now: Date },
): Promise<CapApprovalClaims> {
  if (typeof token !== 'string' || token.length === 0 || token.length > 8192) throw new CapApprovalError('invalid', 'the approval is not a token');
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, opts.keys, {
      issuer: opts.issuer,
      audience: opts.audience,
      typ: 'at+jwt',
      algorithms: APPROVAL_ALGORITHMS,
      requiredClaims: ['jti', 'sub', 'iat', 'exp'],
      currentDate: opts.now,
      clockTolerance: 5,
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new CapApprovalError('expired', 'the approval has expired');
    throw new CapApprovalError('invalid', 'the approval is not a valid token of the identity provider for this cap keeper');
  }
  const p = ApprovalPayload.safeParse(payload);
  if (!p.success) throw new CapApprovalError('invalid', `the approval lacks ${p.error.issues[0]?.path.join('.') || 'claims'}`);
  if (p.data.exp - p.data.iat > MAX_APPROVAL_TOKEN_LIFETIME_SECONDS) throw new CapApprovalError('invalid', 'the approval lives too long');
  const detail = SpendingCapDetail.safeParse(p.data.authorization_details[0]);
  if (!detail.success) throw new CapApprovalError('invalid', 'the approval carries no spending_cap authorization details');
  if (detail.data.locations[0] !== opts.audience) throw new CapApprovalError('mismatch', 'the approval is for another cap keeper');
  return { jti: p.data.jti, sub: p.data.sub, iat: p.data.iat, exp: p.data.exp, authTime: p.data.auth_time, clientId: p.data.client_id, detail: detail.data };
}

/**
 * Does a verified approval apply `change` as requested now? Returns the
 * failure, or undefined when the cap keeper may apply it. `request` is what
 * the caller asks to set (target and amount), `current` the cap right now.
 */
export function checkApproval(
  change: StoredCapChange | undefined,
  claims: CapApprovalClaims,
  request: { provider: string; amount: number | null },
  current: number | null,
  nowMs: number,
): CapApprovalError | undefined {
  const d = claims.detail;
  if (!change || change.id !== d.identifier) return new CapApprovalError('mismatch', 'the approval is for no pending change here');
  if (change.user !== claims.sub) return new CapApprovalError('wrong_user', 'the approval was given by another user than the one who asked');
  if (change.status !== 'pending') return new CapApprovalError('replayed', 'this change was already applied: an approval is used once');
  if (Date.parse(change.expires_at) <= nowMs) return new CapApprovalError('expired', 'the pending change expired before it was approved and applied');
  const same = d.provider === change.provider && d.amount === change.amount && d.previous_amount === change.previous_cap && d.currency === change.currency;
  if (!same) return new CapApprovalError('mismatch', 'the approval is for another change than the pending one');
  if (request.provider !== change.provider || request.amount !== change.amount) {
    return new CapApprovalError('mismatch', `the approval is for ${describeTarget(change.provider)} at ${describeAmount(change.amount, change.currency)}, not this request`);
  }
  const requestedS = Math.floor(Date.parse(change.requested_at) / 1000);
  if (claims.iat < requestedS || claims.authTime < requestedS) {
    return new CapApprovalError('stale', 'the approval (or the sign-in behind it) is older than the change it claims to approve');
  }
  if (current !== change.previous_cap) return new CapApprovalError('cap_changed', 'the cap changed after this raise was requested; request it again');
  return undefined;
}

/** The change applied: what the cap keeper records (no token). */
export function appliedChange(change: StoredCapChange, claims: CapApprovalClaims, nowMs: number): StoredCapChange {
  return {
    ...change,
    status: 'applied',
    applied_at: new Date(nowMs).toISOString(),
    approval_jti: claims.jti,
    approved_by: claims.sub,
    approved_at: new Date(claims.iat * 1000).toISOString(),
    authenticated_at: new Date(claims.authTime * 1000).toISOString(),
  };
}

/** Pending changes kept per user (older ones are dropped when more are asked for). */
export const MAX_PENDING_CHANGES = 20;
/** Applied or expired changes are kept this long for the record, then dropped. */
export const KEEP_CHANGES_MS = 35 * 24 * 60 * 60 * 1000;

/** Drops old changes in place: expired or applied ones past KEEP_CHANGES_MS, and pending ones past MAX_PENDING_CHANGES per user. */
export function pruneChanges(changes: StoredCapChange[], nowMs: number): StoredCapChange[] {
  const kept = changes.filter((c) => nowMs - Date.parse(c.status === 'applied' ? (c.applied_at ?? c.expires_at) : c.expires_at) <= KEEP_CHANGES_MS);
  const pendingByUser = new Map<string, StoredCapChange[]>();
  for (const c of kept) {
    if (c.status === 'pending' && Date.parse(c.expires_at) > nowMs) pendingByUser.set(c.user, [...(pendingByUser.get(c.user) ?? []), c]);
  }
  const drop = new Set<StoredCapChange>();
  for (const list of pendingByUser.values()) for (const c of list.slice(0, Math.max(0, list.length - MAX_PENDING_CHANGES))) drop.add(c);
  return kept.filter((c) => !drop.has(c));
}

export function newChange(id: string, user: string, provider: string, amount: number | null, previous: number | null, nowMs: number): StoredCapChange {
  return {
    id,
    user,
    provider,
    amount,
    previous_cap: previous,
    currency: 'USD',
    requested_at: new Date(nowMs).toISOString(),
    expires_at: new Date(nowMs + CAP_CHANGE_TTL_SECONDS * 1000).toISOString(),
    status: 'pending',
  };
}

export function pendingView(c: StoredCapChange, resource: string): PendingCapChange {
  return {
    change_id: c.id,
    provider: c.provider,
    amount: c.amount,
    previous_cap: c.previous_cap,
    currency: c.currency,
    requested_at: c.requested_at,
    expires_at: c.expires_at,
    resource,
  };
}

export function describeTarget(provider: string): string {
  return provider === GLOBAL_CAP ? 'the global cap' : `the cap of ${provider}`;
}

export function describeAmount(amount: number | null, currency: string): string {
  return amount === null ? 'no limit' : `${(amount / 100).toFixed(2)} ${currency}`;
}

/** Is `next` a higher limit than `current`? null means "no limit". */
export const isRaise = (current: number | null, next: number | null): boolean =>
  next === null ? current !== null : current !== null && next > current;
