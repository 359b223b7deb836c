/**
 * Start the wrapped command and wait for it. Its stdout/stderr are
 * inherited when they are terminals, otherwise piped through a StreamMasker
 * per stream (under --json its stdout goes to stderr, so stdout carries the
 * one envelope). SIGINT (through the entry's handleInterruptWith), SIGTERM
 * and SIGHUP are forwarded to the child; the SIGTERM/SIGHUP listeners stay
 * installed until `done()` is called, after the credentials are revoked: a
 * dependency (signal-exit) re-raises a signal once no other listener is left.
 */
import { constants } from 'node:os';
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import { handleInterruptWith } from '../core/interrupt.js';
import { StreamMasker } from './mask.js';

export interface ChildOutcome {
  /** The exit code agentprov passes on: the child's, or 128 + signal number. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  pid: number | undefined;
  /** Signals agentprov forwarded. */
  forwarded: NodeJS.Signals[];
}

export interface ChildHandle {
  outcome: Promise<ChildOutcome>;
  /** Remove the signal listeners (call when nothing is left to clean up). */
  done(): void;
}

export function startChild(
  deps: Deps,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  secrets: string[],
  opts: { json: boolean },
): ChildHandle {
  const io = deps.io;
  const pipeOut = opts.json || !io.stdoutIsTTY;
  const pipeErr = !io.stderrIsTTY;
  const child = deps.spawn(command, args, {
    env,
    cwd: deps.cwd,
    stdio: ['inherit', pipeOut ? 'pipe' : 'inherit', pipeErr ? 'pipe' : 'inherit'],
  });

  const forwarded: NodeJS.Signals[] = [];
  const forward = (sig: NodeJS.Signals) => () => {
    forwarded.push(sig);
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const onTerm = forward('SIGTERM');
  const onHup = forward('SIGHUP');
  const onInt = forward('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  // The entry owns SIGINT; it hands us one Ctrl-C at a time (a second one while we wait ends agentprov).
  let releaseInt = handleInterruptWith(onInt);

  const pump = (stream: NodeJS.ReadableStream | null, write: (t: string) => void): Promise<void> => {
    if (!stream) return Promise.resolve();
    const masker = new StreamMasker(secrets);
    return new Promise((resolve) => {
      stream.on('data', (chunk: Buffer) => {
        const t = masker.write(chunk);
        if (t) write(t);
      });
      stream.on('error', () => resolve());
      stream.on('close', () => {
        const t = masker.end();
        if (t) write(t);
        resolve();
      });
    });
  };
  const toStdout = opts.json ? (t: string) => io.err(t) : (t: string) => io.out(t);
  const pumps = Promise.all([pump(pipeOut ? child.stdout : null, toStdout), pump(pipeErr ? child.stderr : null, (t) => io.err(t))]);

  const outcome = new Promise<ChildOutcome>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new AgentprovError('SPAWN_FAILED', `could not start "${command.slice(0, 200)}": ${err.code ?? err.message}`, {
          details: { command: command.slice(0, 200), reason: err.code ?? 'error' },
          cause: err,
        }),
      );
    });
    child.once('exit', (code, signal) => {
      void pumps.then(() => {
        const num = signal ? (constants.signals as Record<string, number>)[signal] ?? 0 : 0;
        resolve({ exitCode: signal ? 128 + num : (code ?? 1), signal, pid: child.pid, forwarded });
      });
    });
  });

  return {
    outcome,
    done() {
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
      releaseInt();
      releaseInt = () => {};
    },
  };
}
