/**
 * Authorization code grant with PKCE (RFC 7636, S256) for a native app
 * (RFC 8252): a one-shot loopback redirect on 127.0.0.1 and a random port,
 * `state` and `nonce` generated and checked by openid-client, a timeout.
 */
import * as oidc from 'openid-client';
import { oauthError } from './errors.js';
import { SCOPES } from './issuer.js';
import { startCallbackListener } from './loopback.js';

export interface BrowserFlowOptions {
  timeoutMs: number;
  /** Shows the URL to the human and/or opens their browser. */
  present(url: string): Promise<void>;
  /** Scopes to ask for (default: the orchestrator session's, SCOPES). */
  scope?: string;
  /**
   * False for a plain OAuth 2.0 server (a provider's, e.g. Cloudflare): no
   * nonce, no `prompt=consent`, no ID token expected. Default true (OIDC sign-in).
   */
  oidc?: boolean;
}

export async function authorizationCodeFlow(
  config: oidc.Configuration,
  opts: BrowserFlowOptions,
): Promise<oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers> {
  const issuer = config.serverMetadata().issuer;
  const listener = await startCallbackListener(opts.timeoutMs);
  try {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const openid = opts.oidc !== false;
    const nonce = openid ? oidc.randomNonce() : undefined;
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: listener.redirectUri,
      scope: opts.scope ?? SCOPES,
      // Refresh tokens (offline_access) need consent (OIDC Core §11).
      ...(openid ? { prompt: 'consent', nonce: nonce! } : {}),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    await opts.present(url.href);
    const callback = await listener.received;
    try {
      return await oidc.authorizationCodeGrant(
        config,
        callback,
        { pkceCodeVerifier: verifier, expectedState: state, ...(openid ? { expectedNonce: nonce!, idTokenExpected: true } : {}) },
        { redirect_uri: listener.redirectUri },
      );
    } catch (err) {
      throw oauthError(err, 'authorization', issuer);
    }
  } finally {
    listener.close();
  }
}
