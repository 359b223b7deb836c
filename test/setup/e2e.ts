/**
 * Global setup of the e2e project, the only one that runs the bundle: build
 * the CLI once per run. AGENTPROV_TEST_SKIP_BUILD=1 skips the build when
 * dist/ is fresh.
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  if (process.env.AGENTPROV_TEST_SKIP_BUILD) return;
  execFileSync('npx', ['tsup', '--silent'], { stdio: 'inherit' });
}
