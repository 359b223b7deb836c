/**
 * Process entry of the bundled CLI. The only place that exits the process.
 */
import { AgentprovError, EXIT } from './errors.js';
import { dispatchInterrupt } from './interrupt.js';
import { processIO } from './io.js';
import { main } from './main.js';
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
  renderError(processIO(), process.argv.includes('--json'), 'agentprov', new AgentprovError('INTERRUPTED', 'interrupted'));
  process.exit(EXIT.INTERRUPTED);
});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`fatal: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(EXIT.OTHER);
  },
);
