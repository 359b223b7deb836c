/**
 * RFC 7523 §2.1 JWT bearer grant with an ID-JAG as the assertion
 * (draft-ietf-oauth-identity-assertion-authz-grant §4.3): verify the
 * assertion (its `resource` must be this provider's: RFC 8707), then find
 * the account for (iss, sub) or create it when the
 * human accepted the current terms (`terms_version`), and issue an access
 * token for this resource plus a refresh token. The response adds
 * `account_id` and `account_created`.
 */
import type { Provider, TokenEndpointGrantContext } from 'oidc-provider';
import * as z from 'zod';
import { GRANT_JWT_BEARER } from '../../../wire/provider-auth.js';
import type { AccountStore } from './accounts.js';
import type { IdJagVerifier } from './id-jag.js';
import { parseParams, TokenError } from './params.js';
import { isResource, mintAccessToken, mintRefreshToken, saveGrant, splitScope, type ResourceConfig } from './tokens.js';

export interface JwtBearerDeps {
  verifier: IdJagVerifier;
  accounts: AccountStore;
  rs: ResourceConfig;
  termsVersion: string;
  /** Fault switch (conformance tests): a replayed `jti` is accepted. */
  acceptReplayed?: () => boolean;
}

const Params = z.object({
  assertion: z.string().min(1).max(8192),
  scope: z.string().max(1024).optional(),
  terms_version: z.string().min(1).max(64).optional(),
  resource: z.string().max(2048).optional(),
});

/** Error code carrying `terms_url` / `terms_version` (added by middleware.ts). */
export const TERMS_ACCEPTANCE_REQUIRED = 'terms_acceptance_required';

export function registerJwtBearerGrant(provider: Provider, deps: JwtBearerDeps): void {
  provider.registerGrantType(GRANT_JWT_BEARER, (ctx) => handle(deps, ctx), ['assertion', 'scope', 'terms_version', 'resource']);
}

async function handle(deps: JwtBearerDeps, ctx: TokenEndpointGrantContext): Promise<void> {
  const params = parseParams(Params, { ...ctx.oidc.params });
  const { client, provider } = ctx.oidc;
  if (params.resource !== undefined && !isResource(deps.rs, params.resource)) {
    throw new TokenError('invalid_target', 'resource must be this provider');
  }

  const verified = await deps.verifier.verify(params.assertion, client.clientId);
  if (!verified.ok) throw new TokenError(verified.error, verified.description);
  const jag = verified.claims;
  // Audience binding (docs/protocol-auth.md §3.5): the assertion must name this provider's resource, and only it.
  const jagResources = jag.resource === undefined ? [] : Array.isArray(jag.resource) ? jag.resource : [jag.resource];
  if (jagResources.length === 0) throw new TokenError('invalid_target', 'assertion names no resource; this server accepts only assertions bound to its own');
  if (jagResources.some((r) => !isResource(deps.rs, r))) throw new TokenError('invalid_target', 'assertion resource is not this provider');

  const scopes = effectiveScopes(deps.rs.scopes, params.scope, jag.scope);
  if (scopes.length === 0) throw new TokenError('invalid_scope', 'none of the requested scopes can be granted');

  const outcome = await deps.accounts.redeemAssertion({
    iss: jag.iss,
    sub: jag.sub,
    email: jag.email,
    jti: jag.jti,
    exp: jag.exp,
    clientId: client.clientId,
    acceptedTerms: params.terms_version,
    currentTerms: deps.termsVersion,
    ...(deps.acceptReplayed?.() ? { acceptReplayed: true } : {}),
  });
  switch (outcome.kind) {
    case 'replayed':
      throw new TokenError('invalid_grant', 'assertion already used');
    case 'terms_required':
      throw new TokenError(TERMS_ACCEPTANCE_REQUIRED, 'no account yet: the user must accept the terms of service');
    case 'consent_required':
      throw new TokenError('consent_required', 'the account holder must grant consent interactively (device authorization grant)');
    case 'ok':
      break;
  }

  const { account, created } = outcome;
  const grantId = await saveGrant(provider, deps.rs, account.id, client.clientId, scopes);
  const mint = { client, accountId: account.id, grantId, scopes, gty: 'jwt_bearer' };
  const at = await mintAccessToken(provider, deps.rs, mint);
  const refreshToken = await mintRefreshToken(provider, deps.rs, {
    ...mint,
    ...(jag.auth_time !== undefined ? { authTime: jag.auth_time } : {}),
  });
  ctx.body = {
    access_token: at.value,
    token_type: 'Bearer',
    expires_in: at.expiresIn,
    refresh_token: refreshToken,
    scope: at.scope,
    account_id: account.id,
    account_created: created,
  };
}

/**
 * requested ∩ allowed (default: all allowed), narrowed further to the
 * assertion's `scope` claim when the orchestrator put one in.
 */
function effectiveScopes(allowed: readonly string[], requested: string | undefined, asserted: string | undefined): string[] {
  const wanted = requested === undefined ? [...allowed] : splitScope(requested).filter((s) => allowed.includes(s));
  if (asserted === undefined) return wanted;
  const bound = new Set(splitScope(asserted));
  return wanted.filter((s) => bound.has(s));
}
