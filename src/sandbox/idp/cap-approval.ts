/**
 * Approving a spending cap change at the sandbox identity provider
 * (docs/protocol-auth.md §10), with oidc-provider's own mechanisms:
 *
 * - RFC 9396 `authorization_details` of type `spending_cap`
 *   (`features.richAuthorizationRequests`), validated with the shared schema
 *   and bound to the request's `resource` (its only `locations` entry);
 * - RFC 8707 resources (`features.resourceIndicators`): the payment rail's URL
 *   and agentprov's ledger (LEDGER_RESOURCE) are the only resource servers;
 *   their access tokens are ES256 JWTs (RFC 9068) of APPROVAL_TOKEN_TTL_SECONDS
 *   that carry the approved `authorization_details`;
 * - a login check: a request carrying a cap change always gets the sign-in
 *   page, whatever session the browser has (what `prompt=login` does, but
 *   decided by the server, not by the client);
 * - the approved details live on a grant made for that one approval and are
 *   copied to the device code, then to the access token, only when the
 *   request asked for exactly them.
 */
import type { AuthorizationDetail, KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import { errors, interactionPolicy } from 'oidc-provider';
import {
  APPROVAL_TOKEN_TTL_SECONDS,
  CAP_APPROVAL_SCOPE,
  describeAmount,
  describeTarget,
  LEDGER_RESOURCE,
  SPENDING_CAP_TYPE,
  SpendingCapDetail,
} from '../../wire/cap-approval.js';

/** The cap changes a request asks to approve: parsed from its `authorization_details` parameter; [] when there are none. */
export function requestedCapChanges(param: unknown): SpendingCapDetail[] {
  if (typeof param !== 'string' || param.length > 8192) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(param);
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  return raw.filter((d) => (d as { type?: unknown })?.type === SPENDING_CAP_TYPE).flatMap((d) => {
    const parsed = SpendingCapDetail.safeParse(d);
    return parsed.success ? [parsed.data] : [];
  });
}

const same = (a: unknown, b: unknown): boolean => {
  const x = SpendingCapDetail.safeParse(a);
  const y = SpendingCapDetail.safeParse(b);
  return x.success && y.success && JSON.stringify(x.data) === JSON.stringify(y.data);
};

/** One line a human reads: "Raise the cap of localcloud from 100.00 USD to 250.00 USD a month". */
export function describeChange(d: SpendingCapDetail): string {
  return `Raise ${describeTarget(d.provider)} from ${describeAmount(d.previous_amount, d.currency)} to ${describeAmount(d.amount, d.currency)} a month`;
}

export function capApprovalResourceServer(paymentRail: () => string) {
  return (_ctx: KoaContextWithOIDC, indicator: string): ResourceServer => {
    const rail = paymentRail();
    if (indicator !== LEDGER_RESOURCE && (rail === '' || indicator !== rail)) {
      throw new errors.InvalidTarget('the only resources here are the payment rail and the spending ledger, for cap approvals');
    }
    return {
      scope: CAP_APPROVAL_SCOPE,
      audience: indicator,
      accessTokenFormat: 'jwt',
      accessTokenTTL: APPROVAL_TOKEN_TTL_SECONDS,
      jwt: { sign: { alg: 'ES256' } },
    };
  };
}

export const richAuthorizationRequests = {
  enabled: true,
  types: {
    [SPENDING_CAP_TYPE]: {
      validate(ctx: KoaContextWithOIDC, detail: AuthorizationDetail): void {
        const parsed = SpendingCapDetail.safeParse(detail);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new errors.InvalidAuthorizationDetails(`spending_cap: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
        }
        const resource = ctx.oidc.params?.resource;
        if (typeof resource !== 'string' || parsed.data.locations[0] !== resource) {
          throw new errors.InvalidAuthorizationDetails('spending_cap: locations must name the requested resource');
        }
        if (requestedCapChanges(ctx.oidc.params?.authorization_details).length !== 1) {
          throw new errors.InvalidAuthorizationDetails('spending_cap: approve one change per request');
        }
      },
    },
  },
  /** The device code (or authorization code) carries the requested changes only when this interaction's grant approved exactly them. */
  authorizationDetailsForGrantSource(ctx: KoaContextWithOIDC): AuthorizationDetail[] | undefined {
    const requested = requestedCapChanges(ctx.oidc.params?.authorization_details);
    if (requested.length === 0) return undefined;
    const granted = ctx.oidc.grant?.rar ?? [];
    const approved = requested.filter((r) => granted.some((g) => same(g, r)));
    return approved.length === requested.length ? approved : undefined;
  },
  authorizationDetailsForAccessToken(
    _ctx: KoaContextWithOIDC,
    _token: unknown,
    source: { rar?: AuthorizationDetail[] | undefined } | undefined,
  ): AuthorizationDetail[] | undefined {
    return source?.rar;
  },
};

/** The login prompt with one more check: a cap change is approved only right after a sign-in on that page. */
export function interactionPolicyWithCapLogin(): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  const login = policy.get('login');
  if (!login) throw new Error('oidc-provider: no login prompt in the base policy');
  login.checks.add(
    new interactionPolicy.Check('cap_approval_login', 'approving a spending cap change needs a new sign-in', (ctx) =>
      requestedCapChanges(ctx.oidc.params?.authorization_details).length > 0 && !ctx.oidc.result?.login
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT,
    ),
  );
  return [...policy];
}
