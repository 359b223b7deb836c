/**
 * The process-backed IO (src/core/io.ts): the CLI's stdout, stderr and
 * stdin, every write through the redactor.
 */
import type { Readable, Writable } from 'node:stream';
import { Redactor, type IO } from '../core/io.js';

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
