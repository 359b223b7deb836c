/**
 * agentprov's own spending ledger, for providers that bill a payment method
 * of their own instead of the orchestrator's payment rail (issue 9 §3:
 * Cloudflare charges the account's card). The cap for such a provider is
 * enforced here, per provider per month, with the rail's semantics and
 * messages (src/sandbox/rail/: mint.ts, caps.ts, state.ts):
 *
 * - a hold of the quoted amount is taken BEFORE the provider is asked, keyed
 *   by the add's Idempotency-Key: a re-run of the same add gets its own hold
 *   back, never a second one; a hold is refused with CAP_EXCEEDED (exit 4,
 *   details.source 'ledger') when spent this month + held + amount > cap;
 * - charge(key, amount) turns the hold into spending (the final amount may be
 *   lower than the hold, never higher); release(key) gives it back;
 * - "spent" counts charges made in the current UTC calendar month, "held"
 *   counts every live hold (as on the rail); caps persist across months;
 *   default DEFAULT_PROVIDER_CAP (100.00 USD); lowering a cap is immediate.
 *   A raise is never applied on the strength of a session
 *   (docs/protocol-auth.md §10): without an approval it becomes a pending
 *   change (CAP_RAISE_APPROVAL_REQUIRED); with the identity provider's
 *   approval token (signature, issuer, audience LEDGER_RESOURCE and expiry
 *   checked by the caller's verifier) it must, under the lock, approve
 *   exactly that pending change, once: who approved and when is recorded
 *   here, never the token.
 *
 * Holds: there are no payment tokens here, so nothing expires on its own.
 * An add that got a definite answer charges (active) or releases (refused,
 * failed); one that ended uncertainly (unreachable, 5xx, crash) keeps its hold
 * so that the re-run adopts it. A hold whose add was abandoned is released on
 * the next read or write of the ledger once it is older than STALE_HOLD_MS
 * (24 h) AND the caller's `abandoned` check says so (src/provision/add.ts:
 * the add's journal entry is gone, failed, or has moved on to another key).
 * Old released and charged entries are pruned so the file stays bounded.
 *
 * The file and the accounting over it (spent, held, the spend view) are
 * ledger-file.ts.
 */

import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import { appliedChange, CapApprovalError, checkApproval, LEDGER_RESOURCE, newChange, pendingView, pruneChanges, type CapApprovalClaims } from '../wire/cap-approval.js';
import { Currency, IdempotencyKey, MinorAmount, ProviderId, RAIL_CURRENCY, ServiceId, type CapResponse, type SpendResponse } from '../wire/rail.js';
import { withFileLock } from '../util/file-lock.js';
import {
  capOf,
  KEEP_CHARGED_MONTHS,
  KEEP_RELEASED_MS,
  ledgerCapExceeded,
  ledgerPath,
  monthOf,
  monthsBetween,
  noHold,
  readLedgerFile,
  spendOf,
  STALE_HOLD_MS,
  usageOf,
  writeLedgerFile,
  type LedgerEntry,
  type LedgerFile,
} from './ledger-file.js';
import { capApprovalRefused, capRaiseApprovalRequired } from './rail.js';


export const HoldRequestSchema = z.object({
  key: IdempotencyKey,
  provider: ProviderId,
  service: ServiceId,
  resource: z.string().min(1).max(63),
  description: z.string().max(200),
  amount: MinorAmount.min(1),
  currency: Currency,
  interval: z.string().max(16).optional(),
  slot: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type HoldRequest = z.infer<typeof HoldRequestSchema>;

export interface HoldResult {
  entry: LedgerEntry;
  /** True when this key already had its hold (or its charge): nothing new was held. */
  replayed: boolean;
}

export interface SetCapOptions {
  /** The signed-in user's subject at the identity provider: who asks for a raise (and must approve it). Asked only for a raise. */
  subject(): Promise<string>;
  /**
   * The approval token of a pending raise, with the verifier the caller
   * trusts (src/payment/cap-approval.ts: the identity provider's issuer and
   * keys, audience LEDGER_RESOURCE). Without it a raise becomes a pending change.
   */
  approval?: { token: string; verify(token: string): Promise<CapApprovalClaims> };
}

/** A lowering, or a raise applied with its approval (then `change` says which, and who approved it when). */
export type LedgerCapResult = CapResponse;

export interface LedgerOptions {
  /** Is the add that made this (stale) hold abandoned? Without it, holds are only ended by charge or release. */
  abandoned?(entry: LedgerEntry): Promise<boolean>;
}

export interface Ledger {
  readonly path: string;
  hold(req: HoldRequest): Promise<HoldResult>;
  /** Charge a hold: `amount` (≤ the hold; default the hold) becomes spending this month. */
  charge(key: string, amount?: number): Promise<LedgerEntry>;
  /** Give a hold back. Undefined when there is no entry for the key; refused for a charge. */
  release(key: string, reason?: string): Promise<LedgerEntry | undefined>;
  /** One entry as it is now (no lock, no sweep). */
  get(key: string): Promise<LedgerEntry | undefined>;
  /**
   * This month's spend and holds against the caps, shaped like the rail's
   * (global_cap always null). `readOnly` (e.g. `add --preflight`): no lock,
   * no sweep of stale holds, nothing written.
   */
  spend(opts?: { readOnly?: boolean }): Promise<SpendResponse>;
  /** Lowering: immediate. Raising: CAP_RAISE_APPROVAL_REQUIRED (a new pending change) without an approval, applied with one. */
  setCap(provider: string, amount: number, opts: SetCapOptions): Promise<LedgerCapResult>;
}

export function openLedger(deps: Pick<Deps, 'paths' | 'clock'>, opts: LedgerOptions = {}): Ledger {
  const path = ledgerPath(deps.paths.state);
  const iso = (d: Date): string => d.toISOString();

  /** Release stale abandoned holds and prune old entries (in place; mutate writes only when the file changed). */
  async function sweep(l: LedgerFile, now: Date): Promise<void> {
    const month = monthOf(now);
    for (const [k, e] of Object.entries(l.entries)) {
      if (e.state === 'held') {
        if (opts.abandoned && now.getTime() - Date.parse(e.updated_at) > STALE_HOLD_MS && (await opts.abandoned(e))) {
          l.entries[k] = { ...e, state: 'released', released_reason: 'abandoned', updated_at: iso(now) };
        }
      } else if (e.state === 'released') {
        if (now.getTime() - Date.parse(e.updated_at) > KEEP_RELEASED_MS) delete l.entries[k];
      } else if (monthsBetween(monthOf(new Date(e.charged_at ?? e.updated_at)), month) > KEEP_CHARGED_MONTHS) {
        delete l.entries[k];
      }
    }
  }

  /** Lock → read → sweep → change → write (only when something changed) → unlock. */
  function mutate<T>(fn: (l: LedgerFile, now: Date) => T): Promise<T> {
    return withFileLock(path, { code: 'LEDGER_LOCKED', what: 'the spending ledger' }, async () => {
      const l = await readLedgerFile(path);
      const before = JSON.stringify(l);
      const now = deps.clock.now();
      await sweep(l, now);
      const result = fn(l, now);
      if (JSON.stringify(l) !== before) await writeLedgerFile(path, l);
      return result;
    });
  }

  function assertWithinCap(l: LedgerFile, provider: string, amount: number, now: Date, except?: string): void {
    const u = usageOf(l, provider, now, except);
    const cap = capOf(l, provider);
    if (u.spent + u.held + amount > cap) throw ledgerCapExceeded(provider, cap, u, amount, monthOf(now));
  }

  return {
    path,

    hold(input) {
      const parsed = HoldRequestSchema.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new AgentprovError('INTERNAL', `refusing an invalid ledger hold (${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'invalid'})`);
      }
      const req = parsed.data;
      return mutate((l, now) => {
        const earlier = l.entries[req.key];
        if (earlier) {
          if (earlier.provider !== req.provider || earlier.service !== req.service || earlier.resource !== req.resource) {
            throw new AgentprovError('IDEMPOTENCY_KEY_REUSED', `the spending ledger already holds ${req.key} for ${earlier.provider}/${earlier.service} ${earlier.resource}`, { details: { path, key: req.key } });
          }
          if (earlier.state === 'charged') return { entry: earlier, replayed: true };
          if (earlier.state === 'held' && earlier.amount === req.amount) return { entry: earlier, replayed: true };
          // The same add asks again for another amount (a re-quote before anything was sent) or after a release: hold anew in place.
          assertWithinCap(l, req.provider, req.amount, now, req.key);
          const entry: LedgerEntry = { ...earlier, description: req.description, amount: req.amount, state: 'held', month: monthOf(now), updated_at: iso(now) };
          delete entry.released_reason;
          l.entries[req.key] = entry;
          return { entry, replayed: earlier.state === 'held' };
        }
        assertWithinCap(l, req.provider, req.amount, now);
        const entry: LedgerEntry = {
          key: req.key,
          provider: req.provider,
          service: req.service,
          resource: req.resource,
          description: req.description,
          amount: req.amount,
          currency: req.currency,
          ...(req.interval ? { interval: req.interval } : {}),
          state: 'held',
          month: monthOf(now),
          created_at: iso(now),
          updated_at: iso(now),
          ...(req.slot ? { slot: req.slot } : {}),
        };
        l.entries[req.key] = entry;
        return { entry, replayed: false };
      });
    },

    charge(key, amount) {
      if (amount !== undefined && !MinorAmount.safeParse(amount).success) throw new AgentprovError('USAGE', 'a charge is a non-negative whole number of minor units');
      return mutate((l, now) => {
        const e = l.entries[key];
        if (!e) throw noHold(path, key);
        if (e.state === 'charged') {
          if (amount === undefined || amount === e.amount) return e;
          throw new AgentprovError('LEDGER_CHARGE_CONFLICT', `the spending ledger already charged ${e.amount} for ${key}, not ${amount}`, { details: { path, key, charged: e.amount, amount } });
        }
        const final = amount ?? e.amount;
        if (final > e.amount) {
          throw new AgentprovError('LEDGER_CHARGE_ABOVE_HOLD', `refusing to record a charge of ${final} above the hold of ${e.amount} for ${e.provider}/${e.service} ${e.resource}`, {
            details: { path, key, provider: e.provider, service: e.service, held: e.amount, amount: final, currency: e.currency },
          });
        }
        // A released hold that is charged after all (the provider did take the money): the ledger records what happened.
        const entry: LedgerEntry = { ...e, state: 'charged', amount: final, charged_at: iso(now), updated_at: iso(now), ...(final !== e.amount ? { held_amount: e.amount } : {}) };
        delete entry.released_reason;
        l.entries[key] = entry;
        return entry;
      });
    },

    release(key, reason = 'released') {
      return mutate((l, now) => {
        const e = l.entries[key];
        if (!e) return undefined;
        if (e.state === 'released') return e;
        if (e.state === 'charged') {
          throw new AgentprovError('LEDGER_CHARGE_CONFLICT', `the spending ledger already charged ${key}: a charge is never released`, { details: { path, key } });
        }
        const entry: LedgerEntry = { ...e, state: 'released', released_reason: reason.slice(0, 64), updated_at: iso(now) };
        l.entries[key] = entry;
        return entry;
      });
    },

    async get(key) {
      return (await readLedgerFile(path)).entries[key];
    },

    async spend(spendOpts = {}) {
      if (spendOpts.readOnly) return spendOf(await readLedgerFile(path), deps.clock.now());
      return mutate(spendOf);
    },

    async setCap(provider, amount, capOpts) {
      if (!ProviderId.safeParse(provider).success) throw new AgentprovError('USAGE', `not a provider id: "${provider.slice(0, 64)}"`);
      if (!MinorAmount.safeParse(amount).success) throw new AgentprovError('USAGE', 'a cap is a non-negative whole number of minor units');
      // The session and the identity provider's keys are read outside the ledger lock (network); the raise test is repeated inside.
      let user: string | undefined;
      let claims: CapApprovalClaims | undefined;
      if (amount > capOf(await readLedgerFile(path), provider)) {
        user = await capOpts.subject();
        if (capOpts.approval) {
          try {
            claims = await capOpts.approval.verify(capOpts.approval.token);
          } catch (err) {
            if (err instanceof CapApprovalError) throw capApprovalRefused(err.reason, err.message, 'ledger');
            throw err;
          }
        }
      }
      const outcome = await mutate((l, now) => {
        const previous = capOf(l, provider);
        const response: LedgerCapResult = { scope: 'provider', provider, cap: amount, previous_cap: previous, currency: RAIL_CURRENCY };
        if (amount <= previous) {
          l.caps[provider] = amount;
          return { kind: 'changed' as const, response };
        }
        const changes = Object.fromEntries(pruneChanges(Object.values(l.cap_changes ?? {}), now.getTime()).map((c) => [c.id, c]));
        l.cap_changes = changes;
        if (!user) return { kind: 'raced' as const };
        if (!claims) {
          const change = newChange(`capchg_${randomBytes(18).toString('base64url')}`, user, provider, amount, previous, now.getTime());
          changes[change.id] = change;
          return { kind: 'approval_required' as const, change };
        }
        const refused = checkApproval(changes[claims.detail.identifier], claims, { provider, amount }, previous, now.getTime());
        if (refused) return { kind: 'refused' as const, refused };
        const applied = appliedChange(changes[claims.detail.identifier]!, claims, now.getTime());
        changes[applied.id] = applied;
        l.caps[provider] = amount;
        const change = { id: applied.id, approved_by: applied.approved_by!, approved_at: applied.approved_at!, authenticated_at: applied.authenticated_at! };
        return { kind: 'changed' as const, response: { ...response, change } };
      });
      if (outcome.kind === 'changed') return outcome.response;
      if (outcome.kind === 'refused') throw capApprovalRefused(outcome.refused.reason, outcome.refused.message, 'ledger');
      if (outcome.kind === 'approval_required') throw capRaiseApprovalRequired(pendingView(outcome.change, LEDGER_RESOURCE), 'ledger');
      // The cap was lowered by another process between the two reads: ask again.
      return this.setCap(provider, amount, capOpts);
    },
  };
}
