/** The pieces of `update` (issue 21) that need no counterpart: allowed_updates on the wire and in the catalog, the allowed check, the update's journal slot. */
import { describe, expect, it } from 'vitest';
import type { CatalogService } from '../../../src/catalog/service.js';
import { narrowServices } from '../../../src/catalog/cache.js';
import { mapAppService } from '../../../src/catalog/app-catalog.js';
import { parseCatalog } from '../../../src/catalog/validate.js';
import { AgentprovError, EXIT } from '../../../src/core/errors.js';
import { journalSlot, listJournal, readJournal, updateSlot, writeJournal, type JournalEntry } from '../../../src/provision/journal.js';
import { checkAllowed } from '../../../src/provision/steps/update-intend.js';
import type { ManifestResource } from '../../../src/project/manifest.js';
import { ServiceSchema } from '../../../src/wire/provider.js';
import { tempDir } from '../../helpers/cli.js';

const service = (id: string, allowed?: string[]) => ({
  id,
  name: id,
  description: '',
  categories: [],
  pricing: { type: 'free' },
  config_schema: { type: 'object' },
  scopes: [],
  env: {},
  kind: 'resource',
  async: false,
  ...(allowed ? { allowed_updates: allowed } : {}),
});

describe('allowed_updates', () => {
  it('is optional on the wire (older catalogs parse), bounded and made of service ids', () => {
    expect(ServiceSchema.safeParse(service('kv:namespace')).success).toBe(true);
    expect(ServiceSchema.safeParse(service('kv:namespace', ['kv:pro'])).success).toBe(true);
    expect(ServiceSchema.safeParse(service('kv:namespace', ['not an id'])).success).toBe(false);
    expect(ServiceSchema.safeParse(service('kv:namespace', Array.from({ length: 51 }, (_, i) => `kv:p${i}`))).success).toBe(false);
  });

  it('survives catalog validation and the cache; an APP service keeps its targets as agentprov ids', () => {
    const doc = Buffer.from(JSON.stringify({ provider_id: 'p', services: [service('kv:namespace', ['kv:pro']), service('kv:pro')] }));
    const { services } = parseCatalog(doc, 'p');
    expect(services.map((s) => s.allowed_updates)).toEqual([['kv:pro'], undefined]);
    expect(narrowServices(JSON.parse(JSON.stringify(services)), 'p')).toHaveLength(2);
    expect(narrowServices([{ ...services[0], allowed_updates: [42] }], 'p')).toBeUndefined();
    const app = mapAppService('appcloud', { id: 'analytics', pricing: { type: 'free' }, allowed_updates: ['analytics-scale', 'EU_plan'] });
    expect(app.allowed_updates).toEqual(['app:analytics-scale', 'app:eu-plan']);
  });
});

describe('checkAllowed', () => {
  const resource: ManifestResource = { name: 'cache', provider: 'localcloud', service: 'kv:namespace', config: { a: 1 } };
  const current = { ...service('kv:namespace', ['kv:pro', 'kv:scale']), provider: 'localcloud' } as CatalogService;

  it('lets a listed target through, and asking for what the resource already is', () => {
    expect(() => checkAllowed(resource, current, 'kv:pro', {})).not.toThrow();
    expect(() => checkAllowed(resource, current, 'kv:namespace', { a: 1 })).not.toThrow();
  });

  it('refuses anything else with exit 2 UPDATE_NOT_ALLOWED naming the allowed targets', () => {
    for (const [target, config] of [['workers:script', {}], ['kv:namespace', { a: 2 }]] as const) {
      let err: unknown;
      try {
        checkAllowed(resource, current, target, config);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AgentprovError);
      const e = err as AgentprovError;
      expect(e.code).toBe('UPDATE_NOT_ALLOWED');
      expect(e.exitCode).toBe(EXIT.USAGE);
      expect(e.details.allowed_updates).toEqual(['kv:pro', 'kv:scale']);
      expect(e.nextSteps).toEqual(['agentprov update cache --service kv:pro', 'agentprov update cache --service kv:scale']);
    }
    expect(() => checkAllowed(resource, undefined, 'kv:pro', {})).toThrow(/no longer lists it/);
  });
});

describe('the update journal slot', () => {
  it('is not an add slot, and list/defaulted names never see update entries', async () => {
    const state = tempDir();
    const slot = updateSlot('/p/agentprov.json', 'localcloud', 'cache');
    expect(slot).not.toBe(journalSlot('/p/agentprov.json', 'localcloud', 'kv:namespace', 'cache'));
    const now = new Date().toISOString();
    const entry: JournalEntry = { v: 1, op: 'update', slot, manifest: '/p/agentprov.json', provider: 'localcloud', service: 'kv:pro', name: 'cache', config: {}, idempotency_key: 'agentprov-k', state: 'sent', created_at: now, updated_at: now };
    await writeJournal(state, entry);
    expect(await readJournal(state, slot)).toMatchObject({ op: 'update', state: 'sent' });
    expect(await listJournal(state)).toEqual([]);
  });
});
