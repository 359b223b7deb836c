/**
 * The signed-in session, for every command that acts for the user.
 *
 * `getSession(deps)` returns a valid access token and the ID token. When the
 * access token has less than a minute left it refreshes under the session
 * lock: lock → re-read the vault (another process may have refreshed
 * already) → refresh only if still needed → write → unlock. Rotating refresh
 * tokens thus survive many agentprov processes at once. A refresh also
 * rewrites the identity file `whoami` reads; a refused one removes it.
 */
import type { Deps } from '../core/deps.js';
import { describeSession } from './describe.js';
import { writeIdentity } from './identity.js';
import { noSession, readSession, SESSION_ENTRY, sessionClaims, withSessionLock, type SessionClaims, type StoredSession } from './store.js';

/** Refresh when the access token has less than this many seconds left. */
export const REFRESH_MARGIN_SECONDS = 60;

export interface ActiveSession {
  accessToken: string;
  idToken: string;
  /** When the access token expires. */
  expiresAt: Date;
  claims: SessionClaims;
  /** True when this call refreshed the tokens. */
  refreshed: boolean;
}

function nowSeconds(deps: Pick<Deps, 'clock'>): number {
  return Math.floor(deps.clock.now().getTime() / 1000);
}

function fresh(s: StoredSession, now: number): boolean {
  return s.access_token_expires_at - now >= REFRESH_MARGIN_SECONDS;
}

function active(s: StoredSession, refreshed: boolean): ActiveSession {
  return {
    accessToken: s.access_token,
    idToken: s.id_token,
    expiresAt: new Date(s.access_token_expires_at * 1000),
    claims: sessionClaims(s),
    refreshed,
  };
}

export async function getSession(deps: Deps): Promise<ActiveSession> {
  const vault = await deps.vault();
  const stored = await readSession(vault);
  if (!stored) throw noSession();
  if (fresh(stored, nowSeconds(deps))) return active(stored, false);

  return withSessionLock(deps.paths.state, async () => {
    const current = await readSession(vault);
    if (!current) throw noSession();
    if (fresh(current, nowSeconds(deps))) return active(current, false);
    deps.debug('access token expires within a minute: refreshing');
    const { refreshStoredSession } = await import('./tokens.js');
    try {
      const next = await refreshStoredSession(current, nowSeconds(deps), deps.io.redactor);
      await vault.set(SESSION_ENTRY, next);
      await writeIdentity(deps.paths.state, describeSession(next, vault), vault.fingerprint);
      return active(next, true);
    } catch (err) {
      // A refused refresh token will never work again: forget the session.
      // (The vault's after-write hook, cli/deps.ts, then drops whoami's identity file.)
      if ((err as { code?: string }).code === 'NOT_SIGNED_IN') await vault.delete(SESSION_ENTRY);
      throw err;
    }
  });
}
