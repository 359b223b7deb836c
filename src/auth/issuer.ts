/**
 * The orchestrator's OIDC issuer as an openid-client Configuration
 * (OpenID Connect Discovery 1.0 / RFC 8414). agentprov is a public native
 * client (no secret). Plain http is allowed only for loopback issuers
 * (the sandbox); anything else must be https.
 */
import * as oidc from 'openid-client';
import { AgentprovError } from '../core/errors.js';
import { MAX_JSON_DEPTH, tooDeepAt } from '../util/json-depth.js';
import { isLoopbackHost } from '../util/loopback.js';
import { sanitizeLine } from '../util/sanitize.js';
import { oauthError } from './errors.js';
import { webFetch } from '../http/web-fetch.js';

/** Scopes of the orchestrator session (openid-client sends them space-separated). */
export const SCOPES = 'openid email profile offline_access payments';

/** Seconds for each request to the issuer. */
export const HTTP_TIMEOUT_SECONDS = 15;

/** Bytes of any one response from the issuer (metadata, device authorization, tokens). */
const MAX_RESPONSE_BYTES = 256 * 1024;

/**
 * fetch that cuts a response body off past MAX_RESPONSE_BYTES while it streams
 * in: openid-client bounds each request's time (`timeout`) but not its size.
 * A JSON body that nests deeper than MAX_JSON_DEPTH fails at its end, before
 * openid-client or anything after it (zod, JSON.stringify) recurses into it.
 * Either surfaces as openid-client's "failed to parse" error, whose cause says why.
 */
export const boundedFetch: oidc.CustomFetch = async (url, options) => {
  const res = await webFetch(url, options);
  if (!res.body) return res;
  let size = 0;
  const chunks: Uint8Array[] = [];
  const body = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > MAX_RESPONSE_BYTES) controller.error(new Error(`the response is larger than ${MAX_RESPONSE_BYTES} bytes`));
        else {
          chunks.push(chunk);
          controller.enqueue(chunk);
        }
      },
      flush(controller) {
        let value: unknown;
        try {
          value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return; // not JSON: openid-client says so
        }
        const deep = tooDeepAt(value);
        if (deep !== undefined) controller.error(new Error(`the response nests deeper than ${MAX_JSON_DEPTH} levels (at "${sanitizeLine(deep).slice(0, 80)}")`));
      },
    }),
  );
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
};

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
      // Set here, it also serves every later request made with the returned Configuration.
      [oidc.customFetch]: boundedFetch,
      ...(url.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
  } catch (err) {
    throw oauthError(err, 'discovery', issuer);
  }
}
