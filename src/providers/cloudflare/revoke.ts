/**
 * `agentprov revoke` at Cloudflare: an OAuth link's grant is revoked at
 * Cloudflare's revocation endpoint with its refresh token (RFC 7009, which
 * ends every access token issued from it); a pasted API token is the
 * human's, so agentprov does not delete it (it may serve elsewhere): its
 * children that agentprov still holds are deleted by the caller (cached
 * `token` credentials), the others expire within their TTL (at most an
 * hour). `forget` deletes the link from the vault.
 */
import type { Deps, SecretVault } from '../../core/deps.js';
import type { HeldGrant } from '../provider.js';
import { LINK_ENTRY, readOAuthLink, revokeOAuthGrant } from './oauth-grant.js';
import { readAnyLink } from './oauth-link.js';

export async function heldGrant(deps: Deps): Promise<HeldGrant | undefined> {
  const vault = await deps.vault();
  if (!(await vault.names()).includes(LINK_ENTRY)) return undefined;
  const link = await readAnyLink(vault);
  const forget = () => forgetCloudflareLink(vault);
  if (link && 'kind' in link) {
    return {
      what: 'OAuth grant (refresh token)',
      authorizes: true,
      revoke: async () => {
        const current = await readOAuthLink(deps);
        if (current) await revokeOAuthGrant(deps, current);
      },
      remedy: "the OAuth grant stays valid at Cloudflare: remove agentprov from the authorized applications in your Cloudflare profile (https://dash.cloudflare.com/profile)",
      forget,
    };
  }
  return {
    what: link ? 'linked API token' : 'unreadable link',
    authorizes: link !== undefined,
    remedy: 'the API token you linked stays valid at Cloudflare (agentprov never deletes a token it did not create): delete it at https://dash.cloudflare.com/profile/api-tokens; the child tokens agentprov made from it expire within their lifetime (at most an hour)',
    forget,
  };
}

export async function forgetCloudflareLink(vault: SecretVault): Promise<boolean> {
  return vault.delete(LINK_ENTRY);
}
