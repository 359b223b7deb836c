/**
 * What an orchestrator reads before it holds a token (docs/protocol.md §1-§3):
 * the descriptor, the catalog and its caching, the RFC 9728 metadata and
 * challenge, the RFC 8414 metadata, and HEAD wherever GET is answered.
 */
import { parseMaxAge } from '../../http/fetch.js';
import { describeViolation, offOriginMember } from '../../wire/origin.js';
import { AuthorizationServerMetadataSchema, type AuthorizationServerMetadata } from '../../wire/provider-auth.js';
import {
  CatalogSchema,
  ProtectedResourceMetadataSchema,
  ProviderDescriptorSchema,
  type ProviderDescriptor,
  type Service,
} from '../../wire/provider.js';
import type { SuiteContext } from '../types.js';

export const DESCRIPTOR_PATH = '/.well-known/agent-provisioning';

export interface Discovered {
  descriptorUrl: string;
  descriptor: ProviderDescriptor;
  services: Service[];
  as: AuthorizationServerMetadata;
}

export function descriptorUrlOf(url: string): string {
  const u = new URL(url);
  return u.pathname.endsWith(DESCRIPTOR_PATH) ? u.href : new URL(DESCRIPTOR_PATH, u.origin).href;
}

/** RFC 8414 §3.1: `/.well-known/oauth-authorization-server` inserted before the issuer's path. */
export function asMetadataUrl(issuer: string): string {
  const u = new URL(issuer);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return `${u.origin}/.well-known/oauth-authorization-server${path}`;
}

export async function discover(ctx: SuiteContext): Promise<Discovered | undefined> {
  const { http, report } = ctx;
  const descriptorUrl = descriptorUrlOf(ctx.url);
  const d = await http.send('GET', descriptorUrl);
  const parsed = ProviderDescriptorSchema.safeParse(d.json);
  if (d.status !== 200 || !parsed.success) {
    report.fail('agentprov.descriptor', `${http.describe(d)}${parsed.success ? '' : ` (schema: ${issue(parsed.error)})`}`);
    return undefined;
  }
  const descriptor = parsed.data;
  const off = offOriginMember(descriptorUrl, descriptor);
  if (!report.expect('agentprov.descriptor', !off, off ? describeViolation(off) : http.describe(d))) return undefined;

  const c = await http.send('GET', descriptor.catalog_url);
  const catalog = CatalogSchema.safeParse(c.json);
  const catalogOk = c.status === 200 && catalog.success && catalog.data.provider_id === descriptor.provider_id;
  report.expect('agentprov.catalog', catalogOk, `${http.describe(c)}${catalog.success ? '' : ` (schema: ${issue(catalog.error)})`}`);
  const etag = c.header('etag');
  if (!etag || etag.startsWith('W/')) {
    report.fail('agentprov.catalog.etag', `GET ${path(descriptor.catalog_url)} → ETag ${etag ?? 'missing'}: a strong ETag is required`);
  } else {
    const again = await http.send('GET', descriptor.catalog_url, { headers: { 'if-none-match': etag } });
    report.expect('agentprov.catalog.etag', again.status === 304 && again.text === '', http.describe(again, `If-None-Match: ${etag}`));
  }
  const cc = c.header('cache-control');
  report.expect('agentprov.catalog.cache_control', cc !== undefined && /(^|[\s,])max-age\s*=\s*\d+/i.test(cc), `Cache-Control: ${cc ?? 'missing'} (max-age ${parseMaxAge(cc)} s)`);

  const prmUrl = descriptor.protected_resource_metadata ?? new URL('/.well-known/oauth-protected-resource', descriptor.resource).href;
  const p = await http.send('GET', prmUrl);
  const prm = ProtectedResourceMetadataSchema.safeParse(p.json);
  const asIssuer = prm.success ? prm.data.authorization_servers[0] : undefined;
  const prmOk = p.status === 200 && prm.success && prm.data.resource === descriptor.resource
    && (descriptor.authorization_server === undefined || asIssuer === descriptor.authorization_server);
  if (!report.expect('agentprov.resource_metadata', prmOk, http.describe(p)) || !asIssuer) return undefined;

  const bare = await http.send('POST', descriptor.provisioning_endpoint, { json: {} });
  const bogus = await http.send('POST', descriptor.provisioning_endpoint, { json: {}, headers: { authorization: 'Bearer agentprovCheckUnknownToken000000000000000000' } });
  const challenge = bare.header('www-authenticate') ?? '';
  const invalid = bogus.header('www-authenticate') ?? '';
  report.expect(
    'agentprov.challenge',
    bare.status === 401 && /^Bearer\b/i.test(challenge) && challenge.includes(`resource_metadata="${prmUrl}"`) && bogus.status === 401 && /error="invalid_token"/.test(invalid),
    `no token → ${bare.status} WWW-Authenticate: ${challenge || 'missing'}; unknown token → ${bogus.status} WWW-Authenticate: ${invalid || 'missing'}`,
  );

  const asUrl = asMetadataUrl(asIssuer);
  const a = await http.send('GET', asUrl);
  const as = AuthorizationServerMetadataSchema.safeParse(a.json);
  const asOk = a.status === 200 && as.success && as.data.issuer === asIssuer && as.data.revocation_endpoint !== undefined;
  report.expect('agentprov.as_metadata', asOk, `${http.describe(a)}${as.success ? '' : ` (schema: ${issue(as.error)})`}`);

  const heads: string[] = [];
  for (const url of [descriptorUrl, descriptor.catalog_url, prmUrl, asUrl]) {
    const h = await http.send('HEAD', url);
    if (h.status !== 200) heads.push(`HEAD ${path(url)} → ${h.status}${h.header('allow') ? ` (Allow: ${h.header('allow')})` : ''}`);
  }
  report.expect('agentprov.head', heads.length === 0, heads.length ? heads.join('; ') : 'HEAD → 200 on the descriptor, catalog, RFC 9728 and RFC 8414 metadata');

  if (!catalogOk || !as.success || !asOk) return undefined;
  return { descriptorUrl, descriptor, services: catalog.data.services, as: as.data };
}

function path(url: string): string {
  return new URL(url).pathname;
}

function issue(err: { issues: Array<{ path: PropertyKey[]; message: string }> }): string {
  const i = err.issues[0];
  return i ? `${i.path.map(String).join('.') || 'body'}: ${i.message}` : 'invalid';
}
