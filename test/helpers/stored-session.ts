/**
 * A signed-in agentprov home without an identity provider: the session is
 * stored in the home's vault as sign-in leaves it. Its ID token is decoded,
 * never verified, after sign-in, so nothing needs to have signed it. For
 * tests of what comes after sign-in (sign-in itself: test/e2e/signin.test.ts).
 */
import { SESSION_ENTRY } from '../../src/auth/store.js';
import { createDeps, type Deps } from '../../src/cli/deps.js';
import { isolatedEnv, tempDir } from './cli.js';
import { bufferIO } from './io.js';

export const ISSUER = 'https://idp.agentprov.test';

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
/** A stored session as sign-in leaves it; its ID token is decoded (never verified) after sign-in. */
export function sessionEntry(subject: string) {
  const now = Math.floor(Date.now() / 1000);
  const idToken = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: ISSUER, sub: subject, aud: 'agentprov-cli', email: `${subject}@agentprov.test`, iat: now, exp: now + 3600 })}.c2lnbmF0dXJl`;
  return { v: 1, id_token: idToken, access_token: `session-access-${subject}-${'x'.repeat(16)}`, access_token_expires_at: now + 3600, updated_at: now };
}

export interface Home {
  home: string;
  env: NodeJS.ProcessEnv;
}

export function newHome(): Home {
  const home = tempDir();
  return { home, env: isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' }) };
}

export function depsFor(h: Home, io = bufferIO(), globals = { json: true, input: false, verbose: false }): Deps & { io: ReturnType<typeof bufferIO> } {
  return { ...createDeps(globals, h.env, io, []), io } as Deps & { io: ReturnType<typeof bufferIO> };
}

/** Stores the session of `subject` in the vault of `h` (the vault's store decides: the keychain unless the home's env says file). */
export async function signIn(h: Home, subject = 'demo-user'): Promise<void> {
  await (await depsFor(h).vault()).set(SESSION_ENTRY, sessionEntry(subject));
}

/** Make the stored session's access token look expired (the next command refreshes); returns the refresh token it held. */
export async function expireSessionAccessToken(vault: { update<R>(fn: (entries: Record<string, unknown>) => R | Promise<R>): Promise<R> }): Promise<string> {
  let refresh = '';
  await vault.update((entries) => {
    const s = entries.session as Record<string, unknown>;
    s.access_token_expires_at = Math.floor(Date.now() / 1000) - 10;
    refresh = s.refresh_token as string;
  });
  return refresh;
}

/** Make an APP provider's stored access token look expired (the next call refreshes it); returns the refresh token it held. */
export async function expireAppAccessToken(vault: { update<R>(fn: (entries: Record<string, unknown>) => R | Promise<R>): Promise<R> }, provider: string): Promise<string> {
  let refresh = '';
  await vault.update((entries) => {
    const g = entries[`app-grant:${provider}`] as Record<string, unknown>;
    g.access_token_expires_at = Math.floor(Date.now() / 1000) - 10;
    refresh = g.refresh_token as string;
  });
  return refresh;
}
