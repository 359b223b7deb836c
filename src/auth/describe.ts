/** What `whoami`, `login` and `init` say about a session: identity and expiry, never a token. */
import type { Vault } from '../vault/vault.js';
import { sessionClaims, type StoredSession } from './store.js';

export interface SessionView {
  issuer: string;
  subject: string;
  email: string | null;
  name: string | null;
  /** ISO 8601: when the user last really authenticated. */
  auth_time: string | null;
  /** ISO 8601: when the cached access token expires (the refresh token renews it). */
  expires_at: string;
  refreshable: boolean;
  credential_store: 'keychain' | 'file';
  vault: string;
}

const iso = (s: number): string => new Date(s * 1000).toISOString();

export function describeSession(s: StoredSession, vault: Vault): SessionView {
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

export function humanSession(v: SessionView): string {
  return [
    `signed in as ${v.email ?? v.subject}${v.name ? ` (${v.name})` : ''}`,
    `  issuer       ${v.issuer}`,
    `  subject      ${v.subject}`,
    `  expires      ${v.expires_at}${v.refreshable ? ' (renewed automatically)' : ''}`,
    `  secrets in   ${v.credential_store === 'keychain' ? 'OS keychain' : 'passphrase file'} (${v.vault})`,
  ].join('\n');
}
