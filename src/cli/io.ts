/**
 * Where output goes. stdout carries data, stderr carries talk (gh's
 * IOStreams). Every write passes through the redactor, so a secret that
 * slipped into a message is masked before it leaves the process.
 */
import type { Readable, Writable } from 'node:stream';

export interface IO {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  stdinIsTTY: boolean;
  /** Terminal width for tables; 80 when unknown. */
  columns: number;
  /** False when NO_COLOR is set or stderr/stdout is not a terminal. */
  color: boolean;
  redactor: Redactor;
  out(text: string): void;
  err(text: string): void;
}

export const MASK = '****';

/** Remembers secrets seen by this process and masks them in any text. */
export class Redactor {
  #secrets = new Set<string>();

  /** Secrets shorter than 8 characters are not tracked: masking them would garble ordinary text. */
  add(secret: string | undefined | null): void {
    if (secret && secret.length >= 8) this.#secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) if (out.includes(s)) out = out.split(s).join(MASK);
    return out;
  }
}

/**
 * The process's streams. Node creates process.stdin/stdout/stderr on first
 * access (for a pipe that loads net and streams), so each stream, and the
 * question whether it is a terminal, is looked at only when a command needs
 * it: `--json` output never touches stdin or asks about stderr.
 */
export function processIO(env: NodeJS.ProcessEnv = process.env): IO {
  const redactor = new Redactor();
  return {
    get stdout(): Writable {
      return process.stdout;
    },
    get stderr(): Writable {
      return process.stderr;
    },
    get stdin(): Readable {
      return process.stdin;
    },
    get stdoutIsTTY(): boolean {
      return Boolean(process.stdout.isTTY);
    },
    get stderrIsTTY(): boolean {
      return Boolean(process.stderr.isTTY);
    },
    get stdinIsTTY(): boolean {
      return Boolean(process.stdin.isTTY);
    },
    get columns(): number {
      return process.stdout.columns || 80;
    },
    get color(): boolean {
      return !('NO_COLOR' in env) && env.TERM !== 'dumb' && Boolean(process.stdout.isTTY);
    },
    redactor,
    out: (text) => void process.stdout.write(redactor.redact(text)),
    err: (text) => void process.stderr.write(redactor.redact(text)),
  };
}
