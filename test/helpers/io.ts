/**
 * An in-memory IO for tests that call commands and providers in process:
 * no terminal anywhere (unless asked), stdin from a string, and everything
 * written to stdout or stderr collected (through the redactor, as the real
 * IO does) for `text()`.
 */
import { PassThrough } from 'node:stream';
import { Redactor, type IO } from '../../src/core/io.js';

export function bufferIO(opts: { stdin?: string; stdinIsTTY?: boolean; columns?: number } = {}): IO & { text(): string } {
  let text = '';
  const redactor = new Redactor();
  const stdin = new PassThrough();
  if (opts.stdin !== undefined) stdin.end(opts.stdin);
  return {
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdin,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    stdinIsTTY: opts.stdinIsTTY ?? false,
    columns: opts.columns ?? 120,
    color: false,
    redactor,
    out: (t) => void (text += redactor.redact(t)),
    err: (t) => void (text += redactor.redact(t)),
    text: () => text,
  };
}
