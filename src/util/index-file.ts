/**
 * Reading agentprov's own derived index files (the registry index, the
 * manifest's target index): files only agentprov writes, read on hot paths
 * without zod. Anything unexpected — absent, unreadable, not JSON, another
 * version, another fingerprint — means "no index": the caller rebuilds it
 * from the real, zod-checked source.
 */
import { readFileSync } from 'node:fs';

/** The object in `file` when it is version 1 and for `fingerprint`; undefined otherwise. */
export function readIndexFile(file: string, fingerprint: string): Record<string, unknown> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  return r.v === 1 && r.fingerprint === fingerprint ? r : undefined;
}
