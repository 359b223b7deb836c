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
 *   (docs/protocol-auth.md §10): asked without an approval, it becomes a
 *   pending change in `cap_changes` (CAP_RAISE_APPROVAL_REQUIRED, whose
 *   details the human approves at the orchestrator's identity provider);
 *   asked with the identity provider's approval token, the caller's verifier
 *   checks its signature, issuer, audience (LEDGER_RESOURCE) and expiry, and
 *   under the lock the token must approve exactly that pending change (target,
 *   new and old cap, the same user, issued after the request) and the change
 *   must not have been applied before: single use is recorded here, with
 *   who approved it and when, never the token.
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
 * Global cap: the ledger has none, and ledger spending does not count against
 * the rail's global cap (the rail never sees it). `budget` shows both side by
 * side, each row saying who bills.
 *
 * Trust: this is a guard on every agentprov command (an agent driving the CLI
 * cannot spend past the cap or raise it without the human's approval), not a
 * structural bound like the rail: whoever can rewrite files in agentprov's
 * state directory can rewrite this one too.
 *
 * File: `<paths.state>/ledger.json`, zod-parsed on every read, at most 4 MiB,
 * written atomically (mode 0600) under a cross-process lock (LEDGER_LOCKED).
 * A file that does not parse is never replaced: LEDGER_CORRUPT names the file
 * and the field, and nothing is held or charged. Never a secret in here.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import * as z from 'zod';
import { EXTERNALLY_BILLED } from '../catalog/builtin/index.js';
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import {
  appliedChange,
  CapApprovalError,
  CapChangeId,
  checkApproval,
  LEDGER_RESOURCE,
  newChange,
  pendingView,
  pruneChanges,
  StoredCapChange,
  type CapApprovalClaims,
} from '../wire/cap-approval.js';
import {
  Currency,
  DEFAULT_PROVIDER_CAP,
  IdempotencyKey,
  IsoDateTime,
  MinorAmount,
  Month,
  ProviderId,
  RAIL_CURRENCY,
  ServiceId,
  type CapResponse,
  type SpendResponse,
} from '../wire/rail.js';
import { withFileLock } from '../util/file-lock.js';
import { capApprovalRefused, capExceeded, capRaiseApprovalRequired } from './rail.js';
import { randomBytes } from 'node:crypto';

export const LEDGER_FILE = 'ledger.json';
export const MAX_LEDGER_BYTES = 4 * 1024 * 1024;
/** A hold older than this whose add was abandoned is released on the next read. */
export const STALE_HOLD_MS = 24 * 60 * 60 * 1000;
/** Released entries are dropped after this long (their key is never presented again). */
const KEEP_RELEASED_MS = 35 * 24 * 60 * 60 * 1000;
/** Charged entries are dropped once their month is this many months behind (they no longer count anywhere). */
const KEEP_CHARGED_MONTHS = 13;

/**
 * Providers whose built-in implementation bills a payment method of its own:
 * their caps live in this ledger, not at the rail (src/catalog/builtin/index.ts
 * says which).
 */
export const LEDGER_PROVIDERS: ReadonlySet<string> = EXTERNALLY_BILLED;

export function billedByLedger(providerId: string): boolean {
  return LEDGER_PROVIDERS.has(providerId);
}

export const LedgerEntryState = z.enum(['held', 'charged', 'released']);

export const LedgerEntrySchema = z.looseObject({
  /** The add's Idempotency-Key (also the key of the entry in `entries`). */
  key: IdempotencyKey,
  provider: ProviderId,
  service: ServiceId,
  /** The resource's name in the manifest. */
  resource: z.string().min(1).max(63),
  /** What is bought, as the provider's quote said (shown in `budget`). */
  description: z.string().max(200),
  /** Minor units: held while `held`, charged once `charged`. */
  amount: MinorAmount,
  currency: Currency,
  interval: z.string().max(16).optional(),
  state: LedgerEntryState,
  /** UTC YYYY-MM of the hold. */
  month: Month,
  created_at: IsoDateTime,
  /** Last change; for a hold, when it was last taken or renewed. */
  updated_at: IsoDateTime,
  /** When it was charged: "spent" counts charges by this month. */
  charged_at: IsoDateTime.optional(),
  /** What was held when the charge was lower. */
  held_amount: MinorAmount.optional(),
  released_reason: z.string().max(64).optional(),
  /** The add's journal slot, for the abandoned-hold check. */
  slot: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

export const LedgerFileSchema = z
  .looseObject({
    version: z.literal(1),
    /** Monthly cap per provider, minor units (USD); absent → DEFAULT_PROVIDER_CAP. */
    caps: z.record(ProviderId, MinorAmount),
    entries: z.record(IdempotencyKey, LedgerEntrySchema),
    /** Cap raises waiting for (or applied with) the human's approval, by change id. */
    cap_changes: z.record(CapChangeId, StoredCapChange).optional(),
  })
  .superRefine((l, ctx) => {
    for (const [k, e] of Object.entries(l.entries)) {
      if (e.key !== k) ctx.addIssue({ code: 'custom', path: ['entries', k, 'key'], message: 'does not match the entry it is stored under' });
    }
    for (const [k, c] of Object.entries(l.cap_changes ?? {})) {
      if (c.id !== k) ctx.addIssue({ code: 'custom', path: ['cap_changes', k, 'id'], message: 'does not match the change it is stored under' });
    }
  });
export type LedgerFile = z.infer<typeof LedgerFileSchema>;

const emptyLedger = (): LedgerFile => ({ version: 1, caps: {}, entries: {} });

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

export const monthOf = (d: Date): string => d.toISOString().slice(0, 7);

export function ledgerPath(stateDir: string): string {
  return join(stateDir, LEDGER_FILE);
}

function corrupt(path: string, field: string, why: string): AgentprovError {
  return new AgentprovError('LEDGER_CORRUPT', `the spending ledger ${path} is unreadable at ${field}: ${why}; it was left as it is and nothing was held or charged`, {
    details: { path, field },
    nextSteps: [`a human: repair ${path} or move it aside (its caps and holds are then forgotten), then run the same command again`],
  });
}

/** The ledger file as it is on disk; absent → empty. */
export async function readLedgerFile(path: string): Promise<LedgerFile> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyLedger();
    throw err;
  }
  let buf: Buffer;
  try {
    const { size } = await fh.stat();
    if (size > MAX_LEDGER_BYTES) throw corrupt(path, '(file)', `larger than ${MAX_LEDGER_BYTES} bytes`);
    buf = Buffer.alloc(size);
    const { bytesRead } = await fh.read(buf, 0, size, 0);
    buf = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch {
    throw corrupt(path, '(root)', 'not valid JSON');
  }
  const parsed = LedgerFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw corrupt(path, issue?.path.map(String).join('.') || '(root)', (issue?.message ?? 'invalid').slice(0, 200));
  }
  return parsed.data;
}

async function writeLedgerFile(path: string, l: LedgerFile): Promise<void> {
  const text = JSON.stringify(LedgerFileSchema.parse(l), null, 1) + '\n';
  if (Buffer.byteLength(text) > MAX_LEDGER_BYTES) {
    throw new AgentprovError('LEDGER_FULL', `the spending ledger ${path} would grow past ${MAX_LEDGER_BYTES} bytes; nothing was held or charged`, { details: { path } });
  }
  await writeFileAtomic(path, text, { mode: 0o600, fsync: true });
}

interface Usage {
  spent: number;
  held: number;
}

function usageOf(l: LedgerFile, provider: string, now: Date, except?: string): Usage {
  const month = monthOf(now);
  const u: Usage = { spent: 0, held: 0 };
  for (const e of Object.values(l.entries)) {
    if (e.provider !== provider || e.key === except) continue;
    if (e.state === 'held') u.held += e.amount;
    else if (e.state === 'charged' && monthOf(new Date(e.charged_at ?? e.updated_at)) === month) u.spent += e.amount;
  }
  return u;
}

const capOf = (l: LedgerFile, provider: string): number => l.caps[provider] ?? DEFAULT_PROVIDER_CAP;

/** CAP_EXCEEDED exactly as the rail's refusal reads, with details.source 'ledger'. */
export function ledgerCapExceeded(provider: string, cap: number, u: Usage, needed: number, month: string): AgentprovError {
  return capExceeded({ scope: 'provider', provider, cap, spent: u.spent, held: u.held, needed, currency: RAIL_CURRENCY }, `the monthly cap for provider ${provider} would be exceeded`, 'ledger', { month });
}

/** The same test on a spend view (said early, before anything is asked; the hold stays the authority). */
export function checkLedgerSpend(spend: SpendResponse, provider: string, needed: number): AgentprovError | undefined {
  const own = spend.providers.find((p) => p.provider === provider);
  const u = { spent: own?.spent ?? 0, held: own?.held ?? 0 };
  const cap = own?.cap ?? DEFAULT_PROVIDER_CAP;
  return u.spent + u.held + needed > cap ? ledgerCapExceeded(provider, cap, u, needed, spend.month) : undefined;
}

function monthsBetween(a: string, b: string): number {
  const [ay, am] = a.split('-').map(Number) as [number, number];
  const [by, bm] = b.split('-').map(Number) as [number, number];
  return (by - ay) * 12 + (bm - am);
}

function noHold(path: string, key: string): AgentprovError {
  return new AgentprovError('LEDGER_NO_HOLD', `the spending ledger has no hold for this add (${key})`, { details: { path, key } });
}

/** The spend view of a ledger at `now`: every ledger provider, every capped one, every one with entries. */
function spendOf(l: LedgerFile, now: Date): SpendResponse {
  const ids = new Set<string>([...LEDGER_PROVIDERS, ...Object.keys(l.caps)]);
  for (const e of Object.values(l.entries)) ids.add(e.provider);
  let spent = 0;
  let held = 0;
  const providers = [...ids].sort().map((provider) => {
    const u = usageOf(l, provider, now);
    const cap = capOf(l, provider);
    spent += u.spent;
    held += u.held;
    return { provider, cap, spent: u.spent, held: u.held, remaining: Math.max(0, cap - u.spent - u.held) };
  });
  return { month: monthOf(now), currency: RAIL_CURRENCY, global_cap: null, spent, held, providers };
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
