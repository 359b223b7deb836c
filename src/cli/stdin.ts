/**
 * One secret read from standard input (never an argument or a variable, so
 * it is in no process listing and no shell history): bounded in size and
 * time, one line, trimmed. Refusals are USAGE errors naming what was expected.
 */
import type { Readable } from 'node:stream';
import { AgentprovError } from '../core/errors.js';

export function readSecretFromStdin(io: { stdin: Readable; stdinIsTTY: boolean }, what: string, opts: { maxBytes: number; deadlineMs: number; nextSteps: string[] }): Promise<string> {
  const { stdin } = io;
  if (io.stdinIsTTY) {
    // Typed at a terminal it would echo: a secret is piped in, from a password manager or a file.
    return Promise.reject(new AgentprovError('USAGE', `the ${what} is read from piped standard input, not a terminal`, { nextSteps: opts.nextSteps }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const usage = (message: string): AgentprovError => new AgentprovError('USAGE', message, { nextSteps: opts.nextSteps });
    const done = (err?: AgentprovError): void => {
      clearTimeout(timer);
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
      stdin.pause();
      if (err) return reject(err);
      const value = Buffer.concat(chunks).toString('utf8').trim();
      if (!value) return reject(usage(`no ${what} on standard input`));
      if (/[\r\n]/.test(value)) return reject(usage(`the ${what} must be one line`));
      resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += b.length;
      if (size > opts.maxBytes) return done(usage(`more than ${opts.maxBytes} bytes on standard input: expected one ${what}`));
      chunks.push(b);
    };
    const onEnd = (): void => done();
    const onError = (): void => done(usage('standard input could not be read'));
    const timer = setTimeout(() => done(usage(`no ${what} arrived on standard input within ${opts.deadlineMs / 1000}s`)), opts.deadlineMs);
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', onError);
    stdin.resume();
  });
}
