/**
 * Global setup of the e2e project, the only one that runs the bundle: in CI,
 * fail at once when a counterpart is missing (rather than each suite after a
 * build); then build the CLI once per run. AGENTPROV_TEST_SKIP_BUILD=1 skips
 * the build when dist/ is fresh (.ci/run has just built it).
 */
import { execFileSync } from 'node:child_process';
import { CHROMIUM_HELP, chromiumMissing } from '../helpers/browser.js';
import { inCI } from '../helpers/ci.js';
import { noSecretServiceError, secretServiceMissing } from '../helpers/keyring.js';

export default function setup(): void {
  if (inCI) {
    const keyring = secretServiceMissing();
    if (keyring) throw noSecretServiceError(keyring);
    const chromium = chromiumMissing();
    if (chromium) throw new Error(`CI requires Chromium for the e2e tests, and there is none: ${chromium}. To get it, ${CHROMIUM_HELP}.`);
  }
  if (process.env.AGENTPROV_TEST_SKIP_BUILD) return;
  execFileSync('npx', ['tsup', '--silent'], { stdio: 'inherit' });
}
