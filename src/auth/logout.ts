/**
 * Signing out: revoke the refresh token at the issuer (RFC 7009), then
 * delete the local session and any pending sign-in. An unreachable issuer
 * does not keep the user signed in locally: the session is deleted and a
 * warning says the revocation did not happen. Used by `logout` and by
 * `revoke --all`.
 */
import type { Deps } from '../core/deps.js';
import { PENDING_ENTRY, readSession, SESSION_ENTRY, sessionClaims, withSessionLock } from './store.js';

export interface SignOutOutcome {
  signed_out: boolean;
  revoked: boolean;
  issuer: string | null;
  warnings: string[];
}

export async function signOut(deps: Pick<Deps, 'vault' | 'paths'>): Promise<SignOutOutcome> {
  const vault = await deps.vault();
  const warnings: string[] = [];
  const result = await withSessionLock(deps.paths.state, async () => {
    const session = await readSession(vault);
    let revoked = false;
    let issuer: string | null = null;
    if (session) {
      try {
        issuer = sessionClaims(session).issuer;
        const { revokeStoredSession } = await import('./tokens.js');
        await revokeStoredSession(session);
        revoked = true;
      } catch (err) {
        warnings.push(`the issuer did not revoke the session (${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}); it was deleted locally`);
      }
    }
    // Nothing to delete: no write (writing would create a vault and its key). A session just read needs no second look.
    if (!session) {
      const names = await vault.names();
      if (!names.includes(SESSION_ENTRY) && !names.includes(PENDING_ENTRY)) return { signed_out: false, revoked, issuer };
    }
    const removed = await vault.update((entries) => {
      const had = SESSION_ENTRY in entries || PENDING_ENTRY in entries;
      delete entries[SESSION_ENTRY];
      delete entries[PENDING_ENTRY];
      return had;
    });
    return { signed_out: removed, revoked, issuer };
  });
  return { ...result, warnings };
}
