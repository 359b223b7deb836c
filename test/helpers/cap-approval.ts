/**
 * An identity provider of the test's own for cap approvals
 * (docs/protocol-auth.md §10): an ES256 key the cap keepers are told to trust,
 * approval tokens shaped as the sandbox identity provider issues them, and
 * a stranger's key for forgeries. For tests of the rail's and the ledger's
 * checks, and for tests that only need a cap raised the approved way.
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import type { Ledger } from '../../src/payment/ledger.js';
import { detailFor, LEDGER_RESOURCE, PendingCapChange, verifyCapApproval, type SpendingCapDetail } from '../../src/wire/cap-approval.js';
import type { CapResponse } from '../../src/wire/rail.js';

export const TEST_ISSUER = 'http://issuer.test';

export interface SignOptions {
  sub?: string;
  iat?: number;
  exp?: number;
  authTime?: number;
  issuer?: string;
  key?: 'stranger';
  typ?: string;
}

export async function testApprover() {
  const trusted = await generateKeyPair('ES256');
  const stranger = await generateKeyPair('ES256');
  const jwks = { keys: [{ ...(await exportJWK(trusted.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' } as JWK] };
  const keys = createLocalJWKSet(jwks);

  /** An approval token as the identity provider issues them; `over` changes claims or the signing key. */
  const sign = (detail: SpendingCapDetail, audience: string, over: SignOptions = {}): Promise<string> => {
    const iat = over.iat ?? Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: 'agentprov-cli', auth_time: over.authTime ?? iat, scope: 'spending_caps', authorization_details: [detail] })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: over.typ ?? 'at+jwt' })
      .setIssuer(over.issuer ?? TEST_ISSUER)
      .setAudience(audience)
      .setSubject(over.sub ?? 'user-demo')
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(over.exp ?? iat + 120)
      .sign(over.key === 'stranger' ? stranger.privateKey : trusted.privateKey);
  };

  /** What the CLI's ledger verifier does, against this issuer's keys, at `now`. */
  const ledgerVerifier = (now: () => Date = () => new Date()) => (token: string) =>
    verifyCapApproval(token, { issuer: TEST_ISSUER, audience: LEDGER_RESOURCE, keys, now: now() });

  /** Raises a ledger cap the only way there is: ask (a pending change), approve it (signed here), apply. */
  const raiseLedger = async (ledger: Ledger, provider: string, amount: number, now: () => Date = () => new Date(), user = 'user-demo'): Promise<CapResponse> => {
    const subject = async () => user;
    const asked = await ledger.setCap(provider, amount, { subject }).then(
      () => {
        throw new Error(`raising ${provider} to ${amount} did not ask for an approval`);
      },
      (err: { code?: string; details?: unknown }) => {
        if (err.code !== 'CAP_RAISE_APPROVAL_REQUIRED') throw err;
        return PendingCapChange.parse(err.details);
      },
    );
    const token = await sign(detailFor(asked), LEDGER_RESOURCE, { sub: user, iat: Math.floor(now().getTime() / 1000) });
    return ledger.setCap(provider, amount, { subject, approval: { token, verify: ledgerVerifier(now) } });
  };

  return { jwks, sign, ledgerVerifier, raiseLedger };
}
