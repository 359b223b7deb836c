/**
 * `agentprov vault status`: which store holds the secrets, why, and whether
 * it works right now (a write/read/delete probe). Never a secret.
 */
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const vault = await deps.vault();
  if (opts.probe !== false) await vault.probe();
  const status = await vault.status();
  const data = { ...status, probe: opts.probe !== false ? 'ok' : 'skipped' };
  return {
    data,
    human: [
      `store:    ${status.store === 'keychain' ? 'OS keychain' : 'passphrase file'} (${status.reason})`,
      `key:      ${status.key}`,
      `vault:    ${status.location}`,
      `entries:  ${status.entries}`,
      `probe:    ${data.probe}`,
    ].join('\n'),
  };
}
