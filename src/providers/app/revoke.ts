/**
 * `agentprov revoke` at an APP 0.1d provider (docs/protocol.md §APP): APP
 * has no revocation endpoint (no RFC 7009, nothing in its resource API that
 * ends a grant), so nothing is sent; the grant stays valid at the provider
 * until it expires or the human ends agentprov's access there, which the
 * remedy says. `forget` deletes every local copy: the grant, a consent
 * under way, and the resources' keys (their access_configuration, which a
 * new grant fetches again).
 */
import type { SecretVault } from '../../core/deps.js';
import type { HeldGrant } from '../provider.js';
import { grantEntry, pendingEntry, resourceEntry } from './store.js';

export async function heldGrant(vault: SecretVault, providerId: string): Promise<HeldGrant | undefined> {
  const names = await vault.names();
  const mine = names.filter((n) => isHeld(n, providerId));
  if (mine.length === 0) return undefined;
  const keys = mine.filter((n) => n.startsWith(resourceEntry(providerId, ''))).length;
  const what = [
    ...(mine.includes(grantEntry(providerId)) ? ['grant (refresh token)'] : []),
    ...(mine.includes(pendingEntry(providerId)) ? ['consent under way'] : []),
    ...(keys ? [`keys of ${keys} resource${keys === 1 ? '' : 's'}`] : []),
  ].join(', ');
  return {
    what,
    authorizes: mine.includes(grantEntry(providerId)),
    remedy: `APP 0.1d offers no revocation endpoint: end agentprov's access in your ${providerId} account; the resources' own keys stay valid at ${providerId} until they are rotated or the resources removed`,
    forget: () => forgetAppGrant(vault, providerId),
  };
}

function isHeld(name: string, providerId: string): boolean {
  return name === grantEntry(providerId) || name === pendingEntry(providerId) || name.startsWith(resourceEntry(providerId, ''));
}

/** Deletes the grant, a consent under way and the resources' keys. True when there was any. */
export async function forgetAppGrant(vault: SecretVault, providerId: string): Promise<boolean> {
  return vault.update((entries) => {
    let had = false;
    for (const name of Object.keys(entries)) {
      if (!isHeld(name, providerId)) continue;
      delete entries[name];
      had = true;
    }
    return had;
  });
}
