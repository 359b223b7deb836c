// What the bench rows that need a signed-in user share: an agentprov sandbox
// with --auto-approve, an agent-mode sign-in in a fresh project, then the
// given setup steps (each must exit 0). `stop()` ends the sandbox.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export async function signedInSandbox({ env, bin, steps = [] }) {
  const sandbox = spawn(process.execPath, [bin, 'sandbox', '--json', '--auto-approve'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  const stop = () => sandbox.kill('SIGINT');
  try {
    const ready = await new Promise((resolve, reject) => {
      sandbox.once('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
      createInterface({ input: sandbox.stdout }).once('line', (line) => resolve(JSON.parse(line)));
    });
    const cwd = mkdtempSync(join(tmpdir(), 'agentprov-bench-project-'));
    const cli = (...args) => spawnSync(process.execPath, [bin, ...args, '--json'], { env, cwd, encoding: 'utf8' });
    cli('init', '--orchestrator', ready.data.orchestrator); // exits 3: device code pending (auto-approved)
    for (const step of [['login', '--complete', '--wait', '15'], ...steps]) {
      const r = cli(...step);
      if (r.status !== 0) throw new Error(`bench setup \`${step.join(' ')}\` failed: ${r.stdout}${r.stderr}`);
    }
    return { cwd, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
