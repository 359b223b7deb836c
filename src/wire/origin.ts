/**
 * One origin per provider (docs/protocol.md §0.1), decided before any
 * credential exists: every URL of a provider that agentprov sends a request
 * to (catalog, provisioning endpoint, RFC 9728 resource and its metadata,
 * authorization server) must be on the origin of the provider's registered
 * descriptor URL. The one exception is an authorization server on another
 * origin that the orchestrator's descriptor vouches for by name
 * (`provider_authorization_servers`).
 *
 * Why: a provider that may name someone else's authorization server can have
 * the user's CLI fetch a token for that server's resource and send it to the
 * provider (the authorization-server mix-up); one that may name another
 * origin for its catalog can make the CLI probe the user's local services.
 */

/** The descriptor members agentprov sends requests to. `terms_url` is only shown to the human. */
export const REQUEST_MEMBERS = ['catalog_url', 'provisioning_endpoint', 'resource', 'protected_resource_metadata', 'authorization_server'] as const;
type Member = (typeof REQUEST_MEMBERS)[number];

export interface OriginViolation {
  /** The descriptor member (or `authorization_servers[0]` of the RFC 9728 metadata). */
  field: string;
  /** The origin it names (never a full URL: it may carry a query). */
  origin: string;
  /** The registered descriptor URL's origin. */
  expected: string;
}

/** The origin of `url`, or undefined when it is not a bounded, parseable URL. */
export function originOf(url: unknown): string | undefined {
  if (typeof url !== 'string' || url.length > 2048) return undefined;
  const origin = URL.parse(url)?.origin;
  return origin && origin !== 'null' ? origin : undefined;
}

const sameUrl = (a: string, b: string): boolean => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/** Whether `issuer` may be the authorization server of the provider at `descriptorUrl`: on its origin, or vouched for. */
export function issuerAllowed(descriptorUrl: string, issuer: string, vouched: readonly string[] = []): boolean {
  const expected = originOf(descriptorUrl);
  return (expected !== undefined && originOf(issuer) === expected) || vouched.some((v) => sameUrl(v, issuer));
}

/** The first request member of `descriptor` off the descriptor URL's origin (a vouched-for `authorization_server` excepted), or undefined. */
export function offOriginMember(descriptorUrl: string, descriptor: Partial<Record<Member, unknown>>, vouched: readonly string[] = []): OriginViolation | undefined {
  const expected = originOf(descriptorUrl) ?? '(none)';
  for (const field of REQUEST_MEMBERS) {
    const value = descriptor[field];
    if (value === undefined) continue;
    if (field === 'authorization_server' && typeof value === 'string' && issuerAllowed(descriptorUrl, value, vouched)) continue;
    const origin = originOf(value);
    if (origin !== expected) return { field, origin: origin ?? '(not a URL)', expected };
  }
  return undefined;
}

/** The sentence every refusal uses, naming the field. */
export function describeViolation(v: OriginViolation): string {
  return `its ${v.field} is on ${v.origin}, not on the descriptor's origin ${v.expected} (a provider's URLs must share one origin)`;
}
