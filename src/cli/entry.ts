/**
 * Process entry of the bundled CLI. The only place that exits the process,
 * and only once stdout and stderr are flushed: a pipe takes 64 KiB at once,
 * and process.exit() drops whatever is still queued (a 1.6 MB
 * `catalog --json` used to arrive cut at 65,536 bytes).
 */
// First: zod must see this before it loads (see the module).
import './zod-jitless.js';
import { AgentprovError, EXIT } from '../core/errors.js';
import { dispatchInterrupt } from '../core/interrupt.js';
import { processIO } from './io.js';
import { main, ownArgs } from './main.js';
import { renderError } from './output.js';

let interrupted = false;
process.on('SIGINT', () => {
  // A second Ctrl-C always ends the process; the first may belong to the command.
  if (interrupted) process.exit(EXIT.INTERRUPTED);
  if (dispatchInterrupt()) {
    interrupted = true;
    return;
  }
  interrupted = true;
  renderError(processIO(), ownArgs(process.argv.slice(2)).includes('--json'), 'agentprov', new AgentprovError('INTERRUPTED', 'interrupted'));
  process.exit(EXIT.INTERRUPTED);
});

/** Exit with `code` once both output streams have handed everything to the OS (or failed to). */
function exitFlushed(code: number): void {
  process.exitCode = code;
  const pending = [process.stdout, process.stderr].filter((s) => s.writableLength > 0 && !s.destroyed);
  if (pending.length === 0) process.exit(code);
  let left = pending.length;
  // A write's callback runs after every earlier write finished (or the stream failed, e.g. EPIPE).
  const done = (): void => void (--left === 0 && process.exit(code));
  for (const s of pending) {
    s.once('error', () => process.exit(code)); // the reader went away (EPIPE): nothing left to deliver
    s.write('', done);
  }
}

main(process.argv.slice(2)).then(
  (code) => exitFlushed(code),
  (err) => {
    process.stderr.write(`fatal: ${(err as Error)?.message ?? String(err)}\n`);
    exitFlushed(EXIT.OTHER);
  },
);
