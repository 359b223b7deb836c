/**
 * Koa middleware mounted in front of oidc-provider's router. It adjusts
 * responses after oidc-provider has produced them:
 *
 * - token endpoint success: add `account_id` (device_code, refresh_token)
 *   so every grant tells the client which provider account it acts for;
 * - token endpoint `terms_acceptance_required`: add `terms_url` and
 *   `terms_version` (RFC 6749 §5.2 allows extra members);
 * - RFC 8414 metadata: list the resource scopes in `scopes_supported`;
 * - device authorization success with `autoApprove`: approve it for the
 *   demo user at once (README demo).
 */
import type { KoaContextWithOIDC } from 'oidc-provider';
import { TERMS_ACCEPTANCE_REQUIRED } from './jwt-bearer.js';

export interface DecoratorDeps {
  terms: { url: string; version: string };
  resourceScopes: readonly string[];
  autoApprove?: (deviceCode: string) => Promise<void>;
}

type Body = Record<string, unknown>;
const isBody = (b: unknown): b is Body => typeof b === 'object' && b !== null && !Buffer.isBuffer(b) && !Array.isArray(b);

export function responseDecorator(deps: DecoratorDeps) {
  return async function decorate(ctx: KoaContextWithOIDC, next: () => Promise<unknown>): Promise<void> {
    await next();
    const route = (ctx as { oidc?: { route?: string } }).oidc?.route;
    const body: unknown = ctx.body;
    if (!route || !isBody(body)) return;

    if (route === 'token' && ctx.status === 200 && typeof body.access_token === 'string' && body.account_id === undefined) {
      const accountId = ctx.oidc.entities.Account?.accountId ?? ctx.oidc.entities.AccessToken?.accountId;
      if (accountId) body.account_id = accountId;
    } else if (route === 'token' && body.error === TERMS_ACCEPTANCE_REQUIRED) {
      body.terms_url = deps.terms.url;
      body.terms_version = deps.terms.version;
    } else if (route === 'discovery' && Array.isArray(body.scopes_supported)) {
      body.scopes_supported = [...new Set([...body.scopes_supported, ...deps.resourceScopes])];
    } else if (route === 'device_authorization' && ctx.status === 200 && typeof body.device_code === 'string' && deps.autoApprove) {
      await deps.autoApprove(body.device_code);
    }
  };
}
