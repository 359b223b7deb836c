/**
 * oidc-provider configuration of a provider's authorization server: the
 * pre-registered public client `agentprov-cli`, optional open RFC 7591
 * registration (public clients only: `none` is the only client auth method),
 * the device flow (RFC 8628) with our own pages, revocation (RFC 7009),
 * resource indicators (RFC 8707) pinned to the provider's resource, refresh
 * token rotation, and opaque access tokens of 600 s.
 */
import type { Configuration } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { GRANT_DEVICE_CODE, GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE } from '../../../wire/provider-auth.js';
import { createAdapterFactory } from '../../shared/oidc-adapter.js';
import { revocationPolicy } from '../../shared/revocation.js';
import type { AccountStore } from './accounts.js';
import type { AuthKeys } from './keys.js';
import { deviceConfirmPage, deviceInputPage, deviceSuccessPage, errorPage } from './pages.js';
import { ACCESS_TOKEN_TTL_S, isResource, resourceServerInfo, type ResourceConfig } from './tokens.js';

export const CLI_CLIENT_ID = 'agentprov-cli';
const DAY = 24 * 3600;

export interface ConfigInput {
  providerId: string;
  providerName: string;
  mountPath: string;
  adapterFile: string | undefined;
  keys: AuthKeys;
  accounts: AccountStore;
  rs: ResourceConfig;
  termsUrl: string;
  allowDynamicRegistration: boolean;
  /** Fault switch (conformance tests): refresh tokens do not rotate. */
  noRefreshRotation?: () => boolean;
}

const DEVICE_ERRORS: Record<string, string> = {
  NoCodeError: 'Enter the code shown by the application.',
  NotFoundError: 'That code is not valid. Check it and try again.',
  ExpiredError: 'That code has expired. Start again from the application.',
  AlreadyUsedError: 'That code was already used.',
  AbortedError: 'The request was cancelled.',
};

export function providerConfiguration(c: ConfigInput): Configuration {
  return {
    adapter: createAdapterFactory(c.adapterFile),
    clients: [
      {
        client_id: CLI_CLIENT_ID,
        client_name: 'agentprov CLI',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token', GRANT_DEVICE_CODE, GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
      },
    ],
    clientDefaults: {
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: [GRANT_DEVICE_CODE, 'refresh_token'],
      response_types: [],
      id_token_signed_response_alg: 'RS256',
    },
    clientAuthMethods: ['none'],
    clientBasedCORS: () => false,
    cookies: {
      keys: c.keys.cookieKeys,
      // Every sandbox server lives on 127.0.0.1, and cookies ignore ports.
      names: { session: `${c.providerId}_session`, interaction: `${c.providerId}_interaction`, resume: `${c.providerId}_resume` },
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    jwks: c.keys.jwks as Configuration['jwks'],
    claims: { openid: ['sub'], email: ['email'] },
    scopes: ['openid', 'offline_access'],
    discovery: { op_tos_uri: c.termsUrl },
    async findAccount(_ctx, sub) {
      const account = c.accounts.get(sub);
      if (!account) return undefined;
      return { accountId: account.id, claims: () => ({ sub: account.id, email: account.email }) };
    },
    interactions: { url: (_ctx, interaction) => `${c.mountPath}/interaction/${interaction.uid}` },
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => c.noRefreshRotation?.() !== true,
    expiresWithSession: () => false,
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ACCESS_TOKEN_TTL_S,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Grant: 30 * DAY,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 14 * DAY,
      Session: DAY,
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = errorPage(c.providerName, { ...out });
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: false },
      registration: { enabled: c.allowDynamicRegistration, initialAccessToken: false },
      // Revoking an access token revokes only that token (see shared/revocation.ts).
      revocation: { enabled: true, allowedPolicy: revocationPolicy },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => c.rs.baseUrl,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, indicator) {
          if (!isResource(c.rs, indicator)) throw new errors.InvalidTarget('resource must be this provider');
          return resourceServerInfo(c.rs);
        },
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource(ctx, form, _out, err) {
          ctx.body = deviceInputPage(c.providerName, form, err ? (DEVICE_ERRORS[err.name] ?? 'Something went wrong. Try again.') : undefined);
        },
        userCodeConfirmSource(ctx, form, client, _info, userCode) {
          ctx.body = deviceConfirmPage(c.providerName, form, client.clientName ?? client.clientId, userCode);
        },
        successSource(ctx) {
          ctx.body = deviceSuccessPage(c.providerName, ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? 'The application');
        },
      },
    },
  };
}
