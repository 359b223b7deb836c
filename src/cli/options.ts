/**
 * Option values shared by several commands, parsed once: whole seconds
 * (--wait, --timeout) and the sign-in method (--device / --browser).
 */
import { AgentprovError } from '../core/errors.js';
import type { SignInMethod } from '../auth/signin.js';

export const DEFAULT_TIMEOUT_SECONDS = 300;

export function secondsOption(value: unknown, flag: string, fallback: number, max = 3600): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new AgentprovError('USAGE', `${flag} must be a whole number of seconds between 0 and ${max}, not "${String(value)}"`);
  return n;
}

export function methodOption(opts: Record<string, unknown>): SignInMethod | undefined {
  if (opts.device && opts.browser) throw new AgentprovError('USAGE', 'choose one of --device and --browser');
  return opts.device ? 'device' : opts.browser ? 'browser' : undefined;
}
