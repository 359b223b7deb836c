// Tests run the real bundled CLI, so build it once per test run.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  if (process.env.AGENTPROV_TEST_SKIP_BUILD) return;
  execFileSync('npx', ['tsup', '--silent'], { stdio: 'inherit' });
}
