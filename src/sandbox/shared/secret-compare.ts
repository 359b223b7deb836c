/**
 * Constant-time comparison of a presented secret (demo password, provider
 * client secret) with the expected one. Both sides are hashed first so the
 * comparison takes the same time whatever their lengths; an unknown user or
 * client is compared against a placeholder so it costs the same as a known one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** True when `presented` equals `expected`; always false (same cost) when `expected` is undefined. */
export function secretMatches(presented: string, expected: string | undefined): boolean {
  const ok = timingSafeEqual(digest(presented), digest(expected ?? '\u0000no-such-secret'));
  return ok && expected !== undefined;
}
