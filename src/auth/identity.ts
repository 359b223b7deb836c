/**
 * Who is signed in, without opening the vault: a plain file beside it
 * (`<state>/session-identity.json`, mode 0600) with what `whoami` shows
 * (issuer, subject, email, name, session expiry, where secrets live) and
 * never a token. `whoami` then needs no keychain, no decryption and no zod,
 * which is most of its start-up (issue 4: within 1.5× a bare `node`).
 *
 * How it stays true: the file also records the fingerprint (location.ts) of
 * the vault file in which that session was seen: the file a sign-in or
 * refresh just wrote (taken under the vault lock), or the file `whoami`
 * just decrypted (fstat of the descriptor it read). Every vault write
 * replaces the vault file, so `whoami` trusts the identity only while the
 * vault on disk is still that very file. Anything else (logout, a refused
 * refresh, another process's refresh, a token minted, the vault moved or
 * deleted, another credential store selected) makes `whoami` open the vault
 * and write the file again, or remove it when there is no session. So it
 * never shows a signed-in identity after logout or once the vault has no
 * session. Not checked on this path: that the keychain still holds the
 * vault's key; any command that uses the session (`whoami --refresh`,
 * `token`, `add`) reads the key and says so when it is gone.
 *
 * The file is an optimisation: writing it never fails a command, and a file
 * that does not parse is ignored.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { currentFingerprint, vaultPath } from '../vault/location.js';

/** What `whoami`, `login` and `init` say about a session: identity and expiry, never a token. */
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

export const IDENTITY_FILE = 'session-identity.json';
const MAX_BYTES = 16 * 1024;

export function identityPath(stateDir: string): string {
  return join(stateDir, IDENTITY_FILE);
}

/** Record `view` as seen in the vault file with `fingerprint`. Never throws. */
export async function writeIdentity(stateDir: string, view: SessionView, fingerprint: string | undefined): Promise<void> {
  if (!fingerprint) return removeIdentity(stateDir);
  // Loaded here, off whoami's read path. A write that fails leaves the older file, trusted only while the vault is the one it recorded.
  const { writeJsonAtomic } = await import('../util/atomic-file.js');
  writeJsonAtomic(identityPath(stateDir), { v: 1, vault_fingerprint: fingerprint, session: view });
}

/** Forget the identity (logout, a lost session). Never throws. */
export function removeIdentity(stateDir: string): void {
  try {
    rmSync(identityPath(stateDir), { force: true });
  } catch {
    /* an unremovable file is still ignored once the vault changes */
  }
}

/**
 * The recorded identity, when the vault on disk is still the file it was
 * seen in and the same credential store is selected; otherwise undefined
 * (the caller opens the vault).
 */
export function readVerifiedIdentity(stateDir: string, env: NodeJS.ProcessEnv): SessionView | undefined {
  let raw: unknown;
  try {
    const text = readFileSync(identityPath(stateDir), 'utf8');
    if (text.length > MAX_BYTES) return undefined;
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(raw) || raw.v !== 1 || typeof raw.vault_fingerprint !== 'string') return undefined;
  const view = narrowView(raw.session);
  if (!view) return undefined;
  const path = vaultPath(stateDir);
  if (view.vault !== path) return undefined;
  if ((env.AGENTPROV_CREDENTIAL_STORE ?? 'keychain').toLowerCase() !== view.credential_store) return undefined;
  return currentFingerprint(path) === raw.vault_fingerprint ? view : undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const strOrNull = (v: unknown, max: number): v is string | null => v === null || str(v, max);
const isoDate = (v: unknown): v is string => str(v, 40) && !Number.isNaN(Date.parse(v));

/** The view with exactly its known fields, or undefined when anything is off. */
function narrowView(v: unknown): SessionView | undefined {
  if (!isObj(v)) return undefined;
  const { issuer, subject, email, name, auth_time, expires_at, refreshable, credential_store, vault } = v;
  if (!str(issuer, 2048) || !str(subject, 255) || !strOrNull(email, 254) || !strOrNull(name, 256)) return undefined;
  if (!(auth_time === null || isoDate(auth_time)) || !isoDate(expires_at) || typeof refreshable !== 'boolean') return undefined;
  if ((credential_store !== 'keychain' && credential_store !== 'file') || !str(vault, 4096)) return undefined;
  return { issuer, subject, email, name, auth_time, expires_at, refreshable, credential_store, vault };
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
