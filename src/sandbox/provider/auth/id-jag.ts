/**
 * Verification of an Identity Assertion JWT Authorization Grant (ID-JAG,
 * draft-ietf-oauth-identity-assertion-authz-grant §4.3 / RFC 7523 §3):
 * `typ` header, signature against the trusted issuer's JWKS, `iss` trusted,
 * `aud` = this authorization server's issuer, `exp`/`iat` within bounds,
 * `client_id` = the client presenting it. Single use (`jti`) is enforced by
 * the account store, atomically with account creation.
 *
 * Classification: an issuer this provider does not trust (nothing it trusts
 * signed the assertion) is `interaction_required`, so the client falls back
 * to the device flow; an assertion that a trusted issuer's key signed but
 * that claims another `iss`, or any other failed check, is `invalid_grant`.
 */
import { compactVerify, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { ID_JAG_TYP, IdJagClaimsSchema, type IdJagClaims } from '../../../wire/provider-auth.js';

export interface TrustedIssuer {
  issuer: string;
  jwksUri: string;
}

export type IdJagResult =
  | { ok: true; claims: IdJagClaims }
  | { ok: false; error: 'invalid_grant' | 'interaction_required' | 'temporarily_unavailable'; description: string };

const ALGORITHMS = ['ES256', 'RS256', 'PS256', 'EdDSA'];
/** Allowed clock skew between the orchestrator and this server, seconds. */
export const CLOCK_SKEW_S = 30;
/** An ID-JAG is short-lived (the sandbox IdP issues 300 s); refuse longer ones. */
export const MAX_ASSERTION_LIFETIME_S = 600;
/**
 * An assertion with an unknown `kid` refetches the issuer's JWKS at most this
 * often (jose's default is 30 s). The sandbox refetches every time, so an
 * orchestrator that rotates its key, such as the conformance checker with a
 * key made per run, is believed at once, however fast runs follow each other.
 * (A deployed provider would keep a cooldown: the README says what that means
 * for repeated checks.)
 */
const JWKS_COOLDOWN_MS = 0;

export class IdJagVerifier {
  readonly #trusted: Map<string, ReturnType<typeof createRemoteJWKSet>>;
  readonly #audience: string;

  constructor(trusted: TrustedIssuer[], audience: string) {
    this.#trusted = new Map(trusted.map((t) => [t.issuer, createRemoteJWKSet(new URL(t.jwksUri), { timeoutDuration: 5000, cooldownDuration: JWKS_COOLDOWN_MS })]));
    this.#audience = audience;
  }

  async verify(assertion: string, clientId: string): Promise<IdJagResult> {
    let iss: unknown;
    try {
      decodeProtectedHeader(assertion);
      iss = decodeJwt(assertion).iss;
    } catch {
      return fail('invalid_grant', 'assertion is not a JWT');
    }
    const jwks = typeof iss === 'string' ? this.#trusted.get(iss) : undefined;
    if (!jwks) return this.#untrusted(assertion);

    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(assertion, jwks, {
        issuer: iss as string,
        audience: this.#audience,
        typ: ID_JAG_TYP,
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_SKEW_S,
        requiredClaims: ['sub', 'jti', 'iat', 'exp', 'client_id'],
      }));
    } catch (err) {
      return classify(err);
    }
    const parsed = IdJagClaimsSchema.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail('invalid_grant', `assertion claim ${issue?.path.join('.') || '?'} is invalid`);
    }
    const claims = parsed.data;
    const now = Math.floor(Date.now() / 1000);
    if (claims.iat > now + CLOCK_SKEW_S) return fail('invalid_grant', 'assertion iat is in the future');
    if (claims.exp - claims.iat > MAX_ASSERTION_LIFETIME_S) return fail('invalid_grant', 'assertion lifetime too long');
    if (claims.client_id !== clientId) return fail('invalid_grant', 'assertion client_id does not match the client');
    return { ok: true, claims };
  }

  /** Not a trusted `iss`: invalid_grant if a trusted key signed it anyway, else interaction_required. */
  async #untrusted(assertion: string): Promise<IdJagResult> {
    for (const jwks of this.#trusted.values()) {
      try {
        await compactVerify(assertion, jwks, { algorithms: ALGORITHMS });
        return fail('invalid_grant', 'assertion iss does not match its signer');
      } catch {
        // not signed by this trusted issuer; try the next
      }
    }
    return fail('interaction_required', 'this provider does not trust the assertion issuer');
  }
}

function fail(error: Extract<IdJagResult, { ok: false }>['error'], description: string): IdJagResult {
  return { ok: false, error, description };
}

function classify(err: unknown): IdJagResult {
  if (err instanceof errors.JWTExpired) return fail('invalid_grant', 'assertion expired');
  if (err instanceof errors.JWTClaimValidationFailed) return fail('invalid_grant', `assertion claim ${err.claim} is invalid`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return fail('invalid_grant', 'assertion signature is invalid');
  if (err instanceof errors.JWKSNoMatchingKey) return fail('invalid_grant', 'no trusted key matches the assertion');
  if (err instanceof errors.JWKSTimeout) return fail('temporarily_unavailable', 'issuer keys could not be fetched');
  if (err instanceof errors.JOSEError && err.code !== 'ERR_JOSE_GENERIC') return fail('invalid_grant', 'assertion is malformed');
  return fail('temporarily_unavailable', 'issuer keys could not be fetched');
}
