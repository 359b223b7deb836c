/**
 * Bearer token checks for the provider's resource server (RFC 6750 §2.1, §3)
 * with the RFC 9728 §5.1 `resource_metadata` parameter in every challenge, so
 * a client holding no token learns where the authorization server is.
 */
import type { IncomingMessage } from 'node:http';
import { parseBearer } from '../shared/http.js';
import { ApiError } from './http.js';
import type { AccessTokenInfo, AuthPort } from './types.js';

/** Longest access token looked at. */
const MAX_TOKEN = 4096;

export interface Bearer {
  info: AccessTokenInfo;
}

export function metadataUrl(baseUrl: string): string {
  return `${baseUrl}/.well-known/oauth-protected-resource`;
}

export async function authenticate(req: IncomingMessage, auth: AuthPort, baseUrl: string): Promise<Bearer> {
  const header = req.headers.authorization;
  const challenge = (extra: string): Record<string, string> => ({
    'WWW-Authenticate': `Bearer resource_metadata="${metadataUrl(baseUrl)}"${extra}`,
  });
  if (header === undefined) {
    throw new ApiError(401, 'UNAUTHORIZED', 'an access token is required', { headers: challenge('') });
  }
  const token = parseBearer(header);
  const invalid = challenge(', error="invalid_token"');
  if (!token || token.length > MAX_TOKEN) {
    throw new ApiError(401, 'UNAUTHORIZED', 'the Authorization header is not a Bearer token', { field: 'Authorization', headers: invalid });
  }
  try {
    const info = await auth.verifyAccessToken(token);
    return { info };
  } catch {
    throw new ApiError(401, 'UNAUTHORIZED', 'the access token is invalid, expired or revoked', { headers: invalid });
  }
}

/** RFC 6750 §3.1 insufficient_scope → 403. */
export function requireScope(bearer: Bearer, scope: string, baseUrl: string): void {
  if (bearer.info.scopes.includes(scope)) return;
  throw new ApiError(403, 'INSUFFICIENT_SCOPE', `the access token lacks the "${scope}" scope`, {
    details: { required_scope: scope },
    headers: {
      'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${metadataUrl(baseUrl)}"`,
    },
  });
}
