/**
 * What a client reads before it holds a token: the provider descriptor
 * (`/.well-known/agent-provisioning`), the terms page, the RFC 9728
 * protected resource metadata and the catalog (strong ETag, 304 on match).
 */
import { createHash } from 'node:crypto';
import type { Catalog, ProtectedResourceMetadata, ProviderDescriptor, Service } from '../../wire/provider.js';
import { escapeHtml } from '../shared/http.js';
import { metadataUrl } from './bearer.js';
import { send, sendJson, type Exchange } from './http.js';
import type { ServiceDefinition } from './types.js';

export interface DiscoveryInfo {
  providerId: string;
  name: string;
  baseUrl: string;
  termsVersion: string;
  authIssuer: string;
  /** Published when the AS offers no RFC 7591 registration. */
  clientId?: string;
  scopes: string[];
}

export function descriptor(i: DiscoveryInfo): ProviderDescriptor {
  return {
    provider_id: i.providerId,
    name: i.name,
    terms_url: `${i.baseUrl}/terms`,
    terms_version: i.termsVersion,
    catalog_url: `${i.baseUrl}/catalog`,
    provisioning_endpoint: `${i.baseUrl}/v1/provisions`,
    resource: i.baseUrl,
    authorization_server: i.authIssuer,
    protected_resource_metadata: metadataUrl(i.baseUrl),
    ...(i.clientId ? { client_id: i.clientId } : {}),
  };
}

/** RFC 9728 §2, §3: served at `/.well-known/oauth-protected-resource`. */
function protectedResourceMetadata(i: DiscoveryInfo): ProtectedResourceMetadata {
  return {
    resource: i.baseUrl,
    authorization_servers: [i.authIssuer],
    scopes_supported: i.scopes,
    bearer_methods_supported: ['header'],
    resource_name: i.name,
    resource_documentation: `${i.baseUrl}/terms`,
  };
}

/** The wire catalog: service definitions without the sandbox's `engine`. */
export function catalogOf(providerId: string, services: ServiceDefinition[]): Catalog {
  return {
    provider_id: providerId,
    services: services.map(({ engine: _engine, ...service }): Service => service),
  };
}

/** A prepared catalog response: body bytes and strong ETag (RFC 9110 §8.8.3). */
export class CatalogResponse {
  readonly body: string;
  readonly etag: string;
  constructor(catalog: Catalog) {
    this.body = JSON.stringify(catalog);
    this.etag = `"${createHash('sha256').update(this.body).digest('base64url').slice(0, 32)}"`;
  }

  serve(ex: Exchange): void {
    const headers = { ETag: this.etag, 'Cache-Control': 'max-age=60', Vary: 'Accept-Encoding' };
    if (ifNoneMatch(ex.req.headers['if-none-match'], this.etag)) {
      send(ex, 304, headers);
      return;
    }
    send(ex, 200, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }, this.body);
  }
}

/** RFC 9110 §13.1.2: weak comparison, `*` matches any current representation. */
function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined || header.length > 4096) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

export function serveDescriptor(ex: Exchange, i: DiscoveryInfo): void {
  sendJson(ex, 200, descriptor(i), { 'Cache-Control': 'max-age=300' });
}

export function serveProtectedResourceMetadata(ex: Exchange, i: DiscoveryInfo): void {
  sendJson(ex, 200, protectedResourceMetadata(i), { 'Cache-Control': 'max-age=300' });
}

export function serveTerms(ex: Exchange, i: DiscoveryInfo): void {
  const name = escapeHtml(i.name);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${name} terms of service</title></head>
<body><main>
<h1>${name} terms of service</h1>
<p>Version <strong id="terms-version">${escapeHtml(i.termsVersion)}</strong></p>
<p>This is a sandbox provider. Accounts and resources created here are for local testing;
nothing is real, no money moves, and everything is deleted with the sandbox's data directory.</p>
<p>By accepting these terms you agree that an agent acting for you may create an account here
and provision the services you approve, charged through your orchestrator's payment rail.</p>
</main></body></html>`;
  send(ex, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'max-age=300' }, html);
}
