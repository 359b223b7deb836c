/**
 * Cloudflare's OAuth authorization server, for a self-managed public client
 * (authorization code + PKCE S256, token_endpoint_auth_method `none`). Every
 * endpoint URL comes from here, from ONE base URL (default
 * https://dash.cloudflare.com, AGENTPROV_CLOUDFLARE_OAUTH_URL for a local
 * double) and the paths Cloudflare documents
 * (developers.cloudflare.com/fundamentals/oauth/integrate-with-cloudflare/):
 *
 *   authorization  /oauth2/auth
 *   token          /oauth2/token    (authorization_code, refresh_token)
 *   revocation     /oauth2/revoke   (RFC 7009)
 *
 * openid-client does the protocol (PKCE, state, the token and revocation
 * requests); the authorization request itself goes through the sign-in's
 * loopback flow (src/auth/browser-flow.ts). Every token response is parsed
 * with zod and bounded before anything keeps it.
 */
import * as oidc from 'openid-client';
import * as z from 'zod';
import { boundedFetch, HTTP_TIMEOUT_SECONDS } from '../../auth/issuer.js';
import { AgentprovError } from '../../core/errors.js';
import { isLoopbackHost } from '../../util/loopback.js';
import { sanitizeLine } from '../../util/sanitize.js';
import { CLOUDFLARE_PROVIDER_ID as PROVIDER } from '../../catalog/builtin/cloudflare.js';

export const DEFAULT_OAUTH_URL = 'https://dash.cloudflare.com';
/** Overrides the authorization server's base URL (tests, a local double). */
export const OAUTH_URL_ENV = 'AGENTPROV_CLOUDFLARE_OAUTH_URL';
/** A Cloudflare OAuth client id the user registered (below --client-id, above the orchestrator's). */
export const CLIENT_ID_ENV = 'AGENTPROV_CLOUDFLARE_CLIENT_ID';
export const OAUTH_PATHS = { authorization: '/oauth2/auth', token: '/oauth2/token', revocation: '/oauth2/revoke' } as const;
/** The redirect URI a client registers; the port varies per run (RFC 8252 §7.3). */
export const REGISTERED_REDIRECT = 'http://127.0.0.1/callback';

const Secret = z.string().regex(/^[\x21-\x7e]{16,4096}$/);
export const CloudflareTokenResponse = z.looseObject({
  access_token: Secret,
  token_type: z.string().max(32).refine((t) => t.toLowerCase() === 'bearer', 'not a bearer token'),
  expires_in: z.number().int().min(1).max(30 * 86400),
  refresh_token: Secret.optional(),
  scope: z.string().max(8192).optional(),
});
export type CloudflareTokenResponse = z.infer<typeof CloudflareTokenResponse>;

/** The base URL rule: https, or http on loopback only; no userinfo, query or fragment; no trailing slash. */
export function checkOAuthUrl(raw: string): string {
  const url = URL.parse(raw.trim());
  const bad = (why: string) =>
    new AgentprovError('USAGE', `the Cloudflare OAuth URL ${why}`, { nextSteps: [`unset ${OAUTH_URL_ENV} to use ${DEFAULT_OAUTH_URL}`] });
  if (!url) throw bad('is not a URL');
  if (url.username || url.password || url.search || url.hash) throw bad('must not carry a user name, password, query or fragment');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) throw bad('must be https (plain http only on loopback)');
  return url.href.replace(/\/+$/, '');
}

export function oauthEndpoints(base: string): { authorization: string; token: string; revocation: string } {
  return { authorization: `${base}${OAUTH_PATHS.authorization}`, token: `${base}${OAUTH_PATHS.token}`, revocation: `${base}${OAUTH_PATHS.revocation}` };
}

/** An openid-client Configuration for the public client `clientId` at `base` (no discovery: the endpoints are documented). */
export function oauthConfig(base: string, clientId: string): oidc.Configuration {
  const e = oauthEndpoints(base);
  const config = new oidc.Configuration(
    { issuer: base, authorization_endpoint: e.authorization, token_endpoint: e.token, revocation_endpoint: e.revocation, code_challenge_methods_supported: ['S256'] },
    clientId,
    undefined,
    oidc.None(),
  );
  config.timeout = HTTP_TIMEOUT_SECONDS;
  config[oidc.customFetch] = boundedFetch;
  if (base.startsWith('http:')) oidc.allowInsecureRequests(config);
  return config;
}

/** The consent URL as a browser would be sent to it (a fresh verifier and state each time). */
export async function consentUrl(config: oidc.Configuration, redirectUri: string, scope: string): Promise<string> {
  return oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: oidc.randomState(),
  }).href;
}

/** A token response, checked: the access token (and refresh token when there is one) bounded and printable. */
export function parseTokens(raw: unknown, step: string): CloudflareTokenResponse {
  const parsed = CloudflareTokenResponse.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `Cloudflare's ${step} answer cannot be used: field "${sanitizeLine(issue?.path.join('.') ?? '').slice(0, 60)}": ${sanitizeLine(issue?.message ?? 'invalid').slice(0, 120)}`, {
      details: { provider: PROVIDER, step },
    });
  }
  return parsed.data;
}

/** The OAuth error code of a failed token or revocation request, when Cloudflare sent one. */
export function oauthErrorCode(err: unknown): string | undefined {
  const code = err instanceof oidc.ResponseBodyError || err instanceof oidc.AuthorizationResponseError ? err.error : undefined;
  return code === undefined ? undefined : sanitizeLine(code).slice(0, 64);
}

/** Any failure of a request to Cloudflare's authorization server, without the request or response attached. */
export function oauthFailure(err: unknown, step: 'authorization' | 'token' | 'refresh' | 'revocation'): AgentprovError {
  if (err instanceof AgentprovError) {
    if (err.code === 'AUTHORIZATION_DENIED') {
      return new AgentprovError('AUTHORIZATION_DENIED', 'the Cloudflare consent was denied; nothing was linked', { details: { provider: PROVIDER, step }, nextSteps: [`agentprov providers link ${PROVIDER}`] });
    }
    if (err.code !== 'ISSUER_UNREACHABLE' && err.code !== 'ISSUER_ERROR' && err.code !== 'INTERNAL') return err;
  }
  const code = oauthErrorCode(err);
  if (code) {
    return new AgentprovError('PROVIDER_ERROR', `Cloudflare refused the OAuth ${step} request: ${code}`, { details: { provider: PROVIDER, step, error: code } });
  }
  return new AgentprovError('PROVIDER_UNREACHABLE', `Cloudflare's authorization server did not answer the OAuth ${step} request`, {
    details: { provider: PROVIDER, step, retryable: true },
    nextSteps: ['check the network, then run the same command again'],
  });
}
