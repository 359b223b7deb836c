// Bench rows that need a signed-in session: a sandbox with --auto-approve,
// an agent-mode sign-in, then `whoami --json` on the cached session.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export async function bench({ measure, env, bin }) {
  const sandbox = spawn(process.execPath, [bin, 'sandbox', '--json', '--auto-approve'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const ready = await new Promise((resolve, reject) => {
      sandbox.once('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
      createInterface({ input: sandbox.stdout }).once('line', (line) => resolve(JSON.parse(line)));
    });
    const cwd = mkdtempSync(join(tmpdir(), 'agentprov-bench-project-'));
    const cli = (...args) => spawnSync(process.execPath, [bin, ...args, '--json'], { env, cwd, encoding: 'utf8' });
    cli('init', '--orchestrator', ready.data.orchestrator); // exits 3: device code pending (auto-approved)
    const done = cli('login', '--complete', '--wait', '15');
    if (done.status !== 0) throw new Error(`sign-in for the bench failed: ${done.stdout}`);
    const signedIn = (stdout) => {
      if (!JSON.parse(stdout).data.subject) throw new Error('whoami named nobody');
    };
    return [{ name: 'agentprov whoami --json (cached session)', result: measure([bin, 'whoami', '--json'], env, signedIn), target: 1.5 }];
  } finally {
    sandbox.kill('SIGINT');
  }
}
