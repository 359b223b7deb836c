/**
 * RFC 8693 token exchange for short-lived, down-scoped access tokens: the
 * subject is a valid access token this AS issued to the same client; the
 * result is a new access token (own `jti`) for the same account and grant,
 * with `scope` ⊆ the subject's scopes and the lifetime asked for in the
 * `requested_expires_in` extension parameter (30..3600 s, default 600).
 * Revoking the grant's refresh token revokes these tokens too.
 */
import type { AccessToken, Provider, TokenEndpointGrantContext } from 'oidc-provider';
import * as z from 'zod';
import { GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN } from '../../../wire/provider-auth.js';
import { parseParams, TokenError } from './params.js';
import { ACCESS_TOKEN_TTL_S, isResource, mintAccessToken, splitScope, type ResourceConfig } from './tokens.js';

export const MIN_EXCHANGED_TTL_S = 30;
export const MAX_EXCHANGED_TTL_S = 3600;

const Params = z.object({
  subject_token: z.string().min(1).max(512),
  subject_token_type: z.literal(TOKEN_TYPE_ACCESS_TOKEN),
  requested_token_type: z.literal(TOKEN_TYPE_ACCESS_TOKEN).optional(),
  scope: z.string().max(1024).optional(),
  resource: z.string().max(2048).optional(),
  audience: z.string().max(2048).optional(),
  requested_expires_in: z
    .string()
    .regex(/^\d{1,5}$/, 'must be an integer number of seconds')
    .transform(Number)
    .pipe(z.number().int().min(MIN_EXCHANGED_TTL_S).max(MAX_EXCHANGED_TTL_S))
    .optional(),
});

const PARAM_NAMES = [
  'subject_token',
  'subject_token_type',
  'requested_token_type',
  'scope',
  'resource',
  'audience',
  'requested_expires_in',
];

export function registerTokenExchangeGrant(provider: Provider, rs: ResourceConfig): void {
  provider.registerGrantType(GRANT_TOKEN_EXCHANGE, (ctx) => handle(rs, ctx), PARAM_NAMES);
}

async function handle(rs: ResourceConfig, ctx: TokenEndpointGrantContext): Promise<void> {
  const params = parseParams(Params, { ...ctx.oidc.params });
  const { client } = ctx.oidc;
  const { provider } = ctx.oidc;
  for (const target of [params.resource, params.audience]) {
    if (target !== undefined && !isResource(rs, target)) throw new TokenError('invalid_target', 'resource must be this provider');
  }

  const subject = (await provider.AccessToken.find(params.subject_token)) as AccessToken | undefined;
  if (!subject || subject.isExpired) throw new TokenError('invalid_grant', 'subject_token is not an active access token');
  if (subject.clientId !== client.clientId) throw new TokenError('invalid_grant', 'subject_token was issued to another client');
  const aud = Array.isArray(subject.aud) ? subject.aud : [subject.aud];
  if (!aud.includes(rs.baseUrl)) throw new TokenError('invalid_grant', 'subject_token is not for this resource');
  const grant = await provider.Grant.find(subject.grantId);
  if (!grant || grant.accountId !== subject.accountId) throw new TokenError('invalid_grant', 'subject_token grant was revoked');

  const held = subject.scopes;
  const scopes = params.scope === undefined ? [...held] : splitScope(params.scope);
  const extra = scopes.filter((s) => !held.has(s));
  if (extra.length) throw new TokenError('invalid_scope', `scope exceeds the subject token's scopes: ${extra.join(' ')}`);
  if (scopes.length === 0) throw new TokenError('invalid_scope', 'scope must not be empty');

  const at = await mintAccessToken(provider, rs, {
    client,
    accountId: subject.accountId,
    grantId: subject.grantId,
    scopes,
    gty: 'token_exchange',
    expiresIn: params.requested_expires_in ?? ACCESS_TOKEN_TTL_S,
  });
  ctx.body = {
    access_token: at.value,
    issued_token_type: TOKEN_TYPE_ACCESS_TOKEN,
    token_type: 'Bearer',
    expires_in: at.expiresIn,
    scope: at.scope,
    account_id: subject.accountId,
  };
}
