/**
 * Minting tokens for the provider's resource server from the custom grants
 * (JWT bearer, token exchange), through oidc-provider's own models so that
 * refresh, revocation and lookup treat them like any other token. Access
 * tokens are opaque (the value is the `jti`) and audience-bound to the
 * resource identifier (RFC 8707 / RFC 9728): the provider's base URL.
 */
import type { Client, Provider, ResourceServer } from 'oidc-provider';

/** Default access token lifetime, seconds. */
export const ACCESS_TOKEN_TTL_S = 600;

export interface ResourceConfig {
  /** The RFC 9728 resource identifier, which is also the token audience. */
  baseUrl: string;
  scopes: readonly string[];
}

export function resourceServerInfo(rs: ResourceConfig): ResourceServer {
  return { scope: rs.scopes.join(' '), audience: rs.baseUrl, accessTokenFormat: 'opaque', accessTokenTTL: ACCESS_TOKEN_TTL_S };
}

/** True when `identifier` names this resource (a trailing slash is tolerated). */
export function isResource(rs: ResourceConfig, identifier: string): boolean {
  return identifier === rs.baseUrl || identifier === `${rs.baseUrl}/`;
}

export function splitScope(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(' ').filter(Boolean))];
}

export interface MintInput {
  client: Client;
  accountId: string;
  grantId: string;
  /** Resource scopes, already checked against what may be granted. */
  scopes: readonly string[];
  gty: string;
}

/** A saved opaque access token; `expiresIn` overrides the default lifetime. */
export async function mintAccessToken(
  provider: Provider,
  rs: ResourceConfig,
  input: MintInput & { expiresIn?: number },
): Promise<{ value: string; expiresIn: number; scope: string }> {
  const at = new provider.AccessToken({
    client: input.client,
    accountId: input.accountId,
    grantId: input.grantId,
    gty: input.gty,
    scope: input.scopes.join(' '),
    ...(input.expiresIn !== undefined ? { expiresIn: input.expiresIn } : {}),
  });
  at.resourceServer = new provider.ResourceServer(rs.baseUrl, resourceServerInfo(rs));
  const value = await at.save();
  return { value, expiresIn: at.expiration, scope: at.scope ?? '' };
}

export async function mintRefreshToken(
  provider: Provider,
  rs: ResourceConfig,
  input: MintInput & { authTime?: number },
): Promise<string> {
  const rt = new provider.RefreshToken({
    client: input.client,
    accountId: input.accountId,
    grantId: input.grantId,
    gty: input.gty,
    scope: input.scopes.join(' '),
    resource: rs.baseUrl,
    rotations: 0,
    ...(input.authTime !== undefined ? { authTime: input.authTime } : {}),
  });
  return rt.save();
}

/** A grant holding `scopes` for this resource, as the refresh grant will check. */
export async function saveGrant(
  provider: Provider,
  rs: ResourceConfig,
  accountId: string,
  clientId: string,
  scopes: readonly string[],
): Promise<string> {
  const grant = new provider.Grant({ accountId, clientId });
  grant.addResourceScope(rs.baseUrl, scopes.join(' '));
  return grant.save();
}
