/**
 * Reading the log back: walk the chain line by line (streamed, bounded per
 * line) and report the first line that is malformed, edited, out of order,
 * missing or cut short. The head file (head.ts) catches whole lines cut off
 * the end, which a chain alone cannot see.
 *
 * What this proves: the log was not changed by anything that does not also
 * recompute every later hash and the head. It is tamper-evident against
 * edits by hand and by careless tools, not against a writer who rewrites
 * the whole chain (that would need a key outside the user's files).
 */
import { createReadStream, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { canonicalJson, lineHash } from './canonical.js';
import { headPath, readHead } from './head.js';
import { withAuditLock } from './lock.js';
import { AuditLineSchema, GENESIS, MAX_LINE_BYTES, type AuditEntry } from './record.js';

export type AuditBreak =
  | 'malformed' // not a canonical JSON line of the schema
  | 'hash_mismatch' // its content does not match its hash: edited
  | 'chain_broken' // prev does not name the line before: deleted, inserted or reordered
  | 'sequence' // seq is not the line number
  | 'truncated' // cut short: a partial last line, or fewer lines than the head records
  | 'head_mismatch'; // the head names a different line than the log holds

export type AuditVerification =
  | { ok: true; path: string; lines: number; head: string | null }
  | { ok: false; path: string; lines: number; line: number; reason: AuditBreak; message: string };

export interface AuditScan {
  verification: AuditVerification;
  /** The last `keep` well-formed entries (display), oldest first. */
  entries: AuditEntry[];
  /** The raw text of those entries. */
  raw: string[];
}

/** Walk the chain of the log at `path`. A missing log with no head is an intact, empty log. */
export async function verifyAudit(path: string): Promise<AuditVerification> {
  return (await scanAudit(path, 0)).verification;
}

/**
 * Verify and keep the last `keep` entries for display. Takes the writers'
 * lock so a line still being written is never mistaken for a cut one.
 */
export async function scanAudit(path: string, keep: number): Promise<AuditScan> {
  if (!existsSync(dirname(path))) return { verification: { ok: true, path, lines: 0, head: null }, entries: [], raw: [] };
  return withAuditLock(path, () => scanLocked(path, keep));
}

async function scanLocked(path: string, keep: number): Promise<AuditScan> {
  const head = await readHead(path);
  const entries: AuditEntry[] = [];
  const raw: string[] = [];
  let broken: Extract<AuditVerification, { ok: false }> | undefined;
  let lines = 0;
  let prev = GENESIS;
  let last: AuditEntry | undefined;
  const fail = (line: number, reason: AuditBreak, message: string): void => {
    broken ??= { ok: false, path, lines: 0, line, reason, message };
  };

  for await (const { text, terminated } of readLines(path)) {
    lines += 1;
    const n = lines;
    if (!terminated) {
      fail(n, 'truncated', `line ${n} is cut short (no newline at the end of the file)`);
      break;
    }
    const entry = parseLine(text);
    if (!entry) {
      fail(n, 'malformed', `line ${n} is not a well-formed audit line`);
      continue;
    }
    if (keep > 0) {
      entries.push(entry);
      raw.push(text);
      if (entries.length > keep) {
        entries.shift();
        raw.shift();
      }
    }
    if (broken) continue;
    if (lineHash(entry as unknown as Record<string, unknown>) !== entry.hash) fail(n, 'hash_mismatch', `line ${n} (seq ${entry.seq}) was edited: its content does not match its hash`);
    else if (entry.prev !== prev) fail(n, 'chain_broken', `line ${n} (seq ${entry.seq}) does not follow line ${n - 1}: a line was deleted, inserted or moved`);
    else if (entry.seq !== n) fail(n, 'sequence', `line ${n} carries seq ${entry.seq}`);
    else if (head && head !== 'invalid' && n === head.seq && entry.hash !== head.hash) fail(n, 'head_mismatch', `line ${n} is not the line the chain head records`);
    prev = entry.hash;
    last = entry;
  }

  if (head === 'invalid') fail(lines, 'head_mismatch', `the chain head beside the log (${headPath(path)}) is unreadable`);
  else if (head && lines < head.seq) fail(lines + 1, 'truncated', `line ${lines + 1} is missing: the log ends at line ${lines} but its chain head records line ${head.seq} (lines were cut off the end)`);

  const verification: AuditVerification = broken ? { ...broken, lines } : { ok: true, path, lines, head: last?.hash ?? null };
  return { verification, entries, raw };
}

/** A line as written: canonical JSON of a valid entry, byte for byte. */
export function parseLine(text: string): AuditEntry | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = AuditLineSchema.safeParse(json);
  if (!parsed.success) return undefined;
  let canonical: string;
  try {
    canonical = canonicalJson(json);
  } catch {
    return undefined;
  }
  return canonical === text ? (parsed.data as AuditEntry) : undefined;
}

/**
 * The file's lines, split on '\n'. `terminated` is false for a final piece
 * with no newline after it. A line longer than MAX_LINE_BYTES is returned
 * cut (it cannot parse) and the rest of it skipped.
 */
async function* readLines(path: string): AsyncGenerator<{ text: string; terminated: boolean }> {
  let stream;
  try {
    stream = createReadStream(path, { highWaterMark: 64 * 1024 });
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let overlong = false;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, i);
        overlong ||= pendingBytes + piece.length > MAX_LINE_BYTES;
        // An overlong line is never decoded; the marker cannot parse.
        yield { text: overlong ? '\u0000overlong' : Buffer.concat([...pending, piece]).toString('utf8'), terminated: true };
        pending = [];
        pendingBytes = 0;
        overlong = false;
        start = i + 1;
      }
      const rest = chunk.subarray(start);
      if (!overlong && rest.length) {
        pending.push(rest);
        pendingBytes += rest.length;
        if (pendingBytes > MAX_LINE_BYTES) {
          overlong = true;
          pending = [];
        }
      }
    }
    if (overlong || pendingBytes > 0) yield { text: Buffer.concat(pending).toString('utf8'), terminated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  } finally {
    stream?.destroy();
  }
}
