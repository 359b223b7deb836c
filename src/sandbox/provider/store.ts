/**
 * The provider's persistent state: provisions, idempotency records, KV data
 * and deployed scripts, in one JsonState document (`<dataDir>/provider.json`).
 * URLs are never stored, only ids, so a restart on another port still works.
 */
import { join } from 'node:path';
import * as z from 'zod';
import { JsonState } from '../shared/json-state.js';

const Charge = z.object({
  amount: z.number().int(),
  currency: z.string(),
  interval: z.enum(['month', 'year']).optional(),
  redemptionId: z.string(),
});

const StoredProvision = z.object({
  id: z.string(),
  accountId: z.string(),
  service: z.string(),
  name: z.string(),
  config: z.record(z.string(), z.unknown()),
  status: z.enum(['pending', 'active', 'failed', 'deleted']),
  createdAt: z.string(),
  /** A pending provision turns active at this instant (ISO). */
  readyAt: z.string().optional(),
  deletedAt: z.string().optional(),
  /** The last update (docs/protocol.md §4.4) that changed its service or config. */
  updatedAt: z.string().optional(),
  charge: Charge.optional(),
  /** Domain engine: the registered domain. */
  domain: z.string().optional(),
  /** Script engine: the generated hostname, and the account's domain it serves, if any. */
  hostname: z.string().optional(),
  customDomain: z.string().optional(),
});
export type StoredProvision = z.infer<typeof StoredProvision>;

const IdempotencyRecord = z.object({
  fingerprint: z.string(),
  provisionId: z.string(),
  state: z.enum(['processing', 'done']),
  /** 201/202 for a create; 200 for an update (§4.4). */
  httpStatus: z.union([z.literal(200), z.literal(201), z.literal(202)]).optional(),
  /** Set as soon as the rail confirmed the charge, so a resumed request never redeems twice. */
  redemption: Charge.optional(),
  /** A domain held while the request is processing. */
  domain: z.string().optional(),
  createdAt: z.string(),
});
export type IdempotencyRecord = z.infer<typeof IdempotencyRecord>;

const KvEntry = z.object({ value: z.string(), contentType: z.string(), updatedAt: z.string() });
export type KvEntry = z.infer<typeof KvEntry>;

const Deployment = z.object({ content: z.string(), size: z.number().int(), deployedAt: z.string() });
export type Deployment = z.infer<typeof Deployment>;

const ProviderDoc = z.object({
  version: z.literal(1),
  provisions: z.record(z.string(), StoredProvision),
  /** accountId → Idempotency-Key → record */
  idempotency: z.record(z.string(), z.record(z.string(), IdempotencyRecord)),
  /** provision id → key → entry (value base64) */
  kv: z.record(z.string(), z.record(z.string(), KvEntry)),
  /** provision id → deployment (content base64) */
  scripts: z.record(z.string(), Deployment),
});
export type ProviderDoc = z.infer<typeof ProviderDoc>;

export function openStore(dataDir: string | undefined): JsonState<ProviderDoc> {
  return new JsonState<ProviderDoc>(
    dataDir ? join(dataDir, 'provider.json') : undefined,
    () => ({ version: 1, provisions: {}, idempotency: {}, kv: {}, scripts: {} }),
    (raw) => ProviderDoc.parse(raw),
  );
}

/** The status as of `now`: a pending provision whose time has come is active. */
export function currentStatus(p: StoredProvision, now = Date.now()): StoredProvision['status'] {
  if (p.status === 'pending' && p.readyAt !== undefined && Date.parse(p.readyAt) <= now) return 'active';
  return p.status;
}

/** True when a live provision or an in-flight request holds `domain` (any account). */
export function domainTaken(doc: Readonly<ProviderDoc>, domain: string): boolean {
  for (const p of Object.values(doc.provisions)) {
    if (p.domain === domain && p.status !== 'deleted' && p.status !== 'failed') return true;
  }
  for (const byKey of Object.values(doc.idempotency)) {
    for (const r of Object.values(byKey)) if (r.state === 'processing' && r.domain === domain) return true;
  }
  return false;
}
