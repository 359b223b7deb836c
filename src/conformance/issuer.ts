/**
 * The checker's own orchestrator, so it needs no real one: a throwaway ES256
 * key made for this run, its JWKS served on loopback at `<issuer>/jwks`, and
 * ID-JAGs (draft-ietf-oauth-identity-assertion-authz-grant) signed with it,
 * good ones and deliberately bad ones (expired, another audience, signed by
 * another key under the same `kid`, `alg: none`). For APP it also serves a
 * Client ID Metadata Document at `<issuer>/cimd.json` (public client, PKCE).
 *
 * A provider under test trusts this issuer as it would any orchestrator:
 * `agentprov sandbox --trust-issuer http://127.0.0.1:<port>` for localcloud;
 * a provider team adds the same URL to its trusted orchestrators
 * (docs/protocol.md §12). The port is fixed (`--issuer-port`) so the
 * issuer URL can be configured before the run.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';
import { AgentprovError } from '../core/errors.js';
import { ID_JAG_TYP } from '../wire/provider-auth.js';

/** Not one of the Fetch standard's "bad ports" (which a provider's fetch() refuses to connect to, 4190 among them). */
export const DEFAULT_ISSUER_PORT = 4480;

export interface AssertionClaims {
  aud: string;
  client_id: string;
  resource: string;
  sub: string;
  email: string;
}

export type AssertionFlaw = 'expired' | 'wrong_audience' | 'wrong_key' | 'alg_none';

export interface CheckerIssuer {
  /** `http://127.0.0.1:<port>`: the `iss` of every assertion. */
  issuer: string;
  jwksUri: string;
  /** The CIMD URL (the APP client id) and its one redirect URI. */
  cimdUrl: string;
  redirectUri: string;
  /** A fresh assertion (new `jti`), well-formed unless a flaw is asked for. */
  assertion(claims: AssertionClaims, flaw?: AssertionFlaw): Promise<string>;
  stop(): Promise<void>;
}

const LIFETIME_S = 300;

export async function startCheckerIssuer(port: number): Promise<CheckerIssuer> {
  const kid = `agentprov-check-${randomBytes(6).toString('hex')}`;
  const good = await generateKeyPair('ES256', { extractable: true });
  const other = await generateKeyPair('ES256');
  const publicJwk: JWK = { ...(await exportJWK(good.publicKey)), kid, alg: 'ES256', use: 'sig' };
  const server = createServer();
  let origin = '';
  server.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', 'http://checker').pathname;
    const json = (body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/jwks') {
      json({ keys: [publicJwk] });
    } else if (path === '/cimd.json') {
      json({
        client_id: `${origin}/cimd.json`,
        client_name: 'agentprov providers check',
        redirect_uris: [`${origin}/callback`],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      });
    } else if (path === '/callback') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('agentprov providers check: nothing to do here');
    } else {
      res.writeHead(404).end();
    }
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await listen(server, port);
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const sign = async (c: AssertionClaims, key: CryptoKey, expired: boolean): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const iat = expired ? now - 2 * LIFETIME_S : now;
    return new SignJWT({ client_id: c.client_id, email: c.email, resource: c.resource })
      .setProtectedHeader({ alg: 'ES256', typ: ID_JAG_TYP, kid })
      .setIssuer(origin)
      .setSubject(c.sub)
      .setAudience(c.aud)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(iat + LIFETIME_S)
      .sign(key);
  };

  return {
    issuer: origin,
    jwksUri: `${origin}/jwks`,
    cimdUrl: `${origin}/cimd.json`,
    redirectUri: `${origin}/callback`,
    async assertion(claims, flaw) {
      if (flaw === 'alg_none') return unsecured(origin, claims);
      if (flaw === 'wrong_key') return sign(claims, other.privateKey, false);
      const aud = flaw === 'wrong_audience' ? `${claims.aud}/elsewhere` : claims.aud;
      return sign({ ...claims, aud }, good.privateKey, flaw === 'expired');
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An unsigned JWS (`alg: none`, RFC 7515 §A.5) with the ID-JAG's `typ`: jose refuses to make one with a header, rightly. */
function unsecured(iss: string, c: AssertionClaims): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (v: unknown): string => base64url.encode(JSON.stringify(v));
  const payload = { iss, sub: c.sub, aud: c.aud, client_id: c.client_id, email: c.email, resource: c.resource, jti: randomUUID(), iat: now, exp: now + LIFETIME_S };
  return `${part({ alg: 'none', typ: ID_JAG_TYP })}.${part(payload)}.`;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new AgentprovError('USAGE', `the checker's issuer cannot listen on 127.0.0.1:${port} (${err.code ?? err.message}): choose another --issuer-port`, {
          details: { port },
        }),
      ),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
}
