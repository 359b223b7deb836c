/**
 * What one audit line holds, and the schema every line read back from disk
 * is parsed with (the file is local, but anyone with the user's rights can
 * edit it, so it is outside input like any other).
 *
 * A line is one JSON object written in canonical form (canonical.ts): the
 * caller's record (command, provider, resource, decision, details), who
 * wrote it (pid, parent pid and command line, agentprov's own argv, all
 * sanitized), and the chain: `seq` (1, 2, …), `prev` (the previous line's
 * `hash`, or GENESIS for line 1) and `hash` (sha256 of the canonical line
 * without `hash`). Never a secret: appendAudit refuses a line that contains
 * one the process knows (see log.ts).
 */
import * as z from 'zod';

export const AUDIT_FORMAT_VERSION = 1;

/** `prev` of the first line. */
export const GENESIS = '0'.repeat(64);

/** Limits: a line never exceeds MAX_LINE_BYTES, so the tail can be read in one bounded read. */
export const LIMITS = {
  name: 64,
  id: 256,
  detailKeys: 32,
  detailKey: 64,
  detailValue: 1024,
  argCount: 64,
  arg: 256,
  parentCmdline: 1024,
  /** Far above any line the other limits allow; only bounds memory when reading. */
  lineBytes: 256 * 1024,
} as const;
export const MAX_LINE_BYTES = LIMITS.lineBytes;

export type AuditDetailValue = string | number | boolean | null;

/**
 * What a command records. `decision` says what happened, in lower_snake:
 * e.g. `provisioned`, `removed`, `rotated`, `terms_accepted`,
 * `consent_granted`, `refused`, `failed`, `payment_token_issued`,
 * `cap_changed`, `credential_minted`. `details` holds small scalar facts
 * (ids, amounts, exit codes, TTLs), never a secret.
 */
export interface AuditRecord {
  command: string;
  provider?: string;
  resource?: string;
  decision: string;
  details?: Record<string, AuditDetailValue>;
}

/** One line of the log as written and as read back. */
export interface AuditEntry extends AuditRecord {
  v: typeof AUDIT_FORMAT_VERSION;
  seq: number;
  /** ISO 8601. */
  time: string;
  pid: number;
  ppid: number;
  /** The parent process's command line (Linux /proc), sanitized; null when unknown. */
  parent_cmdline: string | null;
  /** agentprov's own arguments, sanitized. */
  argv: string[];
  prev: string;
  hash: string;
}

const Hash = z.string().regex(/^[0-9a-f]{64}$/);
const Name = z.string().min(1).max(LIMITS.name);
const Id = z.string().max(LIMITS.id);

export const AuditLineSchema = z.strictObject({
  v: z.literal(AUDIT_FORMAT_VERSION),
  seq: z.number().int().positive(),
  time: z.string().min(1).max(40),
  pid: z.number().int().nonnegative(),
  ppid: z.number().int().nonnegative(),
  parent_cmdline: z.string().max(LIMITS.parentCmdline).nullable(),
  argv: z.array(z.string().max(LIMITS.arg)).max(LIMITS.argCount),
  command: Name,
  provider: Id.optional(),
  resource: Id.optional(),
  decision: Name,
  details: z
    .record(z.string().min(1).max(LIMITS.detailKey), z.union([z.string().max(LIMITS.detailValue), z.number(), z.boolean(), z.null()]))
    .refine((d) => Object.keys(d).length <= LIMITS.detailKeys, `at most ${LIMITS.detailKeys} details`)
    .optional(),
  prev: Hash,
  hash: Hash,
});

/** The chain head kept beside the log, so cutting whole lines off the end is detected too. */
export const AuditHeadSchema = z.strictObject({ seq: z.number().int().nonnegative(), hash: Hash });
export type AuditHead = z.infer<typeof AuditHeadSchema>;
