/**
 * RFC 8693 token exchange that issues Identity Assertion JWT Authorization
 * Grants (draft-ietf-oauth-identity-assertion-authz-grant): the CLI trades the
 * user's ID token from this IdP for a short-lived, audience-bound ID-JAG that
 * it presents to a provider's authorization server (RFC 7523 JWT bearer).
 *
 * Errors follow RFC 8693 §2.2.2: an unsupported or invalid subject token,
 * unsupported token types and malformed parameters are `invalid_request`; an
 * unacceptable `audience` / `resource` is `invalid_target`.
 *
 * Audience binding (docs/protocol-auth.md §3.5): an ID-JAG is issued only
 * for a provider this orchestrator knows, named by both halves of its
 * identity, the authorization server (`audience`) and the RFC 8707 resource
 * (`resource`, required), and only for a pair that belongs together. A
 * client that asks for one provider's authorization server on behalf of
 * another provider's resource (the authorization-server mix-up) is refused,
 * so a hostile provider can never obtain an assertion for someone else's
 * authorization server through the user's CLI.
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import type Provider from 'oidc-provider';
import { errors, type TokenEndpointGrantContext } from 'oidc-provider';
import * as z from 'zod';
import { GRANT_TOKEN_EXCHANGE, ID_JAG_TYP, TOKEN_TYPE_ID_JAG, TOKEN_TYPE_ID_TOKEN } from '../../wire/provider-auth.js';
import { findUserBySub } from './users.js';

const ID_JAG_TTL_SECONDS = 300;

const PARAMS = ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'scope', 'resource', 'actor_token', 'actor_token_type'];

const absoluteHttpUrl = z
  .string()
  .max(2048)
  .refine((v) => {
    const u = URL.parse(v);
    return !!u && (u.protocol === 'https:' || u.protocol === 'http:') && !u.hash && !u.username && !u.password;
  });

const Params = z.object({
  subject_token: z.string().min(1).max(8192),
  subject_token_type: z.string().min(1).max(256),
  requested_token_type: z.string().min(1).max(256),
  audience: z.string().min(1).max(2048),
  scope: z.string().max(1024).optional(),
  resource: z.string().max(2048),
  actor_token: z.string().optional(),
});

/** A provider the orchestrator issues ID-JAGs for: its authorization server and its resource identifier. */
export interface IdJagTarget {
  audience: string;
  resource: string;
}

const sameUrl = (a: string, b: string): boolean => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

export interface IdJagOptions {
  /** Private ES256 JWK (with kid) that signs ID-JAGs. */
  signingJwk: JWK & { kid: string };
  /** Public JWKS of this IdP: what ID tokens it issued verify against. */
  publicJwks: { keys: JWK[] };
  /** The providers it issues ID-JAGs for, read on every request (providers start after the IdP). */
  targets: () => IdJagTarget[];
}

export async function registerIdJagGrant(provider: Provider, opts: IdJagOptions): Promise<void> {
  const signingKey = await importJWK(opts.signingJwk, 'ES256');
  const jwks = createLocalJWKSet(opts.publicJwks as Parameters<typeof createLocalJWKSet>[0]);

  const handler = async (ctx: TokenEndpointGrantContext): Promise<void> => {
    const parsed = Params.safeParse(ctx.oidc.params);
    if (!parsed.success) {
      const field = String(parsed.error.issues[0]?.path[0] ?? 'request');
      throw new errors.InvalidRequest(`missing or invalid parameter: ${field}`);
    }
    const p = parsed.data;
    if (p.actor_token !== undefined) throw new errors.InvalidRequest('actor_token is not supported');
    if (p.subject_token_type !== TOKEN_TYPE_ID_TOKEN) throw new errors.InvalidRequest(`unsupported subject_token_type; use ${TOKEN_TYPE_ID_TOKEN}`);
    if (p.requested_token_type !== TOKEN_TYPE_ID_JAG) throw new errors.InvalidRequest(`unsupported requested_token_type; use ${TOKEN_TYPE_ID_JAG}`);
    if (!absoluteHttpUrl.safeParse(p.audience).success) throw new errors.InvalidTarget('audience must be an absolute http(s) URL');
    if (!absoluteHttpUrl.safeParse(p.resource).success) throw new errors.InvalidTarget('resource must be an absolute http(s) URL');
    const known = opts.targets().find((t) => sameUrl(t.audience, p.audience));
    if (!known) throw new errors.InvalidTarget('audience is not the authorization server of a provider this orchestrator knows');
    if (!sameUrl(known.resource, p.resource)) throw new errors.InvalidTarget('resource is not the one served by the audience authorization server');

    const clientId = ctx.oidc.client.clientId;
    const idToken = await jwtVerify(p.subject_token, jwks, {
      issuer: provider.issuer,
      audience: clientId,
      algorithms: ['RS256', 'ES256'],
      requiredClaims: ['sub', 'exp', 'iat'],
    }).catch(() => {
      throw new errors.InvalidRequest('subject_token is not a valid, unexpired ID token issued by this IdP to this client');
    });
    if (idToken.protectedHeader.typ !== undefined && idToken.protectedHeader.typ.toUpperCase() !== 'JWT') {
      throw new errors.InvalidRequest('subject_token is not an ID token');
    }
    const user = findUserBySub(String(idToken.payload.sub));
    if (!user) throw new errors.InvalidRequest('subject_token refers to an unknown account');
    const authTime = idToken.payload.auth_time;
    if (typeof authTime !== 'number') throw new errors.InvalidRequest('subject_token carries no auth_time');

    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({
      client_id: clientId,
      email: user.email,
      auth_time: authTime,
      ...(p.scope ? { scope: p.scope } : {}),
      resource: p.resource,
    })
      .setProtectedHeader({ alg: 'ES256', kid: opts.signingJwk.kid, typ: ID_JAG_TYP })
      .setIssuer(provider.issuer)
      .setSubject(user.sub)
      .setAudience(p.audience)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + ID_JAG_TTL_SECONDS)
      .sign(signingKey);

    ctx.body = {
      access_token: assertion,
      issued_token_type: TOKEN_TYPE_ID_JAG,
      token_type: 'N_A',
      expires_in: ID_JAG_TTL_SECONDS,
    };
  };

  provider.registerGrantType(GRANT_TOKEN_EXCHANGE, handler, PARAMS);
}
