/**
 * Options shared by several commands: their flags (sign-in method) and
 * their values, parsed once (whole seconds for --wait and --timeout, the
 * sign-in method).
 */
import { Option, type Command } from 'commander';
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

/**
 * Sign-in method flags shared by init and login. `--no-browser` ("open
 * nothing, print the URL") must not share commander's `browser` attribute
 * with `--browser` ("use the browser flow"), so it is stored as `openBrowser`.
 */
export function signInFlags(c: Command): Command {
  const noBrowser = new Option('--no-browser', 'do not open a browser; print the sign-in URL instead');
  noBrowser.attributeName = () => 'openBrowser';
  return c
    .option('--device', 'sign in with the device flow (a code to enter on another device)')
    .option('--browser', 'sign in with the browser flow (authorization code + PKCE on a loopback redirect)')
    .addOption(noBrowser)
    .option('--timeout <seconds>', 'give up waiting for the browser after this long (default 300)');
}

/** The flags of `update` (issue 21), here so the command table stays one short entry. */
export function updateFlags(c: Command): Command {
  return c
    .argument('<name>', 'the resource in agentprov.json')
    .option('--service <id>', "the service to move to (one its current service's allowed_updates names), e.g. kv:pro")
    .option('--config <json>', 'the new config as a JSON object (default: the current one)')
    .option('--param <key=value>', 'one config value (repeatable); coerced to the schema type', (v: string, prev: string[] = []) => [...prev, v])
    .option('--yes', "confirm paying for a paid change (a human's yes, for scripts; same as --confirm-paid-service)")
    .option('--confirm-paid-service', "confirm paying for a paid change (a human's yes, for scripts)")
    .option('--max-price <amount>', 'refuse when the price or the provider quote is above this (major units, e.g. 12.00)');
}
