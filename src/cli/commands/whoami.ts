/**
 * `agentprov whoami [--refresh]`: who is signed in, at which issuer, until
 * when, and where secrets live. Read from the stored ID token: no network
 * and no OIDC library unless `--refresh` asks for a fresh access token.
 */
import { describeSession, humanSession } from '../../auth/describe.js';
import { noSession, readSession } from '../../auth/store.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const vault = await deps.vault();
  let refreshed = false;
  if (opts.refresh) {
    const { getSession } = await import('../../auth/session.js');
    refreshed = (await getSession(deps)).refreshed;
  }
  const stored = await readSession(vault);
  if (!stored) throw noSession();
  const view = { ...describeSession(stored, vault), ...(opts.refresh ? { refreshed } : {}) };
  return { data: view, human: humanSession(view), bare: view.email ?? view.subject };
}
