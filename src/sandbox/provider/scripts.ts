/**
 * The script engine (workers:script): `PUT <base>/scripts/<id>/content`
 * deploys HTML (scope from the service, e.g. `scripts:deploy`); any request
 * whose Host header names a live script's hostname (or the account's active
 * domain it was bound to) is answered with the deployed content.
 */
import type { JsonState } from '../shared/json-state.js';
import { requireScope, type Bearer } from './bearer.js';
import { methodNotAllowed, readBody, send, sendJson, ApiError, type Exchange } from './http.js';
import type { Provisioner } from './provisions.js';
import type { ProviderDoc } from './store.js';

export const SCRIPT_PATH = /^\/scripts\/(prv_[0-9a-f]{16})(\/content)?$/;
const MAX_SCRIPT_BYTES = 1024 * 1024;

export async function handleScript(
  ex: Exchange,
  match: RegExpExecArray,
  bearer: Bearer,
  provisioner: Provisioner,
  store: JsonState<ProviderDoc>,
  baseUrl: string,
): Promise<void> {
  const id = match[1] ?? '';
  const { p, engine } = provisioner.owned(bearer.info.accountId, id, 'script');
  const method = ex.req.method ?? 'GET';
  const hostname = p.customDomain ?? p.hostname ?? '';
  if (match[2] === undefined) {
    if (method !== 'GET') throw methodNotAllowed(['GET']);
    const d = store.data.scripts[id];
    sendJson(ex, 200, { id, hostname, deployed: !!d, ...(d ? { size: d.size, deployed_at: d.deployedAt } : {}) });
    return;
  }
  if (method === 'GET') {
    const d = store.data.scripts[id];
    if (!d) throw new ApiError(404, 'NOT_FOUND', 'nothing deployed yet');
    send(ex, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, Buffer.from(d.content, 'base64'));
    return;
  }
  if (method !== 'PUT') throw methodNotAllowed(['GET', 'PUT']);
  requireScope(bearer, engine.deployScope, baseUrl);
  const body = await readBody(ex.req, MAX_SCRIPT_BYTES);
  const deployedAt = new Date().toISOString();
  await store.update((doc) => {
    doc.scripts[id] = { content: body.toString('base64'), size: body.length, deployedAt };
  });
  sendJson(ex, 200, { id, hostname, size: body.length, deployed_at: deployedAt });
}

/** The Host header's name, lower case, port removed; undefined when absent or odd. */
function hostName(header: string | undefined): string | undefined {
  if (!header || header.length > 300) return undefined;
  const m = /^([a-z0-9.-]+)(?::\d{1,5})?$/i.exec(header.trim());
  return m?.[1]?.toLowerCase().replace(/\.$/, '');
}

/** Serve a deployed site when the Host header names one; returns false otherwise. */
export function serveSite(ex: Exchange, provisioner: Provisioner): boolean {
  const host = hostName(ex.req.headers.host);
  if (!host || host === '127.0.0.1' || host === 'localhost') return false;
  const content = provisioner.siteFor(host);
  if (content === undefined) return false;
  if (ex.req.method !== 'GET' && ex.req.method !== 'HEAD') throw methodNotAllowed(['GET', 'HEAD']);
  const body = Buffer.from(content, 'base64');
  if (ex.req.method === 'HEAD') {
    ex.res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(body.length) });
    ex.res.end();
    return true;
  }
  send(ex, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, body);
  return true;
}
