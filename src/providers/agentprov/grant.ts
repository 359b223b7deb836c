/**
 * What agentprov holds at a provider, in the vault (parsed with zod on every
 * read), one entry of each kind per provider id:
 *
 * - `provider-grant:<id>`: the refresh token (the long-lived credential),
 *   the current access token and its expiry, plus who it is for (issuer,
 *   client id, account id, scope, accepted terms version);
 * - `provider-consent:<id>`: a device authorization started in agent mode,
 *   finished later by `add … --complete` (same shape as the sign-in's
 *   pending entry, src/auth/store.ts).
 *
 * The vault teaches the output redactor only the tokens (secret-named
 * fields), so the account id beside them stays printable.
 */
import * as z from 'zod';
import type { SecretVault } from '../../core/deps.js';

export const grantEntry = (providerId: string): string => `provider-grant:${providerId}`;
export const consentEntry = (providerId: string): string => `provider-consent:${providerId}`;

const Token = z.string().min(1).max(16_384);

const StoredGrant = z.object({
  v: z.literal(1),
  issuer: z.string().url().max(2048),
  client_id: z.string().min(1).max(255),
  account_id: z.string().min(1).max(128),
  scope: z.string().max(2048).optional(),
  terms_version: z.string().min(1).max(64).optional(),
  refresh_token: Token,
  access_token: Token,
  /** Epoch seconds. */
  access_token_expires_at: z.number().int().nonnegative(),
  /** Epoch seconds of the last write. */
  updated_at: z.number().int().nonnegative(),
});

export type Grant = Omit<z.infer<typeof StoredGrant>, 'v'>;

export async function readGrant(vault: SecretVault, providerId: string): Promise<Grant | undefined> {
  const raw = await vault.get(grantEntry(providerId));
  if (raw === undefined) return undefined;
  const parsed = StoredGrant.safeParse(raw);
  if (!parsed.success) return undefined;
  const { v: _v, ...grant } = parsed.data;
  return grant;
}

export function grantValue(g: Grant): z.infer<typeof StoredGrant> {
  return StoredGrant.parse({ ...g, v: 1 });
}
