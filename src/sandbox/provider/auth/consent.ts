/**
 * What a consent grants: the resource scopes (and OIDC scopes) asked for in
 * an authorization / device authorization request, narrowed to what this
 * provider offers, stored as an oidc-provider Grant. Shared by the consent
 * page and by `autoApprove`.
 */
import type { Provider } from 'oidc-provider';
import { isResource, splitScope, type ResourceConfig } from './tokens.js';

const OIDC_SCOPES = ['openid', 'offline_access'];

export interface ConsentScopes {
  /** Resource scopes this provider can grant, in request order. */
  scopes: string[];
  oidcScopes: string[];
  /** Resource indicators of the request that name this provider. */
  resources: string[];
}

/** From the request's `scope` and `resource` parameters (as oidc-provider stored them). */
export function consentScopes(rs: ResourceConfig, params: Record<string, unknown>): ConsentScopes {
  const requested = splitScope(typeof params.scope === 'string' ? params.scope : undefined);
  const raw = params.resource ?? rs.baseUrl;
  const resources = (Array.isArray(raw) ? raw : [raw]).filter((r): r is string => typeof r === 'string' && isResource(rs, r));
  return {
    scopes: requested.filter((s) => rs.scopes.includes(s)),
    oidcScopes: requested.filter((s) => OIDC_SCOPES.includes(s)),
    resources,
  };
}

export async function saveConsentGrant(provider: Provider, accountId: string, clientId: string, c: ConsentScopes): Promise<string> {
  const grant = new provider.Grant({ accountId, clientId });
  if (c.oidcScopes.length) grant.addOIDCScope(c.oidcScopes.join(' '));
  for (const indicator of c.resources) grant.addResourceScope(indicator, c.scopes.join(' '));
  return grant.save();
}
