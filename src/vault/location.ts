/**
 * Where the vault file is, and a fingerprint of the exact file on disk.
 * Kept apart from vault.ts (no keychain, no crypto) so `whoami` can check,
 * in one stat, that the vault is still the file it last saw the session in.
 *
 * Every vault write replaces the file atomically (a new inode), so equal
 * fingerprints (device, inode, size, mtime and ctime in nanoseconds) mean
 * the same bytes.
 */
import { statSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

export function vaultPath(stateDir: string): string {
  return join(stateDir, 'vault.json.enc');
}

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
