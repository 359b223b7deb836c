/**
 * The free Cloudflare resources: Workers KV namespaces, R2 buckets, D1
 * databases and Worker scripts. Cloudflare has no idempotency keys for their
 * creation, so every `ensure*` first looks the name up (KV: list and match
 * the title; R2: GET the bucket; D1: list filtered by name; Workers: GET the
 * script) and adopts what an earlier attempt created; only when nothing is
 * there does it create, once (no blind retry of a create).
 *
 * Provision ids are `<kind>/<cloudflare id>` (`kv/<namespace id>`,
 * `r2/<bucket>`, `d1/<uuid>`, `worker/<script>`, and `domain/<domain>` in
 * registrar.ts); resource attributes are flat scalars.
 */
import { toFile } from 'cloudflare/core/uploads';
import * as z from 'zod';
import { AgentprovError } from '../../core/errors.js';
import type { Provision } from '../../wire/provider.js';
import { sanitizeLine } from '../../util/sanitize.js';
import { LOCATION_HINTS } from '../../catalog/builtin/cloudflare.js';
import { callOptions, collect, once, orAbsent, parsed, parseResult } from './client.js';
import type { TokenApi } from './tokens.js';

/** A provision before the agentprov resource name is put on it. */
export interface Draft {
  id: string;
  service: string;
  status: Provision['status'];
  created_at: string;
  resource: Record<string, string | number | boolean>;
  charge?: { amount: number; currency: string; interval?: 'month' | 'year' };
}

export type Kind = 'domain' | 'kv' | 'r2' | 'd1' | 'worker';

export const SERVICE_KIND: Record<string, Kind> = {
  'registrar:domain': 'domain',
  'kv:namespace': 'kv',
  'r2:bucket': 'r2',
  'd1:database': 'd1',
  'workers:script': 'worker',
};

/** `kv/0f2a…` → { kind, ref }; anything else is RESOURCE_NOT_FOUND (not ours). */
export function parseId(id: string): { kind: Kind; ref: string } {
  const m = /^(domain|kv|r2|d1|worker)\/([A-Za-z0-9._-]{1,120})$/.exec(id);
  if (!m) {
    throw new AgentprovError('RESOURCE_NOT_FOUND', `"${sanitizeLine(id).slice(0, 128)}" is not a Cloudflare provision id of agentprov`, { details: { provider: 'cloudflare', id: sanitizeLine(id).slice(0, 128) } });
  }
  const kind = m[1] as Kind;
  return { kind, ref: m[2]! };
}

export function gone(id: string): AgentprovError {
  return new AgentprovError('RESOURCE_NOT_FOUND', `Cloudflare has no ${id} (any more)`, { details: { provider: 'cloudflare', id } });
}

const Stamp = z.string().max(64).nullish();

/** A provider timestamp as ISO 8601, or `fallback` when it is absent or unreadable. */
export function iso(value: string | null | undefined, fallback: Date): string {
  const t = value ? Date.parse(value) : NaN;
  return new Date(Number.isNaN(t) ? fallback.getTime() : t).toISOString();
}

const text = (v: string, max = 200): string => sanitizeLine(v).slice(0, max);

/** Calls that answer 404 for "no such thing": undefined instead. */
/** A DELETE that is done when the thing is gone (404 included). */
async function deleted(api: TokenApi, call: string, fn: () => PromiseLike<unknown>): Promise<void> {
  await orAbsent(api, call, fn);
}

// ---- Workers KV ------------------------------------------------------------------

const NamespaceSchema = z.looseObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), title: z.string().max(512) });
type Namespace = z.infer<typeof NamespaceSchema>;

function kvDraft(ns: Namespace, now: Date, adopted: boolean): Draft {
  return { id: `kv/${ns.id}`, service: 'kv:namespace', status: 'active', created_at: now.toISOString(), resource: { id: ns.id, name: text(ns.title, 512), title: text(ns.title, 512), ...(adopted ? { adopted } : {}) } };
}

export async function ensureKv(api: TokenApi, title: string, now: Date): Promise<Draft> {
  const listCall = 'GET /accounts/:account_id/storage/kv/namespaces';
  const all = await collect(api, listCall, () => api.client.kv.namespaces.list({ account_id: api.accountId, per_page: 100 }, callOptions()));
  const found = all.map((raw) => parseResult(api, listCall, NamespaceSchema, raw)).find((n) => n.title === title);
  if (found) return kvDraft(found, now, true);
  const ns = await parsed(api, 'POST /accounts/:account_id/storage/kv/namespaces', NamespaceSchema, () => once((o) => api.client.kv.namespaces.create({ account_id: api.accountId, title }, o)));
  return kvDraft(ns, now, false);
}

export async function getKv(api: TokenApi, id: string, now: Date): Promise<Draft> {
  const call = 'GET /accounts/:account_id/storage/kv/namespaces/:id';
  const raw = await orAbsent(api, call, () => api.client.kv.namespaces.get(id, { account_id: api.accountId }, callOptions()));
  if (raw === undefined) throw gone(`kv/${id}`);
  return kvDraft(parseResult(api, call, NamespaceSchema, raw), now, false);
}

export const removeKv = (api: TokenApi, id: string): Promise<void> =>
  deleted(api, 'DELETE /accounts/:account_id/storage/kv/namespaces/:id', () => api.client.kv.namespaces.delete(id, { account_id: api.accountId }, callOptions()));

// ---- R2 ----------------------------------------------------------------------------

const BucketSchema = z.looseObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/),
  creation_date: Stamp,
  location: z.string().max(32).nullish(),
  jurisdiction: z.string().max(32).nullish(),
  storage_class: z.string().max(32).nullish(),
});
type Bucket = z.infer<typeof BucketSchema>;

function r2Draft(b: Bucket, now: Date, adopted: boolean): Draft {
  return {
    id: `r2/${b.name}`,
    service: 'r2:bucket',
    status: 'active',
    created_at: iso(b.creation_date, now),
    resource: { id: b.name, name: b.name, ...(b.location ? { location: text(b.location, 32) } : {}), ...(b.jurisdiction ? { jurisdiction: text(b.jurisdiction, 32) } : {}), ...(adopted ? { adopted } : {}) },
  };
}

const LOCATION = z.enum(LOCATION_HINTS);

function locationHint(value: string | undefined, field: string): z.infer<typeof LOCATION> | undefined {
  if (value === undefined) return undefined;
  const parsed = LOCATION.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AgentprovError('INVALID_CONFIG', `config.${field}: one of ${LOCATION.options.join(', ')}`, { details: { field: `config.${field}` } });
}

export async function ensureR2(api: TokenApi, name: string, location: string | undefined, now: Date): Promise<Draft> {
  const getCall = 'GET /accounts/:account_id/r2/buckets/:name';
  const raw = await orAbsent(api, getCall, () => api.client.r2.buckets.get(name, { account_id: api.accountId }, callOptions()));
  if (raw !== undefined) return r2Draft(parseResult(api, getCall, BucketSchema, raw), now, true);
  const hint = locationHint(location, 'location_hint');
  const b = await parsed(api, 'POST /accounts/:account_id/r2/buckets', BucketSchema, () =>
    once((o) => api.client.r2.buckets.create({ account_id: api.accountId, name, ...(hint ? { locationHint: hint } : {}) }, o)),
  );
  return r2Draft(b, now, false);
}

export async function getR2(api: TokenApi, name: string, now: Date): Promise<Draft> {
  const call = 'GET /accounts/:account_id/r2/buckets/:name';
  const raw = await orAbsent(api, call, () => api.client.r2.buckets.get(name, { account_id: api.accountId }, callOptions()));
  if (raw === undefined) throw gone(`r2/${name}`);
  return r2Draft(parseResult(api, call, BucketSchema, raw), now, false);
}

export const removeR2 = (api: TokenApi, name: string): Promise<void> =>
  deleted(api, 'DELETE /accounts/:account_id/r2/buckets/:name', () => api.client.r2.buckets.delete(name, { account_id: api.accountId }, callOptions()));

// ---- D1 ----------------------------------------------------------------------------

const DatabaseSchema = z.looseObject({
  uuid: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
  name: z.string().max(64),
  created_at: Stamp,
  version: z.string().max(32).nullish(),
});
type Database = z.infer<typeof DatabaseSchema>;

function d1Draft(db: Database, now: Date, adopted: boolean): Draft {
  return {
    id: `d1/${db.uuid}`,
    service: 'd1:database',
    status: 'active',
    created_at: iso(db.created_at, now),
    resource: { id: db.uuid, name: text(db.name, 64), ...(db.version ? { version: text(db.version, 32) } : {}), ...(adopted ? { adopted } : {}) },
  };
}

export async function ensureD1(api: TokenApi, name: string, location: string | undefined, now: Date): Promise<Draft> {
  const listCall = 'GET /accounts/:account_id/d1/database';
  const all = await collect(api, listCall, () => api.client.d1.database.list({ account_id: api.accountId, name, per_page: 100 }, callOptions()));
  const found = all.map((raw) => parseResult(api, listCall, DatabaseSchema, raw)).find((d) => d.name === name);
  if (found) return d1Draft(found, now, true);
  const hint = locationHint(location, 'primary_location_hint');
  const db = await parsed(api, 'POST /accounts/:account_id/d1/database', DatabaseSchema, () =>
    once((o) => api.client.d1.database.create({ account_id: api.accountId, name, ...(hint ? { primary_location_hint: hint } : {}) }, o)),
  );
  return d1Draft(db, now, false);
}

export async function getD1(api: TokenApi, uuid: string, now: Date): Promise<Draft> {
  const call = 'GET /accounts/:account_id/d1/database/:id';
  const raw = await orAbsent(api, call, () => api.client.d1.database.get(uuid, { account_id: api.accountId }, callOptions()));
  if (raw === undefined) throw gone(`d1/${uuid}`);
  return d1Draft(parseResult(api, call, DatabaseSchema, raw), now, false);
}

export const removeD1 = (api: TokenApi, uuid: string): Promise<void> =>
  deleted(api, 'DELETE /accounts/:account_id/d1/database/:id', () => api.client.d1.database.delete(uuid, { account_id: api.accountId }, callOptions()));

// ---- Workers -----------------------------------------------------------------------

/** What a new Worker answers until its owner deploys real code. */
export const PLACEHOLDER_TEXT = 'placeholder deployed by agentprov';
const PLACEHOLDER_MODULE = `export default {\n  async fetch() {\n    return new Response(${JSON.stringify(`${PLACEHOLDER_TEXT}\n`)}, { headers: { 'content-type': 'text/plain; charset=utf-8' } });\n  },\n};\n`;
const COMPATIBILITY_DATE = '2025-01-01';

const UploadedSchema = z.looseObject({ id: z.string().max(128).nullish(), created_on: Stamp });

function workerDraft(name: string, created: string | null | undefined, now: Date, adopted: boolean): Draft {
  return { id: `worker/${name}`, service: 'workers:script', status: 'active', created_at: iso(created, now), resource: { id: name, name, ...(adopted ? { adopted } : {}) } };
}

/** GET the script (its content is not read: the response body is dropped). */
async function scriptExists(api: TokenApi, name: string): Promise<boolean> {
  const res = await orAbsent(api, 'GET /accounts/:account_id/workers/scripts/:name', () => api.client.workers.scripts.get(name, { account_id: api.accountId }, callOptions()).asResponse());
  if (!res) return false;
  await res.body?.cancel().catch(() => undefined);
  return true;
}

export async function ensureWorker(api: TokenApi, name: string, now: Date): Promise<Draft> {
  if (await scriptExists(api, name)) return workerDraft(name, undefined, now, true);
  const call = 'PUT /accounts/:account_id/workers/scripts/:name';
  const file = await toFile(Buffer.from(PLACEHOLDER_MODULE), 'index.js', { type: 'application/javascript+module' });
  // PUT replaces a script by name: sending it again after an unclear failure creates nothing twice.
  const up = await parsed(api, call, UploadedSchema.nullish(), () =>
    // cloudflare 7.3.0 labels this multipart body `application/javascript`; a null Content-Type lets the
    // SDK send the multipart boundary it built (the double refuses the mislabelled body, as a strict server would).
    api.client.workers.scripts.update(name, { account_id: api.accountId, metadata: { main_module: 'index.js', compatibility_date: COMPATIBILITY_DATE }, files: [file] }, { ...callOptions(), headers: { 'Content-Type': null } }),
  );
  return workerDraft(name, up?.created_on, now, false);
}

export async function getWorker(api: TokenApi, name: string, now: Date): Promise<Draft> {
  if (!(await scriptExists(api, name))) throw gone(`worker/${name}`);
  return workerDraft(name, undefined, now, false);
}

export const removeWorker = (api: TokenApi, name: string): Promise<void> =>
  deleted(api, 'DELETE /accounts/:account_id/workers/scripts/:name', () => api.client.workers.scripts.delete(name, { account_id: api.accountId }, callOptions()));
