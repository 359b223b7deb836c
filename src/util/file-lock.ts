/**
 * One cross-process lock for every read-modify-write of a shared file (the
 * vault, the audit log, the manifest, the ledger, rotating credentials):
 * proper-lockfile on `<path>.lock`, retried with jitter, and a named error
 * when another process holds it too long.
 *
 * A holder that was killed (kill -9, a crash) leaves its lock behind, and
 * proper-lockfile only takes over a lock once its mtime is `staleMs` old
 * (15 s by default): the next agentprov command would stall that long. So
 * the holder also writes `<path>.lock-owner` (pid and host) right after
 * acquiring and removes it right before releasing, and a waiter that finds
 * the owner dead on this host ages the lock (sets its mtime into the past):
 * proper-lockfile's own stale takeover then happens on the next retry.
 * Never for a lock younger than OWNER_GRACE_MS (its new holder may not have
 * written the owner file yet), nor across hosts (a shared file system), nor
 * when the pid is alive (also when the pid was reused: that only costs the
 * old wait). A live holder whose lock was aged anyway would see its lock
 * compromised and fail loudly, never share it silently.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { AgentprovError, type ErrorCode } from '../core/errors.js';

export interface FileLockOptions {
  /** Error code when the lock cannot be had, e.g. VAULT_LOCKED. */
  code: ErrorCode;
  /** What is locked, for the message ("the vault", "the audit log"). */
  what: string;
  /** A lock older than this is taken over (its holder died). Default 15 s. */
  staleMs?: number;
  /** How many retries (10–200 ms apart) before giving up. Default 200. */
  retries?: number;
}

/** A lock younger than this is never aged: its new holder may be writing the owner file. */
export const OWNER_GRACE_MS = 1000;

export async function withFileLock<T>(path: string, opts: FileLockOptions, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const lockPath = `${path}.lock`;
  const ownerPath = `${path}.lock-owner`;
  const stale = opts.staleMs ?? 15_000;
  const retries = opts.retries ?? 200;
  let release: (() => Promise<void>) | undefined;
  let last: unknown;
  for (let attempt = 0; attempt <= retries && !release; attempt++) {
    try {
      release = await lockfile.lock(path, { realpath: false, lockfilePath: lockPath, stale, retries: 0 });
    } catch (err) {
      last = err;
      if ((err as { code?: string }).code !== 'ELOCKED') break;
      await ageIfOwnerDead(lockPath, ownerPath, stale);
      // The backoff proper-lockfile's own retries used: 10 ms doubling, randomized ×1–2, at most 200 ms.
      await new Promise((r) => setTimeout(r, Math.min(200, 10 * 2 ** Math.min(attempt, 5) * (1 + Math.random()))));
    }
  }
  if (!release) {
    throw new AgentprovError(opts.code, `another agentprov process holds the lock on ${opts.what} (${lockPath}) for too long`, {
      details: { path: lockPath },
      cause: last,
    });
  }
  await writeFile(ownerPath, `${process.pid}\n${hostname()}\n`, { mode: 0o600 }).catch(() => undefined);
  try {
    return await fn();
  } finally {
    await rm(ownerPath, { force: true }).catch(() => undefined);
    await release().catch(() => undefined);
  }
}

/** The lock's holder, as it wrote itself down; undefined when unknown. */
function ownerOf(ownerPath: string): { pid: number; host: string } | undefined {
  try {
    const [pid, host] = readFileSync(ownerPath, 'utf8').split('\n');
    const n = Number(pid);
    return Number.isSafeInteger(n) && n > 0 && host ? { pid: n, host } : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

async function ageIfOwnerDead(lockPath: string, ownerPath: string, staleMs: number): Promise<void> {
  const owner = ownerOf(ownerPath);
  if (!owner || owner.host !== hostname() || owner.pid === process.pid || alive(owner.pid)) return;
  try {
    const st = await stat(lockPath);
    if (Date.now() - st.mtimeMs < OWNER_GRACE_MS) return;
    // Still the dead owner's? (a new holder rewrites the owner file at once)
    const again = ownerOf(ownerPath);
    if (!again || again.pid !== owner.pid) return;
    const past = new Date(Date.now() - staleMs - 60_000);
    await utimes(lockPath, past, past);
  } catch {
    // Gone meanwhile, or not ours to touch: the normal wait applies.
  }
}
