/**
 * The attested path (docs/protocol-auth.md §3, §5): the checker's own
 * orchestrator presents ID-JAGs it signed, one good and five bad, with the
 * JWT bearer grant (RFC 7523), then refreshes a grant to see its refresh
 * token rotate. `Grants.fresh()` gives later groups tokens of their own.
 */
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import {
  GRANT_JWT_BEARER,
  JwtBearerTokenResponseSchema,
  ProviderTokenErrorSchema,
  ProviderTokenResponseSchema,
  type JwtBearerTokenResponse,
} from '../../wire/provider-auth.js';
import type { Answer } from '../http.js';
import type { AssertionClaims, AssertionFlaw } from '../issuer.js';
import type { SuiteContext } from '../types.js';
import type { Discovered } from './discovery.js';

export interface Grants {
  clientId: string;
  /** A new grant (a fresh ID-JAG): its tokens, remembered as secrets; its refresh token revoked at cleanup. */
  fresh(): Promise<JwtBearerTokenResponse>;
}

const REFUSALS: Array<{ id: string; flaw: AssertionFlaw; what: string }> = [
  { id: 'agentprov.idjag.expired', flaw: 'expired', what: 'an expired ID-JAG' },
  { id: 'agentprov.idjag.audience', flaw: 'wrong_audience', what: 'an ID-JAG for another audience' },
  { id: 'agentprov.idjag.signature', flaw: 'wrong_key', what: 'an ID-JAG signed by another key' },
  { id: 'agentprov.idjag.alg_none', flaw: 'alg_none', what: 'an unsigned ID-JAG (alg none)' },
];

export async function idJagChecks(ctx: SuiteContext, d: Discovered): Promise<Grants | undefined> {
  const { http, report, issuer } = ctx;
  const clientId = await clientIdFor(ctx, d);
  if (!clientId) {
    report.skip('agentprov.idjag.accept', 'the descriptor publishes no client_id and the authorization server offers no registration_endpoint: no client to present an ID-JAG as');
    return undefined;
  }
  const rand = randomBytes(6).toString('hex');
  const claims: AssertionClaims = {
    aud: d.as.issuer,
    client_id: clientId,
    resource: d.descriptor.resource,
    sub: `agentprov-check-${rand}`,
    email: `agentprov-check-${rand}@example.com`,
  };
  const present = async (assertion: string): Promise<Answer> => {
    http.secret(assertion);
    const a = await http.send('POST', d.as.token_endpoint, {
      form: { grant_type: GRANT_JWT_BEARER, client_id: clientId, assertion, resource: d.descriptor.resource, terms_version: d.descriptor.terms_version },
    });
    const tokens = ProviderTokenResponseSchema.safeParse(a.json);
    if (tokens.success) {
      http.secret(tokens.data.access_token);
      http.secret(tokens.data.refresh_token);
    }
    return a;
  };
  const revokeLater = (refreshToken: string): void =>
    ctx.onCleanup(async () => {
      if (d.as.revocation_endpoint) await http.send('POST', d.as.revocation_endpoint, { form: { token: refreshToken, token_type_hint: 'refresh_token', client_id: clientId } });
    });

  const first = await issuer.assertion(claims);
  const accepted = await present(first);
  const ok = JwtBearerTokenResponseSchema.safeParse(accepted.json);
  if (accepted.status !== 200 || !ok.success) {
    const err = ProviderTokenErrorSchema.safeParse(accepted.json);
    if (err.success && err.data.error === 'interaction_required') {
      report.skip(
        'agentprov.idjag.accept',
        `the provider does not trust the checker's issuer ${issuer.issuer} (interaction_required): add it to the provider's trusted orchestrators with JWKS ${issuer.jwksUri} (README: "Checking a provider")`,
      );
      return undefined;
    }
    report.fail('agentprov.idjag.accept', http.describe(accepted, 'JWT bearer grant with a good ID-JAG'));
    return undefined;
  }
  revokeLater(ok.data.refresh_token);
  report.pass('agentprov.idjag.accept', http.describe(accepted, 'JWT bearer grant with a good ID-JAG'));

  const refusedAsInvalidGrant = (a: Answer): boolean => {
    const e = ProviderTokenErrorSchema.safeParse(a.json);
    return a.status === 400 && e.success && e.data.error === 'invalid_grant';
  };
  const replay = await present(first);
  report.expect('agentprov.idjag.replay', refusedAsInvalidGrant(replay), http.describe(replay, 'the same ID-JAG again'));
  for (const r of REFUSALS) {
    const a = await present(await issuer.assertion(claims, r.flaw));
    report.expect(r.id, refusedAsInvalidGrant(a), http.describe(a, r.what));
  }

  const grants: Grants = {
    clientId,
    async fresh() {
      const a = await present(await issuer.assertion(claims));
      const t = JwtBearerTokenResponseSchema.safeParse(a.json);
      if (a.status !== 200 || !t.success) throw new Error(`a fresh ID-JAG was refused: ${http.describe(a)}`);
      revokeLater(t.data.refresh_token);
      return t.data;
    },
  };

  const g = await grants.fresh();
  const refresh = (token: string): Promise<Answer> =>
    http.send('POST', d.as.token_endpoint, { form: { grant_type: 'refresh_token', refresh_token: token, client_id: clientId, resource: d.descriptor.resource } });
  const r1 = await refresh(g.refresh_token);
  const next = ProviderTokenResponseSchema.safeParse(r1.json);
  if (next.success) {
    http.secret(next.data.access_token);
    http.secret(next.data.refresh_token);
  }
  if (r1.status !== 200 || !next.success || !next.data.refresh_token) {
    report.fail('agentprov.refresh.rotation', http.describe(r1, 'refresh'));
  } else if (next.data.refresh_token === g.refresh_token) {
    report.fail('agentprov.refresh.rotation', 'refresh → 200 with the same refresh token: it did not rotate');
  } else {
    const r2 = await refresh(g.refresh_token);
    report.expect('agentprov.refresh.rotation', refusedAsInvalidGrant(r2), http.describe(r2, 'refresh → a new refresh token; the old one again'));
  }
  return grants;
}

/** The descriptor's client_id, else an RFC 7591 registration (public client). */
async function clientIdFor(ctx: SuiteContext, d: Discovered): Promise<string | undefined> {
  if (d.descriptor.client_id) return d.descriptor.client_id;
  if (!d.as.registration_endpoint) return undefined;
  const r = await ctx.http.send('POST', d.as.registration_endpoint, {
    json: { client_name: 'agentprov providers check', application_type: 'native', token_endpoint_auth_method: 'none', response_types: [], grant_types: [GRANT_JWT_BEARER, 'refresh_token'] },
  });
  const reg = z.looseObject({ client_id: z.string().min(1).max(255) }).safeParse(r.json);
  return r.status === 201 && reg.success ? reg.data.client_id : undefined;
}
