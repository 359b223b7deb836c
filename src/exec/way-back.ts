/**
 * After `agentprov revoke` (or a grant the provider refused), `token` and
 * `run` fail with exit 3 PROVIDER_NOT_AUTHORIZED; the way back is an `add`
 * of the resources already provisioned there, which authorizes again
 * without provisioning anything (src/provision/steps/authorize.ts,
 * `reauthorize`; a provider asking for consent continues with
 * `--complete`). This names those commands for the project's resources.
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError, isAgentprovError } from '../core/errors.js';
import { loadManifest, manifestPathFor } from '../project/manifest.js';

/** The same error with the `add` commands that authorize again first, when it is PROVIDER_NOT_AUTHORIZED. */
export async function withWayBack(deps: Pick<Deps, 'cwd'>, err: unknown): Promise<unknown> {
  if (!isAgentprovError(err) || err.code !== 'PROVIDER_NOT_AUTHORIZED') return err;
  const provider = typeof err.details.provider === 'string' ? err.details.provider : undefined;
  if (!provider) return err;
  let steps: string[] = [];
  try {
    const resources = (await loadManifest(manifestPathFor(deps))).resources.filter((r) => r.provider === provider && r.id);
    steps = resources.slice(0, 5).map((r) => `agentprov add ${r.provider}/${r.service} --name ${r.name}`);
  } catch {
    return err; // no manifest here: the provider's own next steps stand
  }
  if (!steps.length) return err;
  return new AgentprovError(err.code, `${err.message}; \`agentprov add\` of a resource already provisioned there authorizes again (with --complete after a consent)`, {
    details: err.details,
    nextSteps: [...steps, ...err.nextSteps.filter((s) => !steps.includes(s))],
    cause: err,
  });
}
