/**
 * Where the sign-in lives: two vault entries, parsed with zod on every read.
 *
 * - `session`: refresh token, ID token, access token and its expiry. Who the
 *   session belongs to (issuer, subject, email, auth_time, client id) is read
 *   from the ID token's claims, never stored twice.
 * - `pending_sign_in`: a device authorization an agent started and a later
 *   `login --complete` finishes. The device code is the secret; what the
 *   human is shown (user code, verification URL, issuer) is not secret.
 *
 * The vault teaches the output redactor the strings under secret-named
 * fields (…_token, device_code), so the pending sign-in's URL and user code
 * beside them can be printed again.
 *
 * This module is on `whoami`'s fast path: no openid-client, no network.
 */
import { join } from 'node:path';
import { withFileLock } from '../util/file-lock.js';
// The subpath keeps the rest of jose (verify, JWE, keys) out of whoami's start-up.
import { decodeJwt } from 'jose/jwt/decode';
import * as z from 'zod';
import { AgentprovError } from '../core/errors.js';
import type { SecretVault } from '../core/deps.js';

export const SESSION_ENTRY = 'session';
export const PENDING_ENTRY = 'pending_sign_in';

const Token = z.string().min(1).max(16_384);

export const StoredSession = z.object({
  v: z.literal(1),
  refresh_token: Token.optional(),
  id_token: Token,
  access_token: Token,
  /** Epoch seconds. */
  access_token_expires_at: z.number().int().nonnegative(),
  /** Epoch seconds of the last write (sign-in or refresh). */
  updated_at: z.number().int().nonnegative(),
});
export type StoredSession = z.infer<typeof StoredSession>;

/** A device authorization waiting for a human (RFC 8628), as the vault keeps it: sign-in, consent at a provider, a cap raise. */
export const StoredPending = z.object({
  v: z.literal(1),
  issuer: z.string().url().max(2048),
  client_id: z.string().min(1).max(256),
  device_code: Token,
  user_code: z.string().min(1).max(64),
  verification_uri: z.string().url().max(2048),
  verification_uri_complete: z.string().url().max(4096).optional(),
  /** Epoch seconds. */
  expires_at: z.number().int().nonnegative(),
  interval: z.number().int().min(0).max(600),
});

export type PendingSignIn = Omit<z.infer<typeof StoredPending>, 'v'>;

/** What an agent is told of a pending device authorization (exit 3 `details`): where to go, which code, until when. */
export function pendingDetails(p: PendingSignIn): { verification_uri: string; verification_uri_complete: string | null; user_code: string; expires_at: string; interval: number } {
  return {
    verification_uri: p.verification_uri,
    verification_uri_complete: p.verification_uri_complete ?? null,
    user_code: p.user_code,
    expires_at: new Date(p.expires_at * 1000).toISOString(),
    interval: p.interval,
  };
}

/** Identity claims of the stored ID token (decoded, not verified: it was verified when it was received). */
export interface SessionClaims {
  issuer: string;
  subject: string;
  clientId: string;
  email?: string;
  name?: string;
  authTime?: number;
}

const IdClaims = z.looseObject({
  iss: z.string().url().max(2048),
  sub: z.string().min(1).max(255),
  aud: z.union([z.string(), z.array(z.string()).min(1)]),
  azp: z.string().optional(),
  email: z.string().max(254).optional(),
  name: z.string().max(256).optional(),
  auth_time: z.number().optional(),
});

export function sessionClaims(session: StoredSession): SessionClaims {
  const parsed = IdClaims.safeParse(decodeJwt(session.id_token));
  if (!parsed.success) throw lostSession('the stored ID token has no usable identity claims');
  const c = parsed.data;
  return {
    issuer: c.iss,
    subject: c.sub,
    clientId: c.azp ?? (Array.isArray(c.aud) ? c.aud[0]! : c.aud),
    ...(c.email !== undefined ? { email: c.email } : {}),
    ...(c.name !== undefined ? { name: c.name } : {}),
    ...(c.auth_time !== undefined ? { authTime: c.auth_time } : {}),
  };
}

export async function readSession(vault: SecretVault): Promise<StoredSession | undefined> {
  const raw = await vault.get(SESSION_ENTRY);
  if (raw === undefined) return undefined;
  const parsed = StoredSession.safeParse(raw);
  // An unreadable entry is a lost session, not a crash: signing in again replaces it.
  return parsed.success ? parsed.data : undefined;
}

/** A stored device authorization: the sign-in's (`entry` = PENDING_ENTRY) or a provider consent's. */
export async function readPending(vault: SecretVault, entry = PENDING_ENTRY): Promise<PendingSignIn | undefined> {
  const raw = await vault.get(entry);
  if (raw === undefined) return undefined;
  const parsed = StoredPending.safeParse(raw);
  if (!parsed.success) return undefined;
  const { v: _v, ...pending } = parsed.data;
  return pending;
}

export function pendingEntry(p: PendingSignIn): z.infer<typeof StoredPending> {
  return StoredPending.parse({ ...p, v: 1 });
}

export function lostSession(why: string, nextSteps = ['agentprov login']): AgentprovError {
  return new AgentprovError('NOT_SIGNED_IN', `not signed in: ${why}`, { nextSteps });
}

export function noSession(): AgentprovError {
  return lostSession('no session in the vault', ['agentprov login', 'agentprov init --orchestrator <url>']);
}

/**
 * The cross-process session lock (separate from the vault file's own lock):
 * held across read → refresh → write so that concurrent processes never
 * present the same rotating refresh token twice (a replay kills the grant).
 */
export function withSessionLock<T>(stateDir: string, fn: () => Promise<T>): Promise<T> {
  return withStateLock(stateDir, 'session', fn);
}

/**
 * A named cross-process lock under the state dir (`<stateDir>/<name>.lock`),
 * for any read → refresh → write of rotating credentials (the session, a
 * provider grant).
 */
export function withStateLock<T>(stateDir: string, name: string, fn: () => Promise<T>): Promise<T> {
  return withFileLock(join(stateDir, name), { code: 'SESSION_LOCKED', what: name, staleMs: 30_000, retries: 600 }, fn);
}
