/**
 * Who is writing an audit line: this process, its parent and the arguments
 * agentprov was started with. Everything here is best effort and bounded,
 * and sanitized before it is recorded: control sequences stripped, values
 * of secret-looking flags, variables, JSON keys and URL passwords masked,
 * secrets this process knows (the redactor's) masked, each piece cut to its
 * limit.
 */
import { open } from 'node:fs/promises';
import type { Redactor } from '../core/io.js';
import { MASK } from '../core/io.js';
import { sanitizeLine, truncate } from '../util/sanitize.js';
import { LIMITS } from './record.js';

const SECRET_NAME = /(token|secret|passw(or)?d|passphrase|api[-_]?key|credential|private[-_]?key)/i;
/** `--api-token=…`, `API_TOKEN=…` inside any argument (e.g. a `sh -c` script). */
const SECRET_ASSIGNMENT = /((?:[A-Za-z_][\w-]*)?(?:token|secret|passw(?:or)?d|passphrase|api[-_]?key|credential|private[-_]?key)[\w-]*)=("[^"]*"|'[^']*'|\S+)/gi;
const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
/** The password of a URL: `postgres://user:PASSWORD@host`. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:)[^\s/?#@]+@/gi;
/** `"api_token": "…"` inside an argument (e.g. `add --config '{…}'`). */
const SECRET_JSON = /("[\w-]*(?:token|secret|passw(?:or)?d|passphrase|api[-_]?key|credential|private[-_]?key)[\w-]*"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

/** Mask what looks like a secret in a list of arguments. */
export function sanitizeArgs(args: readonly string[], redactor: Redactor | undefined, maxArgs: number = LIMITS.argCount): string[] {
  const out: string[] = [];
  let maskNext = false;
  for (const raw of args.slice(0, maxArgs)) {
    let arg = redactor ? redactor.redact(raw) : raw;
    if (maskNext) {
      arg = MASK;
      maskNext = false;
    } else if (/^--?[\w-]+$/.test(arg) && SECRET_NAME.test(arg)) {
      maskNext = true; // `--token VALUE`
    }
    arg = arg
      .replace(SECRET_ASSIGNMENT, `$1=${MASK}`)
      .replace(BEARER, `$1 ${MASK}`)
      .replace(URL_PASSWORD, `$1${MASK}@`)
      .replace(SECRET_JSON, `$1"${MASK}"`);
    out.push(truncate(sanitizeLine(arg), LIMITS.arg));
  }
  if (args.length > maxArgs) out[out.length - 1] = '…';
  return out;
}

/** `text` (an error quoting arguments) with each argument sanitizeArgs would mask replaced by its masked form. */
export function maskArgsIn(text: string, args: readonly string[]): string {
  const masked = sanitizeArgs(args, undefined, args.length);
  return args.reduce((out, arg, i) => (arg && masked[i] !== arg ? out.split(arg).join(masked[i]!) : out), text);
}

/**
 * The parent's command line from /proc/<ppid>/cmdline (Linux; null
 * elsewhere or when unreadable), read with one bounded read.
 */
export async function parentCommandLine(ppid: number, redactor: Redactor | undefined): Promise<string | null> {
  if (process.platform !== 'linux' || !Number.isInteger(ppid) || ppid <= 0) return null;
  let raw: string;
  try {
    const fh = await open(`/proc/${ppid}/cmdline`, 'r');
    try {
      const buf = Buffer.alloc(4 * LIMITS.parentCmdline);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      raw = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
  const parts = raw.split('\0').filter((p, i, all) => p !== '' || i < all.length - 1);
  if (parts.length === 0) return null;
  return truncate(sanitizeArgs(parts, redactor, Number.MAX_SAFE_INTEGER).join(' '), LIMITS.parentCmdline);
}
