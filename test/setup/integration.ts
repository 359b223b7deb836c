/** Global setup of the integration project: in CI, fail at once when the Secret Service is missing, rather than suite by suite. */
import { inCI } from '../helpers/ci.js';
import { noSecretServiceError, secretServiceMissing } from '../helpers/keyring.js';

export default function setup(): void {
  if (!inCI) return;
  const missing = secretServiceMissing();
  if (missing) throw noSecretServiceError(missing);
}
