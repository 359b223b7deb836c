/**
 * One cross-process lock for every read-modify-write of a shared file (the
 * vault, the audit log, the manifest, the ledger, rotating credentials):
 * `<path>.lock`, a directory made with an atomic mkdir, holding its
 * holder's record (lock-owner.ts), retried with jitter, and a named error
 * when another process holds it too long.
 *
 * Not proper-lockfile any more: it judges a lock stale by its mtime against
 * the wall clock (a clock that jumps forward hands a live holder's lock to a
 * waiter), and it tracks its own lock by the directory's mtime, which the
 * record inside the directory changes (it would call its own lock
 * compromised). What remained of it is the mkdir and a refresh timer, here.
 *
 * While held, the lock's mtime is refreshed every few seconds (a holder on
 * another host, or one without a record, is judged by whether it stands
 * still), and the record is checked: a holder whose record was taken (it was
 * judged dead, wrongly) fails loudly with the lock's code instead of
 * returning as if nothing happened. Exiting while holding a lock (Ctrl-C)
 * removes it; a holder killed outright leaves it behind with its pid, and
 * the next waiter on this host takes it over at once.
 *
 * Every file-system refusal while taking the lock (read-only, permissions,
 * a full disk) is STATE_NOT_WRITABLE, never "held by another process".
 */
import { readFileSync, rmdirSync, unlinkSync } from 'node:fs';
import { mkdir, rmdir, unlink, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentprovError, type ErrorCode } from '../core/errors.js';
import { LockWatch, newRecord, readRecordFile, recordPath, writeRecord, type OwnerRecord } from './lock-owner.js';
import { notWritable } from './not-writable.js';

export interface FileLockOptions {
  /** Error code when the lock cannot be had, e.g. VAULT_LOCKED. */
  code: ErrorCode;
  /** What is locked, for the message ("the vault", "the audit log"). */
  what: string;
  /**
   * How long (on the waiter's monotonic clock) a lock whose holder cannot be
   * asked (no record yet, or on another host) must stand still before it is
   * taken over. Default 15 s. A live holder on this host is never taken over.
   */
  staleMs?: number;
  /** How many retries (10–200 ms apart) before giving up. Default 200. */
  retries?: number;
}

export async function withFileLock<T>(path: string, opts: FileLockOptions, fn: () => Promise<T>): Promise<T> {
  const lockPath = `${path}.lock`;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw notWritable(err, lockPath) ?? err;
  }
  const staleMs = Math.max(opts.staleMs ?? 15_000, 2000);
  const retries = opts.retries ?? 200;
  const watch = new LockWatch(staleMs);
  let held: Held | undefined;
  for (let attempt = 0; attempt <= retries && !held; attempt++) {
    held = await acquire(lockPath, staleMs);
    if (held || attempt === retries) break;
    if (await watch.takeOverIfAbandoned(lockPath)) continue;
    // 10 ms doubling, randomized ×1–2, at most 200 ms.
    await new Promise((r) => setTimeout(r, Math.min(200, 10 * 2 ** Math.min(attempt, 5) * (1 + Math.random()))));
  }
  if (!held) {
    const h = watch.holder;
    throw new AgentprovError(opts.code, `another agentprov process holds the lock on ${opts.what} (${lockPath}) for too long${h ? ` (pid ${h.pid} on ${h.host})` : ''}`, {
      details: { path: lockPath, ...(h ? { holder_pid: h.pid, holder_host: h.host } : {}) },
    });
  }
  let result: T;
  try {
    result = await fn();
  } finally {
    await held.release();
  }
  if (held.lost) {
    throw new AgentprovError(opts.code, `the lock on ${opts.what} (${lockPath}) was taken from this process while it held it (${held.lost}); another process may have changed it at the same time`, {
      details: { path: lockPath },
    });
  }
  return result;
}

/** Locks this process holds, removed if it exits while holding them. */
const holding = new Set<Held>();
let exitHook = false;

/** The lock, or undefined when someone else has it. */
async function acquire(lockPath: string, staleMs: number): Promise<Held | undefined> {
  try {
    await mkdir(lockPath, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw notWritable(err, lockPath) ?? err;
  }
  const record = newRecord();
  try {
    await writeRecord(lockPath, record);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A waiter found this lock without a record and claimed it before we recorded ourselves: not ours.
    if (code === 'EEXIST' || code === 'ENOENT') return undefined;
    await rmdir(lockPath).catch(() => undefined);
    throw notWritable(err, lockPath) ?? err;
  }
  return new Held(lockPath, record, Math.min(5000, Math.max(1000, Math.floor(staleMs / 3))));
}

class Held {
  readonly #lockPath: string;
  readonly #record: OwnerRecord;
  readonly #timer: NodeJS.Timeout;
  #released = false;
  /** Why the lock stopped being ours while held, if it did. */
  lost: string | undefined;

  constructor(lockPath: string, record: OwnerRecord, refreshMs: number) {
    this.#lockPath = lockPath;
    this.#record = record;
    this.#timer = setInterval(() => void this.#refresh(), refreshMs);
    this.#timer.unref();
    holding.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const h of holding) h.releaseSync();
      });
    }
  }

  async #refresh(): Promise<void> {
    const record = await readRecordFile(recordPath(this.#lockPath));
    if (this.#released) return; // released meanwhile: the record is gone because we removed it
    if (record?.nonce !== this.#record.nonce) {
      this.lost = 'its owner record was taken';
      clearInterval(this.#timer);
      return;
    }
    const now = new Date();
    await utimes(this.#lockPath, now, now).catch(() => undefined);
  }

  async release(): Promise<void> {
    this.#released = true;
    clearInterval(this.#timer);
    holding.delete(this);
    if (this.lost) return;
    if ((await readRecordFile(recordPath(this.#lockPath)))?.nonce !== this.#record.nonce) {
      this.lost = 'its owner record was taken';
      return;
    }
    // Record first, then the directory: a lock is never removed while it names a holder.
    await unlink(recordPath(this.#lockPath)).catch(() => undefined);
    await rmdir(this.#lockPath).catch(() => undefined);
  }

  /** On exit (process.exit after Ctrl-C): remove the lock if it is still ours. */
  releaseSync(): void {
    try {
      const text = readFileSync(recordPath(this.#lockPath), 'utf8');
      if (!text.includes(this.#record.nonce)) return;
      unlinkSync(recordPath(this.#lockPath));
      rmdirSync(this.#lockPath);
    } catch {
      // gone, or not ours to remove
    }
  }
}
