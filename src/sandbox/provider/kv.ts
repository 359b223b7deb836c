/**
 * The KV engine (kv:namespace, storage:bucket): a namespace of keys at
 * `<base>/kv/<provision id>`, reachable only with an access token of the
 * owning account carrying the service's read or write scope.
 *   GET    <ns>/keys         list keys
 *   PUT    <ns>/keys/<key>   store the body (≤ 1 MiB)
 *   GET    <ns>/keys/<key>   read it back with its Content-Type
 *   DELETE <ns>/keys/<key>   remove it
 */
import type { JsonState } from '../shared/json-state.js';
import { requireScope, type Bearer } from './bearer.js';
import { ApiError, methodNotAllowed, readBody, send, sendJson, type Exchange } from './http.js';
import type { Provisioner } from './provisions.js';
import type { ProviderDoc } from './store.js';

export const KV_PATH = /^\/kv\/(prv_[0-9a-f]{16})\/keys(?:\/([^/]+))?$/;
const MAX_VALUE_BYTES = 1024 * 1024;

export async function handleKv(
  ex: Exchange,
  match: RegExpExecArray,
  bearer: Bearer,
  provisioner: Provisioner,
  store: JsonState<ProviderDoc>,
  baseUrl: string,
): Promise<void> {
  const id = match[1] ?? '';
  // The engine of the provision's current service: an update to another plan changes maxKeys at once.
  const { readScope, writeScope, maxKeys } = provisioner.owned(bearer.info.accountId, id, 'kv').engine;
  const method = ex.req.method ?? 'GET';
  if (match[2] === undefined) {
    if (method !== 'GET') throw methodNotAllowed(['GET']);
    requireScope(bearer, readScope, baseUrl);
    const entries = Object.entries(store.data.kv[id] ?? {});
    const keys = entries.map(([key, e]) => ({ key, size: Buffer.byteLength(e.value, 'base64'), updated_at: e.updatedAt }));
    sendJson(ex, 200, { keys });
    return;
  }
  const key = decodeKey(match[2]);
  if (method === 'GET') {
    requireScope(bearer, readScope, baseUrl);
    const e = store.data.kv[id]?.[key];
    if (!e) throw new ApiError(404, 'NOT_FOUND', 'no such key');
    send(ex, 200, { 'Content-Type': e.contentType, 'Cache-Control': 'no-store' }, Buffer.from(e.value, 'base64'));
    return;
  }
  if (method === 'PUT') {
    requireScope(bearer, writeScope, baseUrl);
    const body = await readBody(ex.req, MAX_VALUE_BYTES);
    const contentType = boundedContentType(ex.req.headers['content-type']);
    const updatedAt = new Date().toISOString();
    await store.update((doc) => {
      const ns = (doc.kv[id] ??= {});
      if (!(key in ns) && Object.keys(ns).length >= maxKeys) {
        throw new ApiError(409, 'QUOTA_EXCEEDED', `this plan holds at most ${maxKeys} keys`, { field: 'key', details: { max_keys: maxKeys } });
      }
      ns[key] = { value: body.toString('base64'), contentType, updatedAt };
    });
    sendJson(ex, 200, { key, size: body.length, updated_at: updatedAt });
    return;
  }
  if (method === 'DELETE') {
    requireScope(bearer, writeScope, baseUrl);
    const existed = await store.update((doc) => {
      const ns = doc.kv[id];
      if (!ns || !(key in ns)) return false;
      delete ns[key];
      return true;
    });
    if (!existed) throw new ApiError(404, 'NOT_FOUND', 'no such key');
    sendJson(ex, 200, { key, deleted: true });
    return;
  }
  throw methodNotAllowed(['GET', 'PUT', 'DELETE']);
}

function decodeKey(raw: string): string {
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, 'INVALID_REQUEST', 'key is not valid percent-encoding', { field: 'key' });
  }
  if (key.length === 0 || key.length > 512 || /[\x00-\x1f\x7f]/.test(key)) {
    throw new ApiError(400, 'INVALID_REQUEST', 'key must be 1-512 characters without control characters', { field: 'key' });
  }
  return key;
}

function boundedContentType(header: string | undefined): string {
  if (header && header.length <= 200 && /^[\x20-\x7e]+$/.test(header)) return header;
  return 'application/octet-stream';
}
