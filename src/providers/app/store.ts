/**
 * What the APP client keeps in the vault (zod on every read), per provider id:
 *
 * - `app-grant:<id>`: refresh and access token, the account, the CIMD it was
 *   obtained with;
 * - `app-pending:<id>`: a consent under way (the account request's id, which
 *   the provider echoes as `state`; the PKCE verifier; the consent URL);
 * - `app-resource:<id>:<resource>`: a resource's access_configuration;
 * - `app-client:<id>`: the CIMD URL registered there (not secret; kept beside
 *   the rest so registration happens once per provider).
 */
import * as z from 'zod';
import type { SecretVault } from '../../core/deps.js';

export const grantEntry = (p: string): string => `app-grant:${p}`;
export const pendingEntry = (p: string): string => `app-pending:${p}`;
export const resourceEntry = (p: string, r: string): string => `app-resource:${p}:${r}`;
export const clientEntry = (p: string): string => `app-client:${p}`;

const Token = z.string().min(1).max(4096);
export const AppGrant = z.object({
  v: z.literal(1),
  client_id: z.string().url().max(2048),
  account_id: z.string().max(255),
  refresh_token: Token,
  access_token: Token,
  access_token_expires_at: z.number().int().nonnegative(),
});
export type AppGrant = z.infer<typeof AppGrant>;

export const AppPending = z.object({
  v: z.literal(1),
  request_id: z.string().min(1).max(255),
  code_verifier: z.string().min(43).max(128),
  url: z.string().url().max(2048),
  client_id: z.string().url().max(2048),
  relay: z.string().url().max(2048).optional(),
  expires_at: z.number().int(),
});
export type AppPending = z.infer<typeof AppPending>;

export const AppCredentials = z.object({
  v: z.literal(1),
  service_id: z.string().max(255),
  access_configuration: z.record(z.string().max(64), z.string().max(4096)),
});

export async function readEntry<T>(vault: SecretVault, entry: string, schema: z.ZodType<T>): Promise<T | undefined> {
  const raw = await vault.get(entry);
  if (raw === undefined) return undefined;
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
