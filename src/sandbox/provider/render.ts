/**
 * A stored provision as the wire `Provision`: status as of now, resource
 * attributes built from the current base URL (so they survive a restart on
 * another port), the charge, and `poll_url` while pending.
 */
import type { Provision } from '../../wire/provider.js';
import { currentStatus, type StoredProvision } from './store.js';
import type { ServiceDefinition } from './types.js';

/** The id's last 6 characters: the "id-ish" part of generated hostnames. */
export const shortOf = (id: string): string => id.slice(-6);

export function renderProvision(p: StoredProvision, def: ServiceDefinition | undefined, base: string, providerId: string): Provision {
  const status = currentStatus(p);
  const out: Provision = {
    id: p.id,
    service: p.service,
    name: p.name,
    status,
    created_at: p.createdAt,
    resource: attributes(p, def, base, providerId),
  };
  if (p.charge) out.charge = { amount: p.charge.amount, currency: p.charge.currency, ...(p.charge.interval ? { interval: p.charge.interval } : {}) };
  if (p.updatedAt) out.updated_at = p.updatedAt;
  if (status === 'pending') out.poll_url = `${base}/v1/provisions/${p.id}`;
  return out;
}

function attributes(p: StoredProvision, def: ServiceDefinition | undefined, base: string, providerId: string): Record<string, string | number | boolean> {
  const engine = def?.engine;
  switch (engine?.type) {
    case 'kv':
      return { url: `${base}/kv/${p.id}` };
    case 'script':
      return { url: `${base}/scripts/${p.id}`, hostname: p.customDomain ?? p.hostname ?? '', default_hostname: p.hostname ?? '' };
    case 'domain':
      return { domain: p.domain ?? '' };
    case 'static': {
      const vars: Record<string, string> = { id: p.id, short: shortOf(p.id), name: p.name, provider: providerId };
      const fill = (v: string | number): string | number => (typeof v === 'string' ? v.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m) : v);
      return Object.fromEntries(Object.entries(engine.attributes).map(([k, v]) => [k, fill(v)]));
    }
    default:
      return {};
  }
}
