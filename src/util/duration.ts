/**
 * `--ttl` for token and run: `90s`, `5m`, `1h` or plain seconds. Default 10
 * minutes, at most 60 (issue 8); at least the 30 seconds the provider
 * protocol allows (docs/protocol-auth.md §6).
 */
import { AgentprovError } from '../core/errors.js';

export const DEFAULT_TTL_SECONDS = 10 * 60;
export const MAX_TTL_SECONDS = 60 * 60;
export const MIN_TTL_SECONDS = 30;

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600 };

export function parseTtl(input: unknown): number {
  if (input === undefined) return DEFAULT_TTL_SECONDS;
  const m = /^(\d{1,6})([smh]?)$/.exec(String(input).trim());
  const seconds = m ? Number(m[1]) * UNIT[m[2] || 's']! : NaN;
  if (!Number.isInteger(seconds) || seconds < MIN_TTL_SECONDS || seconds > MAX_TTL_SECONDS) {
    throw new AgentprovError('USAGE', `--ttl takes a duration from ${MIN_TTL_SECONDS}s to 60m (e.g. 90s, 5m, 1h), not "${String(input).slice(0, 32)}"`, {
      details: { ttl: String(input).slice(0, 32), min_seconds: MIN_TTL_SECONDS, max_seconds: MAX_TTL_SECONDS },
    });
  }
  return seconds;
}
