/** What `whoami`, `login` and `init` say about a session: identity and expiry, never a token. */
import type { SecretVault } from '../core/deps.js';
import type { SessionView } from './identity.js';
import { sessionClaims, type StoredSession } from './store.js';

export { humanSession, type SessionView } from './identity.js';

const iso = (s: number): string => new Date(s * 1000).toISOString();

export function describeSession(s: StoredSession, vault: Pick<SecretVault, 'store' | 'path'>): SessionView {
  const c = sessionClaims(s);
  return {
    issuer: c.issuer,
    subject: c.subject,
    email: c.email ?? null,
    name: c.name ?? null,
    auth_time: c.authTime !== undefined ? iso(c.authTime) : null,
    expires_at: iso(s.access_token_expires_at),
    refreshable: Boolean(s.refresh_token),
    credential_store: vault.store,
    vault: vault.path,
  };
}
