/**
 * Canonical JSON (the RFC 8785 subset audit lines need: objects with keys
 * sorted by code unit, no whitespace, ECMAScript number and string
 * serialization) and the line hash. Only plain JSON values are accepted.
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no representation for a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON has no representation for ${typeof value}`);
}

/** sha256 (hex) over the canonical JSON of the line without its `hash` field. */
export function lineHash(line: Record<string, unknown>): string {
  const { hash: _omit, ...rest } = line;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}
