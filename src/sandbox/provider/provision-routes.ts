/**
 * HTTP surface of provisioning (`<base>/v1/provisions`), every call an OAuth
 * protected resource needing the `provision` scope:
 *   POST   /v1/provisions       Idempotency-Key + { service, name, config, payment_token? } → 201 | 202
 *   GET    /v1/provisions       the account's live provisions
 *   GET    /v1/provisions/<id>  current state (poll target of a 202)
 *   DELETE /v1/provisions/<id>  → { id, status: "deleted" }
 *   POST   /v1/provisions/<id>/update  Idempotency-Key + { service, config, payment_token? } → 200 (updates.ts)
 *   POST   /v1/provisions/<id>/deep_link  { purpose } → 201 { url, expires_at, purpose } (single use, 10 minutes)
 */
import { DeepLinkRequestSchema, IdempotencyKeySchema, MAX_DEEP_LINK_BODY_BYTES, MAX_PROVISION_BODY_BYTES, ProvisionRequestSchema, ProvisionUpdateRequestSchema } from '../../wire/provider.js';
import type { ConsoleSubject, ConsoleView, DeepLinks } from '../shared/deep-links.js';
import { requireScope, type Bearer } from './bearer.js';
import { ApiError, methodNotAllowed, readJson, sendJson, type Exchange } from './http.js';
import { notFound, type Provisioner } from './provisions.js';
import type { Updater } from './updates.js';

export const PROVISIONS_PATH = /^\/v1\/provisions(?:\/([A-Za-z0-9_-]{1,128}))?\/?$/;
export const DEEP_LINK_PATH = /^\/v1\/provisions\/([A-Za-z0-9_-]{1,128})\/deep_link$/;
export const UPDATE_PATH = /^\/v1\/provisions\/([A-Za-z0-9_-]{1,128})\/update$/;

/** POST <provisioning_endpoint>/<id>/update (docs/protocol.md §4.4). */
export async function handleUpdate(ex: Exchange, match: RegExpExecArray, bearer: Bearer, updater: Updater, baseUrl: string): Promise<void> {
  requireScope(bearer, 'provision', baseUrl);
  if ((ex.req.method ?? 'GET') !== 'POST') throw methodNotAllowed(['POST']);
  const key = idempotencyKey(ex.req.headers['idempotency-key']);
  const body = await readJson(ex.req, MAX_PROVISION_BODY_BYTES, ProvisionUpdateRequestSchema);
  const result = await updater.update(bearer.info.accountId, match[1] ?? '', key, body);
  sendJson(ex, 200, result.provision, result.replayed ? { 'Idempotent-Replayed': 'true' } : {});
}

export async function handleProvisions(
  ex: Exchange,
  match: RegExpExecArray,
  bearer: Bearer,
  provisioner: Provisioner,
  baseUrl: string,
): Promise<void> {
  requireScope(bearer, 'provision', baseUrl);
  const accountId = bearer.info.accountId;
  const id = match[1];
  const method = ex.req.method ?? 'GET';
  if (id === undefined) {
    if (method === 'GET') {
      sendJson(ex, 200, { provisions: provisioner.list(accountId) });
      return;
    }
    if (method !== 'POST') throw methodNotAllowed(['GET', 'POST']);
    const key = idempotencyKey(ex.req.headers['idempotency-key']);
    const body = await readJson(ex.req, MAX_PROVISION_BODY_BYTES, ProvisionRequestSchema);
    const result = await provisioner.create(accountId, key, body);
    const headers: Record<string, string> = { Location: `${baseUrl}/v1/provisions/${result.provision.id}` };
    if (result.replayed) headers['Idempotent-Replayed'] = 'true';
    sendJson(ex, result.status, result.provision, headers);
    return;
  }
  if (method === 'GET') {
    sendJson(ex, 200, provisioner.get(accountId, id));
    return;
  }
  if (method === 'DELETE') {
    sendJson(ex, 200, await provisioner.remove(accountId, id));
    return;
  }
  throw methodNotAllowed(['GET', 'DELETE']);
}

function idempotencyKey(header: string | string[] | undefined): string {
  const parsed = IdempotencyKeySchema.safeParse(header);
  if (!parsed.success) {
    const message = header === undefined ? 'the Idempotency-Key header is required' : 'Idempotency-Key must be 1-255 visible ASCII characters';
    throw new ApiError(400, 'INVALID_REQUEST', message, { field: 'Idempotency-Key' });
  }
  return parsed.data;
}

/** §4.5: a single-use sign-in link into the console page of a live provision of the token's account. */
export async function handleDeepLink(ex: Exchange, match: RegExpExecArray, bearer: Bearer, provisioner: Provisioner, links: DeepLinks, baseUrl: string): Promise<void> {
  requireScope(bearer, 'provision', baseUrl);
  if (ex.req.method !== 'POST') throw methodNotAllowed(['POST']);
  const body = await readJson(ex.req, MAX_DEEP_LINK_BODY_BYTES, DeepLinkRequestSchema);
  const p = provisioner.get(bearer.info.accountId, match[1]!);
  if (p.status === 'deleted') throw notFound();
  const link = links.issue(baseUrl, { account: bearer.info.accountId, resource: p.id });
  sendJson(ex, 201, { url: link.url, expires_at: link.expiresAt.toISOString(), purpose: body.purpose });
}

/** What the console page shows of a provision: undefined once it is deleted or gone. */
export function consoleView(provisioner: Provisioner, s: ConsoleSubject): ConsoleView | undefined {
  let p;
  try {
    p = provisioner.get(s.account, s.resource);
  } catch {
    return undefined;
  }
  if (p.status === 'deleted') return undefined;
  const facts: Array<[string, string]> = [
    ['name', p.name],
    ['service', p.service],
    ['status', p.status],
    ['created_at', p.created_at],
    ...Object.entries(p.resource).map(([k, v]): [string, string] => [k, String(v)]),
  ];
  return { title: `${p.name} (${p.service})`, facts };
}
