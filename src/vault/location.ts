/**
 * Where the vault file is, and a fingerprint of the exact file on disk.
 * Kept apart from vault.ts (no keychain, no crypto) so `whoami` can check,
 * in one stat, that the vault is still the file it last saw the session in.
 *
 * Every vault write replaces the file atomically (a new inode), so equal
 * fingerprints (util/file-fingerprint.ts) mean the same bytes.
 */
import { join } from 'node:path';

export { currentFingerprint, fingerprintOf } from '../util/file-fingerprint.js';

export function vaultPath(stateDir: string): string {
  return join(stateDir, 'vault.json.enc');
}
