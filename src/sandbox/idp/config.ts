/**
 * oidc-provider configuration of the sandbox identity provider: the static
 * public native client `agentprov-cli`, PKCE (S256, required for public
 * clients), device flow, revocation, refresh token rotation, opaque access
 * tokens that carry the real `auth_time`, approvals of spending cap changes
 * (RFC 9396 authorization details on a device authorization, JWT access tokens
 * for the payment rail or agentprov's ledger as RFC 8707 resources; see
 * cap-approval.ts), and the HTML pages from pages.ts.
 */
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { GRANT_DEVICE_CODE, GRANT_TOKEN_EXCHANGE } from '../../wire/provider-auth.js';
import { SPENDING_CAP_TYPE } from '../../wire/cap-approval.js';
import { revocationPolicy } from '../shared/revocation.js';
import { capApprovalResourceServer, describeChange, interactionPolicyWithCapLogin, requestedCapChanges, richAuthorizationRequests } from './cap-approval.js';
import type { IdpKeys } from './keys.js';
import { deviceConfirmPage, deviceInputPage, deviceSuccessPage, errorPage } from './pages.js';
import { findUserBySub } from './users.js';

export const CLI_CLIENT_ID = 'agentprov-cli';
export const SCOPES = ['openid', 'email', 'profile', 'offline_access', 'payments'] as const;

export const TTL = {
  AccessToken: 15 * 60,
  AuthorizationCode: 60,
  DeviceCode: 10 * 60,
  IdToken: 60 * 60,
  Interaction: 60 * 60,
  RefreshToken: 14 * 24 * 60 * 60,
  Session: 14 * 24 * 60 * 60,
  Grant: 14 * 24 * 60 * 60,
} as const;

/** auth_time of the grant source an access token is minted from (code, device code or refresh token). */
function sourceAuthTime(ctx: KoaContextWithOIDC | undefined): number | undefined {
  const e = ctx?.oidc.entities;
  return e?.AuthorizationCode?.authTime ?? e?.DeviceCode?.authTime ?? e?.RefreshToken?.authTime;
}

function deviceInputError(err: unknown): string | undefined {
  if (!err) return undefined;
  const e = err as { name?: string; userCode?: string };
  if (e.userCode !== undefined || e.name === 'NoCodeError') return 'That code is not valid. Check it and try again.';
  if (e.name === 'AbortedError') return 'The sign-in request was cancelled.';
  return 'There was an error processing your request.';
}

export function buildConfiguration(opts: { keys: IdpKeys; adapter: Configuration['adapter']; paymentRail: () => string }): Configuration {
  return {
    adapter: opts.adapter,
    jwks: opts.keys.jwks as Configuration['jwks'],
    cookies: {
      keys: opts.keys.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    clients: [
      {
        client_id: CLI_CLIENT_ID,
        client_name: 'agentprov CLI',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token', GRANT_DEVICE_CODE, GRANT_TOKEN_EXCHANGE],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        require_auth_time: true,
        authorization_details_types: [SPENDING_CAP_TYPE],
      },
    ],
    scopes: [...SCOPES],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // ID tokens carry the granted scope claims (email, name) even in the code
    // flow, so the CLI can show who is signed in without a userinfo call.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    clientBasedCORS: () => false,
    findAccount: (_ctx, sub) => {
      const user = findUserBySub(sub);
      if (!user) return undefined;
      return {
        accountId: user.sub,
        claims: () => ({ sub: user.sub, email: user.email, email_verified: true, name: user.name }),
      };
    },
    extraTokenClaims: (ctx) => {
      const authTime = sourceAuthTime(ctx);
      return authTime === undefined ? undefined : { auth_time: authTime };
    },
    rotateRefreshToken: true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: interactionPolicyWithCapLogin() },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: (ctx, form, _out, err) => {
          ctx.type = 'html';
          ctx.body = deviceInputPage(form, deviceInputError(err));
        },
        userCodeConfirmSource: (ctx, form, client, _deviceInfo, userCode) => {
          ctx.type = 'html';
          ctx.body = deviceConfirmPage(form, client.clientName ?? client.clientId, userCode, requestedCapChanges(ctx.oidc.params?.authorization_details).map(describeChange));
        },
        successSource: (ctx) => {
          ctx.type = 'html';
          const changes = requestedCapChanges(ctx.oidc.params?.authorization_details);
          ctx.body = deviceSuccessPage(ctx.oidc.client?.clientName ?? CLI_CLIENT_ID, changes.length > 0);
        },
      },
      revocation: { enabled: true, allowedPolicy: revocationPolicy },
      resourceIndicators: {
        enabled: true,
        // A grant source with a resource (only cap approvals have one) yields a token for it, though `openid` was asked for too.
        useGrantedResource: () => true,
        getResourceServerInfo: capApprovalResourceServer(opts.paymentRail),
      },
      richAuthorizationRequests,
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: true },
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage({ ...out });
    },
    ttl: {
      // A resource's own lifetime (cap approvals: APPROVAL_TOKEN_TTL_SECONDS) wins over the session default.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? TTL.AccessToken,
      AuthorizationCode: TTL.AuthorizationCode,
      DeviceCode: TTL.DeviceCode,
      IdToken: TTL.IdToken,
      Interaction: TTL.Interaction,
      RefreshToken: TTL.RefreshToken,
      Session: TTL.Session,
      Grant: TTL.Grant,
    },
  };
}
