/**
 * `agentprov whoami [--refresh]`: who is signed in, at which issuer, until
 * when, and where secrets live. Never a secret, never the network unless
 * `--refresh` asks for a fresh access token.
 *
 * Fast path: the identity file beside the vault (auth/identity.ts), trusted
 * only while the vault on disk is the very file that session was seen in,
 * so no keychain, no decryption and no zod. Otherwise the vault is opened,
 * the session read from the stored ID token, and the identity file written
 * again (or removed when there is no session).
 */
import { humanSession, readVerifiedIdentity, removeIdentity, writeIdentity, type SessionView } from '../../auth/identity.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  if (!opts.refresh) {
    const known = readVerifiedIdentity(deps.paths.state, deps.env);
    if (known) return present(known);
  }
  const [{ describeSession }, { noSession, readSession }] = await Promise.all([import('../../auth/describe.js'), import('../../auth/store.js')]);
  const vault = await deps.vault();
  let refreshed = false;
  if (opts.refresh) {
    const { getSession } = await import('../../auth/session.js');
    refreshed = (await getSession(deps)).refreshed;
  }
  const stored = await readSession(vault);
  if (!stored) {
    removeIdentity(deps.paths.state);
    throw noSession();
  }
  const view = describeSession(stored, vault);
  await writeIdentity(deps.paths.state, view, vault.fingerprint);
  return present({ ...view, ...(opts.refresh ? { refreshed } : {}) });
}

function present(view: SessionView & { refreshed?: boolean }): CommandResult {
  return { data: view, human: humanSession(view), bare: view.email ?? view.subject };
}
