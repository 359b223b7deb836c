/**
 * The spending ledger's file and the accounting over it (ledger.ts is the
 * ledger's operations).
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

import { AgentprovError } from '../core/errors.js';
import { CapChangeId, StoredCapChange } from '../wire/cap-approval.js';
import { Currency, DEFAULT_PROVIDER_CAP, IdempotencyKey, IsoDateTime, MinorAmount, Month, ProviderId, RAIL_CURRENCY, ServiceId, type SpendResponse } from '../wire/rail.js';

import { capExceeded } from './rail.js';

export const LEDGER_FILE = 'ledger.json';
export const MAX_LEDGER_BYTES = 4 * 1024 * 1024;
/** A hold older than this whose add was abandoned is released on the next read. */
export const STALE_HOLD_MS = 24 * 60 * 60 * 1000;
/** Released entries are dropped after this long (their key is never presented again). */
export const KEEP_RELEASED_MS = 35 * 24 * 60 * 60 * 1000;
/** Charged entries are dropped once their month is this many months behind (they no longer count anywhere). */
export const KEEP_CHARGED_MONTHS = 13;

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

export const emptyLedger = (): LedgerFile => ({ version: 1, caps: {}, entries: {} });

export const monthOf = (d: Date): string => d.toISOString().slice(0, 7);

export function ledgerPath(stateDir: string): string {
  return join(stateDir, LEDGER_FILE);
}

export function corrupt(path: string, field: string, why: string): AgentprovError {
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

export async function writeLedgerFile(path: string, l: LedgerFile): Promise<void> {
  const text = JSON.stringify(LedgerFileSchema.parse(l), null, 1) + '\n';
  if (Buffer.byteLength(text) > MAX_LEDGER_BYTES) {
    throw new AgentprovError('LEDGER_FULL', `the spending ledger ${path} would grow past ${MAX_LEDGER_BYTES} bytes; nothing was held or charged`, { details: { path } });
  }
  await writeFileAtomic(path, text, { mode: 0o600, fsync: true });
}

export interface Usage {
  spent: number;
  held: number;
}

export function usageOf(l: LedgerFile, provider: string, now: Date, except?: string): Usage {
  const month = monthOf(now);
  const u: Usage = { spent: 0, held: 0 };
  for (const e of Object.values(l.entries)) {
    if (e.provider !== provider || e.key === except) continue;
    if (e.state === 'held') u.held += e.amount;
    else if (e.state === 'charged' && monthOf(new Date(e.charged_at ?? e.updated_at)) === month) u.spent += e.amount;
  }
  return u;
}

export const capOf = (l: LedgerFile, provider: string): number => l.caps[provider] ?? DEFAULT_PROVIDER_CAP;

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

export function monthsBetween(a: string, b: string): number {
  const [ay, am] = a.split('-').map(Number) as [number, number];
  const [by, bm] = b.split('-').map(Number) as [number, number];
  return (by - ay) * 12 + (bm - am);
}

export function noHold(path: string, key: string): AgentprovError {
  return new AgentprovError('LEDGER_NO_HOLD', `the spending ledger has no hold for this add (${key})`, { details: { path, key } });
}

/** The spend view of a ledger at `now`: every ledger provider, every capped one, every one with entries. */
export function spendOf(l: LedgerFile, now: Date): SpendResponse {
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
