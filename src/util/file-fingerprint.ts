/**
 * A fingerprint of the exact file on disk: device, inode, size, and mtime
 * and ctime in nanoseconds. ctime moves on every change, including a chmod
 * or a copy that restores the old mtime, and cannot be set back; an atomic
 * replace makes a new inode. Equal fingerprints mean the same bytes. Used to
 * trust an index or a remembered view only while its source is unchanged
 * (the whoami identity, the registry index, the token target index).
 */
import { statSync, type BigIntStats } from 'node:fs';

export function fingerprintOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** The fingerprint of the file now at `path`, or undefined when there is none. */
export function currentFingerprint(path: string): string | undefined {
  try {
    return fingerprintOf(statSync(path, { bigint: true }));
  } catch {
    return undefined;
  }
}
