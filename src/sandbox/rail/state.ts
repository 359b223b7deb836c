/**
 * The rail's ledger as persisted in `<dataDir>/rail.json`, with the derived
 * views (token status, a user's spend and holds, effective caps).
 *
 * Time rules: a hold is live while its token is neither redeemed nor past
 * `expires_at` (computed at read time, so expiry needs no sweeper); "spent"
 * counts redemptions in the current calendar month (UTC).
 */
import * as z from 'zod';
import { StoredCapChange } from '../../wire/cap-approval.js';
import { DEFAULT_PROVIDER_CAP, type PaymentTokenStatus } from '../../wire/rail.js';

const StoredToken = z.object({
  id: z.string(),
  token_hash: z.string(), // sha256 hex of the secret; the secret itself is never stored
  user: z.string(),
  provider: z.string(),
  service: z.string(),
  max_amount: z.int(),
  currency: z.literal('USD'),
  created_at: z.string(),
  expires_at: z.string(),
  redemption_id: z.string().nullable(),
  idempotency_key: z.string().nullable(),
});
const StoredRedemption = z.object({
  id: z.string(),
  payment_token_id: z.string(),
  provider: z.string(),
  service: z.string(),
  user: z.string(),
  amount: z.int(),
  currency: z.literal('USD'),
  reference: z.string(),
  redeemed_at: z.string(),
});
const StoredCaps = z.object({
  global: z.int().nullable(),
  providers: z.record(z.string(), z.int()),
});
export const RailState = z.object({
  version: z.literal(1),
  tokens: z.array(StoredToken),
  redemptions: z.array(StoredRedemption),
  caps: z.record(z.string(), StoredCaps), // by user subject
  /** Cap raises waiting for (or applied with) the human's approval; older files have none. */
  cap_changes: z.array(StoredCapChange).default([]),
});
export type StoredToken = z.infer<typeof StoredToken>;
export type StoredRedemption = z.infer<typeof StoredRedemption>;
export type StoredCaps = z.infer<typeof StoredCaps>;
export type RailState = z.infer<typeof RailState>;

export const emptyRailState = (): RailState => ({ version: 1, tokens: [], redemptions: [], caps: {}, cap_changes: [] });

/** Read-only view for tests: every token with its computed status. */
export interface LedgerSnapshot {
  tokens: Array<StoredToken & { status: PaymentTokenStatus }>;
  redemptions: StoredRedemption[];
  caps: Record<string, StoredCaps>;
  cap_changes: StoredCapChange[];
}

export function snapshot(state: Readonly<RailState>, now: number): LedgerSnapshot {
  const copy = structuredClone(state) as RailState;
  return {
    tokens: copy.tokens.map((t) => ({ ...t, status: tokenStatus(t, now) })),
    redemptions: copy.redemptions,
    caps: copy.caps,
    cap_changes: copy.cap_changes,
  };
}

export function tokenStatus(token: StoredToken, now: number): PaymentTokenStatus {
  if (token.redemption_id !== null) return 'redeemed';
  return Date.parse(token.expires_at) <= now ? 'expired' : 'held';
}

/** "2026-11" for the UTC calendar month containing `ms`. */
export const monthOf = (ms: number): string => new Date(ms).toISOString().slice(0, 7);

export interface Usage {
  spent: number;
  held: number;
}

/** Spent this month and held now, per provider, for one user. */
export function usageByProvider(state: Readonly<RailState>, user: string, now: number): Map<string, Usage> {
  const month = monthOf(now);
  const usage = new Map<string, Usage>();
  const entry = (p: string): Usage => {
    let u = usage.get(p);
    if (!u) usage.set(p, (u = { spent: 0, held: 0 }));
    return u;
  };
  for (const r of state.redemptions) {
    if (r.user === user && monthOf(Date.parse(r.redeemed_at)) === month) entry(r.provider).spent += r.amount;
  }
  for (const t of state.tokens) {
    if (t.user === user && tokenStatus(t, now) === 'held') entry(t.provider).held += t.max_amount;
  }
  return usage;
}

export function totalUsage(usage: Map<string, Usage>): Usage {
  let spent = 0;
  let held = 0;
  for (const u of usage.values()) {
    spent += u.spent;
    held += u.held;
  }
  return { spent, held };
}

export function providerCap(state: Readonly<RailState>, user: string, provider: string): number {
  return state.caps[user]?.providers[provider] ?? DEFAULT_PROVIDER_CAP;
}

export function globalCap(state: Readonly<RailState>, user: string): number | null {
  return state.caps[user]?.global ?? null;
}
