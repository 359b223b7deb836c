/**
 * Who holds a file lock (file-lock.ts), and when a waiting process may take
 * it over. The holder's record, `owner.json` (pid, host, a random nonce),
 * lives INSIDE the lock directory: it always describes this lock, never a
 * previous one, and a directory with a record in it cannot be removed (rmdir
 * refuses a non-empty directory) by anyone who has not first taken the
 * record out. Whoever creates the record (O_EXCL) owns the lock.
 *
 * The wall clock decides nothing on its own: clocks jump (NTP, a suspended
 * laptop, a VM restored from a snapshot), and a waiter that judged a lock by
 * its age could take it from a live holder in the middle of rotating a
 * refresh token. A waiter takes a lock over only when:
 * - its holder is on this host and its pid is gone (at once: a crash, kill -9);
 *   a live pid is never taken over, whatever any clock says (a pid reused by
 *   another process only costs the wait);
 * - its holder is on another host (a shared file system), its mtime is
 *   REMOTE_STALE_MS old by the wall clock AND this waiter has seen it stand
 *   still for `staleMs` on its own monotonic clock: a live holder refreshes
 *   it every few seconds, whatever its clock says;
 * - it has no readable record (its holder is between the mkdir and the
 *   record, or died there): only after this waiter has seen it without a
 *   record for OWNER_GRACE_MS and its mtime stand still for `staleMs`, both
 *   on the monotonic clock.
 * Taking over first takes the record out (a rename, which only one waiter
 * can do), or, for a lock without one, creates it (O_EXCL): a slow holder
 * that then tries to record itself finds it taken and backs off.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as z from 'zod';

export const OWNER_FILE = 'owner.json';
/** A lock without a readable record is left alone at least this long (the waiter's monotonic clock): its holder may be writing it. */
export const OWNER_GRACE_MS = 1000;
/** A holder on another host: how old (wall clock) its lock must be, besides standing still, before it is taken over. */
export const REMOTE_STALE_MS = 5 * 60_000;
const MAX_RECORD_BYTES = 1024;

const OwnerRecordSchema = z.object({
  v: z.literal(1),
  pid: z.int().positive(),
  host: z.string().min(1).max(255),
  nonce: z.string().regex(/^[0-9a-f]{32}$/),
});
export type OwnerRecord = z.infer<typeof OwnerRecordSchema>;

export function newRecord(): OwnerRecord {
  return { v: 1, pid: process.pid, host: hostname(), nonce: randomBytes(16).toString('hex') };
}

export function recordPath(lockPath: string): string {
  return join(lockPath, OWNER_FILE);
}

/** Create the record; throws EEXIST when someone else's is there already. */
export async function writeRecord(lockPath: string, record: OwnerRecord): Promise<void> {
  await writeFile(recordPath(lockPath), JSON.stringify(record), { flag: 'wx', mode: 0o600 });
}

/** A record file, parsed and bounded; undefined when absent, unreadable or not a record. */
export async function readRecordFile(file: string): Promise<OwnerRecord | undefined> {
  let fh;
  try {
    fh = await open(file, 'r');
    const buf = Buffer.alloc(MAX_RECORD_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_RECORD_BYTES) return undefined;
    const parsed = OwnerRecordSchema.safeParse(JSON.parse(buf.subarray(0, bytesRead).toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** What one waiter has seen of a lock, timed on its own monotonic clock. */
export class LockWatch {
  readonly #staleMs: number;
  /** The lock as last seen (inode and mtime) and since when it has looked exactly so. */
  #seen: string | undefined;
  #stillSince = 0;
  /** Since when the lock has been seen without a readable record. */
  #bareSince: number | undefined;
  /** The last holder seen, for the message when the wait ends. */
  holder: OwnerRecord | undefined;

  constructor(staleMs: number) {
    this.#staleMs = staleMs;
  }

  /** After a failed attempt: true when the lock was taken over (removed) and may be taken at once. */
  async takeOverIfAbandoned(lockPath: string): Promise<boolean> {
    const look = await this.#look(lockPath);
    if (!look) return false; // gone meanwhile: the next attempt takes it
    const now = performance.now();
    const owner = await readRecordFile(recordPath(lockPath));
    if (owner) {
      this.holder = owner;
      this.#bareSince = undefined;
    } else {
      this.#bareSince ??= now;
    }
    const still = now - this.#stillSince;
    if (!owner) {
      if (now - this.#bareSince! < OWNER_GRACE_MS || still < this.#staleMs) return false;
      return claimBare(lockPath, look.id, () => this.#look(lockPath));
    }
    const abandoned =
      owner.host === hostname() ? owner.pid !== process.pid && !alive(owner.pid) : still >= this.#staleMs && Date.now() - look.mtimeMs >= REMOTE_STALE_MS;
    return abandoned && claimRecorded(lockPath, owner);
  }

  async #look(lockPath: string): Promise<{ id: string; mtimeMs: number } | undefined> {
    let st;
    try {
      st = await stat(lockPath, { bigint: true });
    } catch {
      return undefined;
    }
    const id = `${st.ino}:${st.mtimeNs}`;
    if (id !== this.#seen) {
      // It moved (its holder refreshed it, or it is another lock): the watch starts again.
      this.#seen = id;
      this.#stillSince = performance.now();
      this.#bareSince = undefined;
    }
    return { id, mtimeMs: Number(st.mtimeMs) };
  }
}

/** Take the judged record out, check it is still the one judged, remove the lock. */
async function claimRecorded(lockPath: string, judged: OwnerRecord): Promise<boolean> {
  const claim = `${lockPath}.claim-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await rename(recordPath(lockPath), claim);
  } catch {
    return false; // another waiter took it first, or its holder is releasing it
  }
  try {
    const taken = await readRecordFile(claim);
    if (taken?.nonce !== judged.nonce) {
      // The lock changed hands since it was judged: give the record back (never over another one).
      await link(claim, recordPath(lockPath)).catch(() => undefined);
      return false;
    }
    await rmdir(lockPath); // ENOTEMPTY: another waiter's claim is inside; it is theirs to finish
    return true;
  } catch {
    return false;
  } finally {
    await unlink(claim).catch(() => undefined);
  }
}

/** Own the record-less lock (O_EXCL), if it is still the one watched, and remove it. */
async function claimBare(lockPath: string, watched: string, look: () => Promise<{ id: string } | undefined>): Promise<boolean> {
  if ((await look())?.id !== watched) return false;
  try {
    await writeRecord(lockPath, newRecord());
  } catch {
    return false; // its holder recorded itself after all, or it is gone
  }
  // Ours now: a holder that tries to record itself in it finds this record and backs off.
  try {
    await unlink(recordPath(lockPath));
    await rmdir(lockPath);
    return true;
  } catch {
    return false;
  }
}
