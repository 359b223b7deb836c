/**
 * The orchestrator's OIDC issuer as an openid-client Configuration
 * (OpenID Connect Discovery 1.0 / RFC 8414). agentprov is a public native
 * client (no secret). Plain http is allowed only for loopback issuers
 * (the sandbox); anything else must be https.
 */
import * as oidc from 'openid-client';
import { AgentprovError } from '../cli/errors.js';
import { oauthError } from './errors.js';

/** Scopes of the orchestrator session (openid-client sends them space-separated). */
export const SCOPES = 'openid email profile offline_access payments';

/** Seconds for each request to the issuer. */
export const HTTP_TIMEOUT_SECONDS = 15;

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export function parseIssuerUrl(value: string, flag = '--issuer'): URL {
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new AgentprovError('USAGE', `${flag} must be an http(s) URL, not "${value.slice(0, 200)}"`);
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new AgentprovError('USAGE', `${flag} must use https (plain http is allowed for loopback addresses only)`, { details: { url: url.href } });
  }
  if (url.username || url.password) throw new AgentprovError('USAGE', `${flag} must not carry a user name or password`);
  return url;
}

export async function discoverIssuer(issuer: string, clientId: string): Promise<oidc.Configuration> {
  const url = parseIssuerUrl(issuer);
  try {
    return await oidc.discovery(url, clientId, undefined, oidc.None(), {
      timeout: HTTP_TIMEOUT_SECONDS,
      ...(url.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
  } catch (err) {
    throw oauthError(err, 'discovery', issuer);
  }
}
