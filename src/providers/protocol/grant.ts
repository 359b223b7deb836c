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
 * As in store.ts, the non-secret part is one base64url blob: the output
 * redactor masks every vault string, and the account id must stay printable.
 */
import { z } from 'zod';
import type { Vault } from '../../vault/vault.js';

export const grantEntry = (providerId: string): string => `provider-grant:${providerId}`;
export const consentEntry = (providerId: string): string => `provider-consent:${providerId}`;

const Token = z.string().min(1).max(16_384);

export const GrantPublic = z.object({
  issuer: z.string().url().max(2048),
  client_id: z.string().min(1).max(255),
  account_id: z.string().min(1).max(128),
  scope: z.string().max(2048).optional(),
  terms_version: z.string().min(1).max(64).optional(),
});
export type GrantPublic = z.infer<typeof GrantPublic>;

const StoredGrant = z.object({
  v: z.literal(1),
  refresh_token: Token,
  access_token: Token,
  /** Epoch seconds. */
  access_token_expires_at: z.number().int().nonnegative(),
  /** base64url(JSON(GrantPublic)). */
  public: z.string().max(16_384),
  /** Epoch seconds of the last write. */
  updated_at: z.number().int().nonnegative(),
});

export interface Grant extends GrantPublic {
  refresh_token: string;
  access_token: string;
  access_token_expires_at: number;
  updated_at: number;
}

export async function readGrant(vault: Vault, providerId: string): Promise<Grant | undefined> {
  const raw = await vault.get(grantEntry(providerId));
  if (raw === undefined) return undefined;
  const parsed = StoredGrant.safeParse(raw);
  if (!parsed.success) return undefined;
  try {
    const pub = GrantPublic.parse(JSON.parse(Buffer.from(parsed.data.public, 'base64url').toString('utf8')));
    const { public: _pub, v: _v, ...secret } = parsed.data;
    return { ...pub, ...secret };
  } catch {
    return undefined;
  }
}

export function grantValue(g: Grant): z.infer<typeof StoredGrant> {
  const pub = GrantPublic.parse({
    issuer: g.issuer,
    client_id: g.client_id,
    account_id: g.account_id,
    ...(g.scope !== undefined ? { scope: g.scope } : {}),
    ...(g.terms_version !== undefined ? { terms_version: g.terms_version } : {}),
  });
  return {
    v: 1,
    refresh_token: g.refresh_token,
    access_token: g.access_token,
    access_token_expires_at: g.access_token_expires_at,
    public: Buffer.from(JSON.stringify(pub), 'utf8').toString('base64url'),
    updated_at: g.updated_at,
  };
}
