/**
 * Spending caps and the spend view (user side).
 *
 * Lowering a cap (or setting it to the same value) is always allowed. A raise
 * is never applied on the strength of a session (docs/protocol-auth.md §10):
 * without an approval it becomes a pending change the human must approve at
 * the identity provider (CAP_RAISE_APPROVAL_REQUIRED); with one, the token's
 * signature, issuer and audience were checked by the caller
 * (verifyCapApproval) and here it must approve exactly this pending change,
 * for this user, unexpired and unused (checkApproval). Applying marks the
 * change used, in the same state update.
 */
import { randomBytes } from 'node:crypto';
import {
  appliedChange,
  checkApproval,
  GLOBAL_CAP,
  isRaise,
  newChange,
  pruneChanges,
  type CapApprovalClaims,
  type CapApprovalError,
  type StoredCapChange,
} from '../../wire/cap-approval.js';
import { RAIL_CURRENCY, type CapResponse, type SpendResponse } from '../../wire/rail.js';
import { globalCap, monthOf, providerCap, totalUsage, usageByProvider, type RailState } from './state.js';

export interface CapChange {
  user: string;
  now: number;
  /** A provider id, or null for the global cap. */
  provider: string | null;
  /** Minor units; null (global only) removes the cap. */
  amount: number | null;
  /** The verified approval token's claims, when the request carried one. */
  approval?: CapApprovalClaims;
}

export type CapOutcome =
  | { kind: 'changed'; response: CapResponse; change?: StoredCapChange }
  | { kind: 'approval_required'; change: StoredCapChange }
  | { kind: 'refused'; error: CapApprovalError };

export function setCap(draft: RailState, change: CapChange): CapOutcome {
  const { user, provider, amount, now } = change;
  const target = provider ?? GLOBAL_CAP;
  const previous = provider === null ? globalCap(draft, user) : providerCap(draft, user, provider);
  let applied: StoredCapChange | undefined;
  if (isRaise(previous, amount)) {
    draft.cap_changes = pruneChanges(draft.cap_changes, now);
    if (!change.approval) {
      const pending = newChange(`capchg_${randomBytes(18).toString('base64url')}`, user, target, amount, previous, now);
      draft.cap_changes.push(pending);
      return { kind: 'approval_required', change: pending };
    }
    const i = draft.cap_changes.findIndex((c) => c.id === change.approval!.detail.identifier && c.user === user);
    const refused = checkApproval(draft.cap_changes[i], change.approval, { provider: target, amount }, previous, now);
    if (refused) return { kind: 'refused', error: refused };
    applied = appliedChange(draft.cap_changes[i]!, change.approval, now);
    draft.cap_changes[i] = applied;
  }
  const caps = (draft.caps[user] ??= { global: null, providers: {} });
  if (provider === null) caps.global = amount;
  else if (amount === null) throw new Error('a provider cap cannot be removed');
  else caps.providers[provider] = amount;
  return {
    kind: 'changed',
    response: {
      scope: provider === null ? 'global' : 'provider',
      provider,
      cap: amount,
      previous_cap: previous,
      currency: RAIL_CURRENCY,
      ...(applied ? { change: { id: applied.id, approved_by: applied.approved_by!, approved_at: applied.approved_at!, authenticated_at: applied.authenticated_at! } } : {}),
    },
    ...(applied ? { change: applied } : {}),
  };
}

export function spendView(state: Readonly<RailState>, user: string, now: number): SpendResponse {
  const usage = usageByProvider(state, user, now);
  const ids = new Set([...Object.keys(state.caps[user]?.providers ?? {}), ...usage.keys()]);
  const providers = [...ids].sort().map((provider) => {
    const { spent, held } = usage.get(provider) ?? { spent: 0, held: 0 };
    const cap = providerCap(state, user, provider);
    return { provider, cap, spent, held, remaining: Math.max(0, cap - spent - held) };
  });
  return {
    month: monthOf(now),
    currency: RAIL_CURRENCY,
    global_cap: globalCap(state, user),
    ...totalUsage(usage),
    providers,
  };
}
