/**
 * `agentprov status`: the project's resources refreshed from their providers
 * (the same view as `list`), plus who is signed in when a session exists.
 */
import { readSession, sessionClaims } from '../../auth/store.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';
import { run as list } from './list.js';

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const listed = await list(deps, args, opts);
  let signedIn: { issuer: string; subject: string; email: string | null } | null = null;
  try {
    const session = await readSession(await deps.vault());
    if (session) {
      const c = sessionClaims(session);
      signedIn = { issuer: c.issuer, subject: c.subject, email: c.email ?? null };
    }
  } catch {
    signedIn = null;
  }
  const who = signedIn ? `signed in as ${signedIn.email ?? signedIn.subject} at ${signedIn.issuer}` : 'not signed in';
  return { ...listed, data: { ...(listed.data as object), signed_in: signedIn }, human: `${who}\n${listed.human ?? ''}` };
}
