/**
 * `agentprov revoke` at an agentprov-protocol provider (docs/protocol-auth.md
 * §7): the stored grant's refresh token is revoked with RFC 7009, which ends
 * the whole grant (every access token issued from it, exchanged ones
 * included), then its current access token too, for a server that revokes
 * only what it is shown. The local copy (grant, consent under way) is
 * deleted by `forget`, whatever the provider answered.
 */
import type { SecretVault } from '../../core/deps.js';
import type { HeldGrant } from '../provider.js';
import type { ClientContext } from './context.js';
import { consentEntry, grantEntry, readGrant } from './grant.js';
import { revokeToken } from './tokens.js';

export async function heldGrant(c: ClientContext): Promise<HeldGrant | undefined> {
  const vault = await c.deps.vault();
  const names = new Set(await vault.names());
  if (!names.has(grantEntry(c.id)) && !names.has(consentEntry(c.id))) return undefined;
  const grant = await readGrant(vault, c.id);
  return {
    what: grant ? 'grant (refresh token)' : 'consent under way',
    authorizes: grant !== undefined,
    // A device authorization under way cannot be revoked (RFC 8628): it expires on its own within minutes.
    ...(grant ? { revoke: () => revokeGrant(c) } : {}),
    remedy: grant
      ? `the grant stays valid at ${c.id} until its refresh token expires: end agentprov's access in your ${c.id} account`
      : 'nothing to end at the provider: the device authorization expires on its own',
    forget: () => forgetProtocolGrant(vault, c.id),
  };
}

/** RFC 7009: the refresh token (the grant, §7), then the access token, under the provider lock so no refresh runs beside it. */
async function revokeGrant(c: ClientContext): Promise<void> {
  const vault = await c.deps.vault();
  await c.locked(async () => {
    const grant = await readGrant(vault, c.id);
    if (!grant) return;
    await revokeToken(c, grant.client_id, grant.refresh_token, grant.issuer, 'refresh_token');
    await revokeToken(c, grant.client_id, grant.access_token, grant.issuer);
  });
}

/** Deletes the grant and any consent under way from the vault (no descriptor needed). True when there was one. */
export async function forgetProtocolGrant(vault: SecretVault, providerId: string): Promise<boolean> {
  return vault.update((entries) => {
    const had = grantEntry(providerId) in entries || consentEntry(providerId) in entries;
    delete entries[grantEntry(providerId)];
    delete entries[consentEntry(providerId)];
    return had;
  });
}
