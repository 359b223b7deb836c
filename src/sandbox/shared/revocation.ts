/**
 * RFC 7009 revocation policy shared by the sandbox's oidc-provider servers
 * (identity provider and each provider's authorization server). A client may
 * revoke only its own tokens. oidc-provider 9 revokes every token of the
 * grant (refresh tokens too) when an access token is revoked; RFC 7009 §2.1
 * only allows that ("MAY"), and the CLI revokes short-lived access tokens
 * routinely (a wrapped command ending), so an access token is destroyed here
 * on its own and `false` tells oidc-provider to do nothing more. Revoking a
 * refresh token revokes the grant.
 */
import type { AccessToken, Client, ClientCredentials, KoaContextWithOIDC, RefreshToken } from 'oidc-provider';

export async function revocationPolicy(
  _ctx: KoaContextWithOIDC,
  client: Client,
  token: AccessToken | ClientCredentials | RefreshToken,
): Promise<boolean> {
  if (token.clientId !== client.clientId) return false;
  if (token.kind === 'AccessToken') {
    await token.destroy();
    return false;
  }
  return true;
}
