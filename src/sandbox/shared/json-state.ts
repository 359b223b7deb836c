/**
 * Durable JSON state for the sandbox's servers.
 *
 * Each component keeps its state in one JSON document inside the data dir.
 * Every mutation goes through `update`, which runs mutations one at a time
 * (so concurrent requests never interleave a read-modify-write) and persists
 * with write-to-temp + fsync + rename, so a crash mid-write leaves either the
 * old or the new document, never a torn one.
 */
import { mkdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export class JsonState<T extends object> {
  #data: T;
  #queue: Promise<unknown> = Promise.resolve();
  readonly file: string | undefined;

  /** `file` undefined keeps the state in memory only (tests that need no restart). */
  constructor(file: string | undefined, initial: () => T, parse: (raw: unknown) => T = (raw) => raw as T) {
    this.file = file;
    if (file && existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      try {
        this.#data = parse(JSON.parse(text));
      } catch (err) {
        throw new Error(`sandbox state file ${file} is unreadable: ${(err as Error).message}`);
      }
    } else {
      this.#data = initial();
    }
  }

  /** A read-only view of the current state. Do not mutate it: use `update`. */
  get data(): Readonly<T> {
    return this.#data;
  }

  /**
   * Run `fn` against the state, exclusively, then persist. What `fn` returns
   * is returned. If `fn` throws, nothing is persisted and the in-memory state
   * is restored from a snapshot taken before it ran.
   */
  update<R>(fn: (draft: T) => R | Promise<R>): Promise<R> {
    const run = async (): Promise<R> => {
      const snapshot = structuredClone(this.#data);
      try {
        const result = await fn(this.#data);
        this.#persist();
        return result;
      } catch (err) {
        this.#data = snapshot;
        throw err;
      }
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #persist(): void {
    if (!this.file) return;
    writeFileAtomicSync(this.file, JSON.stringify(this.#data));
  }
}

export function writeFileAtomicSync(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
