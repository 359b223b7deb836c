/**
 * The local provisioning journal: one small JSON file per intended add, under
 * `<state>/journal/`, written atomically. It holds the Idempotency-Key that
 * the provisioning request carries (docs/protocol.md §4.2) and is written
 * BEFORE the request is sent, so a crash, a timeout or a dropped connection
 * at any moment leaves behind the key that a re-run presents again: the
 * provider answers the same provision, never a second one.
 *
 * States: `intended` (key chosen, nothing sent) → `sent` (the request may
 * have reached the provider) → `pending` (202, polling) → `active` (recorded
 * in the manifest) or `failed` (the provider refused; the key was never
 * bound, a later add starts over with a fresh key).
 *
 * The journal slot is derived from (manifest path, provider, service, name),
 * so the same `add` re-run, `add --complete` and `up` for the same manifest
 * entry all find the same slot and the same key. Never a secret in here.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import * as z from 'zod';
import type { Deps } from '../core/deps.js';
import { openLedger, type Ledger } from '../payment/ledger.js';
import { type LedgerEntry } from '../payment/ledger-file.js';

export const JOURNAL_STATES = ['intended', 'sent', 'pending', 'active', 'failed'] as const;
export type JournalState = (typeof JOURNAL_STATES)[number];

const MAX_ENTRY_BYTES = 256 * 1024;

export const JournalEntrySchema = z.object({
  v: z.literal(1),
  /** What the entry is for: an add (absent: entries written before updates existed) or an update of a provisioned resource (issue 21, src/provision/update.ts). */
  op: z.enum(['add', 'update']).optional(),
  slot: z.string().regex(/^[0-9a-f]{64}$/),
  manifest: z.string().min(1).max(4096),
  provider: z.string().min(1).max(64),
  service: z.string().min(1).max(128),
  name: z.string().min(1).max(63),
  config: z.record(z.string(), z.unknown()),
  idempotency_key: z.string().regex(/^[\x21-\x7e]{1,255}$/),
  state: z.enum(JOURNAL_STATES),
  provision_id: z.string().max(256).optional(),
  provision_status: z.string().max(32).optional(),
  created_at: z.string().max(64),
  updated_at: z.string().max(64),
  /** Why the provider refused (state `failed`): an error code, never a secret. */
  error: z.string().max(64).optional(),
  /** The payment token minted for this add (issue 7): its id and bounds, never the token itself. */
  payment: z.object({ token_id: z.string().max(256), max_amount: z.int().nonnegative(), currency: z.string().max(8), expires_at: z.string().max(64) }).optional(),
  /** A hold in agentprov's spending ledger under this entry's Idempotency-Key (externally billed providers, issue 9 §3): what was held. */
  ledger_hold: z.object({ amount: z.int().nonnegative(), currency: z.string().max(8), interval: z.string().max(16).optional() }).optional(),
  /** What the provider charged (amount in minor units). */
  charge: z.object({ amount: z.int().nonnegative(), currency: z.string().max(8), interval: z.string().max(16).optional() }).optional(),
});
export type JournalEntry = z.infer<typeof JournalEntrySchema>;

export function journalDir(stateDir: string): string {
  return join(stateDir, 'journal');
}

/** The stable slot of one manifest entry: sha256 over (manifest path, provider, service, name). */
export function journalSlot(manifestPath: string, provider: string, service: string, name: string): string {
  return createHash('sha256').update(JSON.stringify([manifestPath, provider, service, name]), 'utf8').digest('hex');
}

/** The slot of updates to one manifest entry (at most one unfinished at a time); never an add's slot. */
export function updateSlot(manifestPath: string, provider: string, name: string): string {
  return journalSlot(manifestPath, provider, '#update', name);
}

function entryPath(stateDir: string, slot: string): string {
  return join(journalDir(stateDir), `${slot}.json`);
}

/** A new Idempotency-Key: `agentprov-` and a random UUID (visible ASCII, ≤ 255). */
export function newIdempotencyKey(): string {
  return `agentprov-${randomUUID()}`;
}

/** One entry, or undefined when absent or unreadable (an unreadable entry is set aside, never trusted). */
export async function readJournal(stateDir: string, slot: string): Promise<JournalEntry | undefined> {
  let buf: Buffer;
  try {
    buf = await readFile(entryPath(stateDir, slot));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (buf.length > MAX_ENTRY_BYTES) return undefined;
  try {
    const parsed = JournalEntrySchema.safeParse(JSON.parse(buf.toString('utf8')));
    return parsed.success && parsed.data.slot === slot ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Write (atomically, fsynced) before anything that depends on it happens. */
export async function writeJournal(stateDir: string, entry: JournalEntry): Promise<void> {
  await mkdir(journalDir(stateDir), { recursive: true, mode: 0o700 });
  const text = JSON.stringify(JournalEntrySchema.parse(entry)) + '\n';
  await writeFileAtomic(entryPath(stateDir, entry.slot), text, { mode: 0o600, fsync: true });
}

export async function advanceJournal(stateDir: string, entry: JournalEntry, patch: Partial<Omit<JournalEntry, 'v' | 'slot'>>, now: Date): Promise<JournalEntry> {
  const next: JournalEntry = { ...entry, ...patch, updated_at: now.toISOString() };
  await writeJournal(stateDir, next);
  return next;
}

export async function deleteJournal(stateDir: string, slot: string): Promise<void> {
  await rm(entryPath(stateDir, slot), { force: true });
}

/** Every readable add entry (for `list` and for resuming an add whose name was defaulted); updates are not adds. */
export async function listJournal(stateDir: string): Promise<JournalEntry[]> {
  let names: string[];
  try {
    names = await readdir(journalDir(stateDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: JournalEntry[] = [];
  for (const n of names) {
    const m = /^([0-9a-f]{64})\.json$/.exec(n);
    if (!m) continue;
    const e = await readJournal(stateDir, m[1]!);
    if (e && e.op !== 'update') out.push(e);
  }
  return out;
}

/** States in which the request may have reached the provider: resume with the same key. */
export function isUnfinished(e: JournalEntry): boolean {
  return e.state === 'intended' || e.state === 'sent' || e.state === 'pending';
}

/**
 * Is the add that made this hold abandoned? Its journal entry is gone (or
 * unreadable, which a re-run treats as gone), failed, or now carries another
 * Idempotency-Key. An entry still `intended`/`sent`/`pending` with the same
 * key keeps its hold: the same add re-run adopts it.
 */
export function journalAbandons(stateDir: string): (e: LedgerEntry) => Promise<boolean> {
  return async (e) => {
    if (!e.slot) return false;
    const j = await readJournal(stateDir, e.slot);
    return !j || j.idempotency_key !== e.key || j.state === 'failed';
  };
}

/** agentprov's spending ledger, releasing stale holds of abandoned adds (see payment/ledger.ts). */
export function ledgerFor(deps: Pick<Deps, 'paths' | 'clock'>): Ledger {
  return openLedger(deps, { abandoned: journalAbandons(deps.paths.state) });
}
