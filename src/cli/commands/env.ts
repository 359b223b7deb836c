/**
 * `agentprov env [<name>…]`: the variable names `agentprov run --resource
 * <name>` would inject (default: every provisioned resource of the
 * manifest), with the resource and provider each comes from and whether the
 * credential behind it is short-lived or long-lived. Never a value, no
 * `.env` file. The names come from the very function `run` uses
 * (src/exec/env-names.ts).
 */
import { describeEnv, type EnvVariable } from '../../exec/env-names.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, args: string[]): Promise<CommandResult> {
  const r = await describeEnv(deps, args);
  const width = Math.max(4, ...r.variables.map((v) => v.name.length));
  const human = r.variables.length
    ? r.variables.map((v) => `${v.name.padEnd(width)}  ${from(v)}  ${v.credential === 'none' ? 'not a credential' : `${v.credential} credential`}`).join('\n')
    : 'agentprov run would inject no variables for these resources';
  return {
    data: { variables: r.variables, resources: r.resources },
    warnings: r.warnings,
    nextSteps: r.resources.length ? [`agentprov run ${r.resources.join(' ')} -- <command>`] : ['agentprov add <provider>/<service>'],
    human,
  };
}

function from(v: EnvVariable): string {
  return `${v.resource ? `${v.resource} (${v.provider})` : v.provider}: ${v.source}`;
}
