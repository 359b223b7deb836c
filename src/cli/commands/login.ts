/**
 * `agentprov login [--device | --browser] [--no-browser] [--timeout S]`
 * signs in at the configured orchestrator issuer; `login --complete
 * [--wait S]` finishes a device sign-in an agent started (exit 3 with the code, then `login --complete`).
 */
import { configuredIssuer } from '../../auth/orchestrator-config.js';
import { describeSession, humanSession } from '../../auth/describe.js';
import { completePending, signIn } from '../../auth/signin.js';
import { DEFAULT_TIMEOUT_SECONDS, methodOption, secondsOption } from '../options.js';
import { readSession } from '../../auth/store.js';
import type { Deps } from '../deps.js';
import { AgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const vault = await deps.vault();
  if (opts.complete) {
    const session = await completePending(deps, secondsOption(opts.wait, '--wait', 0));
    if (session) return signedIn(describeSession(session, vault));
    const existing = await readSession(vault);
    if (existing) return signedIn(describeSession(existing, vault), ['no sign-in was pending; already signed in']);
    throw new AgentprovError('NO_PENDING_AUTHORIZATION', 'there is no pending sign-in to complete', { nextSteps: ['agentprov login'] });
  }
  const { issuer, clientId } = await configuredIssuer(deps);
  const method = methodOption(opts);
  const session = await signIn(deps, {
    issuer,
    clientId,
    ...(method ? { method } : {}),
    openBrowser: opts.openBrowser !== false,
    timeoutSeconds: secondsOption(opts.timeout, '--timeout', DEFAULT_TIMEOUT_SECONDS),
  });
  return signedIn(describeSession(session, vault));
}

function signedIn(view: ReturnType<typeof describeSession>, warnings: string[] = []): CommandResult {
  return { data: view, warnings, human: humanSession(view), bare: view.email ?? view.subject };
}
