/**
 * Small non-secret files agentprov keeps beside its state and cache (indexes,
 * remembered documents, the whoami identity), written atomically: a
 * temporary file in the same directory, then a rename. Never throws: what
 * is written here is an optimisation, so an unwritable directory must not
 * fail the command that produced the data; readers treat a missing or stale
 * file as absent.
 */
import { mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeJsonAtomic(file: string, value: unknown): void {
  writeTextAtomic(file, JSON.stringify(value));
}

export function writeTextAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
  }
}
