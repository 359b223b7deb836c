/**
 * Wire schemas of a provider's authorization server (docs/protocol-auth.md):
 * the ID-JAG it accepts (draft-ietf-oauth-identity-assertion-authz-grant),
 * its token endpoint's success and error bodies (RFC 6749 §5.1/§5.2 plus the
 * agentprov members `account_id`, `account_created`, `terms_url`,
 * `terms_version`), and the URNs of the grants it speaks. Shared by the CLI
 * (parsing what a provider answers) and the sandbox provider (what it sends).
 * Every string is bounded; response objects are loose so members may be added.
 */
import * as z from 'zod';

const MAX_URL = 2048;
const MAX_TOKEN = 8192;
const httpUrl = z.url({ protocol: /^https?$/ }).max(MAX_URL);

/** RFC 7523 §2.1 JWT bearer authorization grant. */
export const GRANT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** RFC 8693 §2.1 token exchange. */
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8628 §3.4 device authorization grant. */
export const GRANT_DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8693 §3 token type identifiers. */
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_TYPE_ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag';
/** JOSE `typ` header of an ID-JAG. */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';

/** Token endpoint error codes a client must be ready for (RFC 6749 §5.2 + extensions). */
export const ProviderTokenErrorCode = z.enum([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'terms_acceptance_required',
  'consent_required',
  'interaction_required',
  'authorization_pending',
  'slow_down',
  'access_denied',
  'expired_token',
  'temporarily_unavailable',
  'server_error',
]);
export type ProviderTokenErrorCode = z.infer<typeof ProviderTokenErrorCode>;

/** The claims of an ID-JAG that a provider relies on. */
export const IdJagClaimsSchema = z.looseObject({
  iss: httpUrl,
  sub: z.string().min(1).max(255),
  aud: z.union([z.string().max(MAX_URL), z.array(z.string().max(MAX_URL)).max(10)]),
  client_id: z.string().min(1).max(255),
  jti: z.string().min(8).max(255),
  iat: z.number().int().nonnegative(),
  exp: z.number().int().positive(),
  email: z.email().max(254),
  auth_time: z.number().int().nonnegative().optional(),
  scope: z.string().max(1024).optional(),
  resource: z.union([z.string().max(MAX_URL), z.array(z.string().max(MAX_URL)).max(10)]).optional(),
});
export type IdJagClaims = z.infer<typeof IdJagClaimsSchema>;

/** RFC 6749 §5.1 success, with the members every grant of a provider AS may add. */
export const ProviderTokenResponseSchema = z.looseObject({
  access_token: z.string().min(1).max(MAX_TOKEN),
  token_type: z.string().min(1).max(32),
  expires_in: z.number().int().positive().max(366 * 24 * 3600),
  refresh_token: z.string().min(1).max(MAX_TOKEN).optional(),
  scope: z.string().max(2048).optional(),
  id_token: z.string().max(MAX_TOKEN).optional(),
  /** RFC 8693 §2.2.1, present on token exchange responses. */
  issued_token_type: z.string().max(256).optional(),
  /** The provider's account the tokens act for (jwt-bearer, device_code, refresh, token exchange). */
  account_id: z.string().min(1).max(128).optional(),
  /** jwt-bearer only: true when this request created the account. */
  account_created: z.boolean().optional(),
});
export type ProviderTokenResponse = z.infer<typeof ProviderTokenResponseSchema>;

/** Success of the JWT bearer grant with an ID-JAG: account members are mandatory. */
export const JwtBearerTokenResponseSchema = ProviderTokenResponseSchema.extend({
  refresh_token: z.string().min(1).max(MAX_TOKEN),
  account_id: z.string().min(1).max(128),
  account_created: z.boolean(),
});
export type JwtBearerTokenResponse = z.infer<typeof JwtBearerTokenResponseSchema>;

/** Success of RFC 8693 token exchange at a provider AS. */
export const TokenExchangeResponseSchema = ProviderTokenResponseSchema.extend({
  issued_token_type: z.literal(TOKEN_TYPE_ACCESS_TOKEN),
});
export type TokenExchangeResponse = z.infer<typeof TokenExchangeResponseSchema>;

/** RFC 6749 §5.2 error body. `error` stays a bounded string so new codes do not break parsing. */
export const ProviderTokenErrorSchema = z.looseObject({
  error: z.string().min(1).max(64).regex(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/),
  error_description: z.string().max(1024).optional(),
  error_uri: httpUrl.optional(),
  /** With `terms_acceptance_required`: where the terms are and which version to accept. */
  terms_url: httpUrl.optional(),
  terms_version: z.string().min(1).max(64).optional(),
});
export type ProviderTokenError = z.infer<typeof ProviderTokenErrorSchema>;

/** `terms_acceptance_required` carries what the human must accept. */
export const TermsAcceptanceRequiredSchema = ProviderTokenErrorSchema.extend({
  error: z.literal('terms_acceptance_required'),
  terms_url: httpUrl,
  terms_version: z.string().min(1).max(64),
});
export type TermsAcceptanceRequired = z.infer<typeof TermsAcceptanceRequiredSchema>;

/** RFC 8414 §2 authorization server metadata: the members a client of this protocol reads. */
export const AuthorizationServerMetadataSchema = z.looseObject({
  issuer: httpUrl,
  token_endpoint: httpUrl,
  revocation_endpoint: httpUrl.optional(),
  registration_endpoint: httpUrl.optional(),
  device_authorization_endpoint: httpUrl.optional(),
  jwks_uri: httpUrl.optional(),
  grant_types_supported: z.array(z.string().max(256)).max(50).optional(),
  scopes_supported: z.array(z.string().max(256)).max(200).optional(),
});
export type AuthorizationServerMetadata = z.infer<typeof AuthorizationServerMetadataSchema>;
