/**
 * The local audit log (issue 6 item 4): one hash-chained JSON line per
 * decision (add, remove, rotate, terms accepted, consent, payment, run),
 * in `<state>/audit.jsonl`, with its chain head in `audit.jsonl.head`.
 *
 * appendAudit takes the cross-process lock, re-reads the last line and the
 * head inside it, refuses to continue a log whose tail does not verify, and
 * appends one canonical line. It refuses (INTERNAL) a line that contains any
 * secret the process knows: the audit log never holds a secret.
 *
 * This is the module other code imports: it re-exports the record types
 * and verifyAudit.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentprovError } from '../core/errors.js';
import type { Redactor } from '../core/io.js';
import { canonicalJson, lineHash } from './canonical.js';
import { parentCommandLine, sanitizeArgs } from './context.js';
import { readHead, writeHead } from './head.js';
import { withAuditLock } from './lock.js';
import { AUDIT_FORMAT_VERSION, AuditLineSchema, GENESIS, LIMITS, MAX_LINE_BYTES, type AuditEntry, type AuditRecord } from './record.js';
import { parseLine } from './verify.js';

export type { AuditDetailValue, AuditEntry, AuditRecord } from './record.js';
export { verifyAudit, scanAudit, type AuditBreak, type AuditScan, type AuditVerification } from './verify.js';

/** The part of Deps appendAudit needs (a full Deps fits). */
export interface AuditDeps {
  paths: { state: string };
  clock: { now(): Date };
  io: { redactor: Redactor };
}

export interface AppendOptions {
  /** agentprov's arguments; default process.argv.slice(2). */
  argv?: readonly string[];
}

export function auditPath(stateDir: string): string {
  return join(stateDir, 'audit.jsonl');
}

export async function appendAudit(deps: AuditDeps, record: AuditRecord, options: AppendOptions = {}): Promise<AuditEntry> {
  const redactor = deps.io.redactor;
  const path = auditPath(deps.paths.state);
  const body = {
    v: AUDIT_FORMAT_VERSION,
    pid: process.pid,
    ppid: process.ppid,
    parent_cmdline: await parentCommandLine(process.ppid, redactor),
    argv: sanitizeArgs(options.argv ?? process.argv.slice(2), redactor),
    ...boundRecord(record),
  };

  return withAuditLock(path, async () => {
    const tail = await readTail(path);
    const line: Record<string, unknown> = { ...body, seq: (tail?.seq ?? 0) + 1, time: deps.clock.now().toISOString(), prev: tail?.hash ?? GENESIS };
    line.hash = lineHash(line);
    const checked = AuditLineSchema.safeParse(line);
    if (!checked.success) {
      throw new AgentprovError('INTERNAL', `refusing to write a malformed audit record (${checked.error.issues.map((i) => i.path.join('.') || i.message).join(', ')})`, {
        details: { command: record.command },
      });
    }
    const text = canonicalJson(line);
    if (redactor.redact(text) !== text) {
      // Name neither the secret nor where it was: the message is output too.
      throw new AgentprovError('INTERNAL', `refusing to write an audit record of "${body.command}" that contains a secret`, {
        details: { command: body.command, decision: body.decision },
      });
    }
    if (Buffer.byteLength(text) + 1 > MAX_LINE_BYTES) throw new AgentprovError('INTERNAL', `refusing to write an audit record larger than ${MAX_LINE_BYTES} bytes`);

    const fh = await open(path, 'a', 0o600);
    try {
      await fh.write(text + '\n');
      await fh.datasync();
    } finally {
      await fh.close();
    }
    const entry = checked.data as AuditEntry;
    await writeHead(path, { seq: entry.seq, hash: entry.hash });
    return entry;
  });
}

/** Cut the caller's strings to their limits (ids may come from providers); structure errors are the caller's bug and are left to the schema. */
function boundRecord(record: AuditRecord): AuditRecord {
  const cut = (s: string, n: number): string => (s.length > n ? s.slice(0, n - 1) + '…' : s);
  const out: AuditRecord = { command: record.command, decision: record.decision };
  if (record.provider !== undefined) out.provider = cut(record.provider, LIMITS.id);
  if (record.resource !== undefined) out.resource = cut(record.resource, LIMITS.id);
  if (record.details !== undefined) {
    out.details = {};
    for (const [k, v] of Object.entries(record.details)) {
      if (typeof v === 'number' && !Number.isFinite(v)) throw new AgentprovError('INTERNAL', `audit detail "${k}" is not a finite number`);
      out.details[k] = typeof v === 'string' ? cut(v, LIMITS.detailValue) : v;
    }
  }
  return out;
}

/**
 * The last line and the head, checked against each other (inside the lock).
 * Continuing a log whose tail is broken would bury the evidence, so that is
 * refused with AUDIT_TAMPERED.
 */
async function readTail(path: string): Promise<{ seq: number; hash: string } | undefined> {
  const head = await readHead(path);
  const last = await readLastLine(path);
  const tampered = (why: string): AgentprovError =>
    new AgentprovError('AUDIT_TAMPERED', `the audit log ${path} ${why}; nothing was appended`, {
      details: { path },
      nextSteps: ['agentprov audit --verify'],
    });
  if (head === 'invalid') throw tampered('has an unreadable chain head');
  if (last === undefined) {
    if (head && head.seq > 0) throw tampered(`is empty but its chain head records line ${head.seq}`);
    return undefined;
  }
  if (last === 'torn') throw tampered('ends in a partial line');
  const entry = parseLine(last);
  if (!entry || lineHash(entry as unknown as Record<string, unknown>) !== entry.hash) throw tampered('ends in a line that does not verify');
  if (head && (entry.seq < head.seq || (entry.seq === head.seq && entry.hash !== head.hash))) throw tampered(`lost lines after line ${entry.seq} (its chain head records line ${head.seq})`);
  return { seq: entry.seq, hash: entry.hash };
}

/** The text of the last line (one bounded read from the end), undefined for an empty log, 'torn' without a final newline. */
async function readLastLine(path: string): Promise<string | 'torn' | undefined> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (size === 0) return undefined;
  const length = Math.min(size, MAX_LINE_BYTES + 1);
  const buf = Buffer.alloc(length);
  const fh = await open(path, 'r');
  try {
    await fh.read(buf, 0, length, size - length);
  } finally {
    await fh.close();
  }
  if (buf[length - 1] !== 0x0a) return 'torn';
  const start = buf.lastIndexOf(0x0a, length - 2) + 1;
  // No newline before it within the window: the line is longer than any valid line.
  if (start === 0 && length < size) return '\u0000overlong';
  return buf.subarray(start, length - 1).toString('utf8');
}
