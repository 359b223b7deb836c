/**
 * One cross-process lock for every read-modify-write of a shared file (the
 * vault, the audit log, the manifest, rotating credentials): proper-lockfile
 * on `<path>.lock`, retried with jitter, and a named error when another
 * process holds it too long.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { AgentprovError } from '../cli/errors.js';

export interface FileLockOptions {
  /** Error code when the lock cannot be had, e.g. VAULT_LOCKED. */
  code: string;
  /** What is locked, for the message ("the vault", "the audit log"). */
  what: string;
  /** A lock older than this is taken over (its holder died). Default 15 s. */
  staleMs?: number;
  /** How many retries (10–200 ms apart) before giving up. Default 200. */
  retries?: number;
}

export async function withFileLock<T>(path: string, opts: FileLockOptions, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(path, {
      realpath: false,
      lockfilePath: `${path}.lock`,
      stale: opts.staleMs ?? 15_000,
      retries: { retries: opts.retries ?? 200, minTimeout: 10, maxTimeout: 200, randomize: true },
    });
  } catch (err) {
    throw new AgentprovError(opts.code, `another agentprov process holds the lock on ${opts.what} (${path}.lock) for too long`, {
      details: { path: `${path}.lock` },
      cause: err,
    });
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
