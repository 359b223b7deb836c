/**
 * Process entry of the bundled CLI. The only place that exits the process.
 */
import { EXIT } from './errors.js';
import { main } from './main.js';

let interrupted = false;
process.on('SIGINT', () => {
  // A long-running command (sandbox, run) that handles SIGINT itself shuts down in its own way.
  if (process.listenerCount('SIGINT') > 1 && !interrupted) {
    interrupted = true;
    return;
  }
  if (interrupted) process.exit(EXIT.INTERRUPTED);
  interrupted = true;
  const json = process.argv.includes('--json');
  const message = 'interrupted';
  if (json) {
    process.stdout.write(
      JSON.stringify({ ok: false, command: 'agentprov', error: { code: 'INTERRUPTED', message, details: {} }, warnings: [], next_steps: [] }) + '\n',
    );
  } else process.stderr.write(`error [INTERRUPTED]: ${message}\n`);
  process.exit(EXIT.INTERRUPTED);
});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`fatal: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(EXIT.OTHER);
  },
);
