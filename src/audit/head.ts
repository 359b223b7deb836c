/**
 * The chain head: `{seq, hash}` of the last line, in a file beside the log,
 * written (atomically, after the line) by every append. It lets verify
 * notice whole lines cut off the end, and lets append refuse to continue a
 * log that lost lines instead of silently papering over the loss.
 */
import { readFile } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
import { AuditHeadSchema, type AuditHead } from './record.js';

export function headPath(logPath: string): string {
  return `${logPath}.head`;
}

/** The head, null when there is none, 'invalid' when it does not parse. */
export async function readHead(logPath: string): Promise<AuditHead | null | 'invalid'> {
  let text: string;
  try {
    const buf = await readFile(headPath(logPath));
    if (buf.length > 1024) return 'invalid';
    text = buf.toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const parsed = AuditHeadSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : 'invalid';
  } catch {
    return 'invalid';
  }
}

export async function writeHead(logPath: string, head: AuditHead): Promise<void> {
  await writeFileAtomic(headPath(logPath), JSON.stringify(head) + '\n', { mode: 0o600 });
}
