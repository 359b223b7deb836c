/**
 * The provider's catalog as a `Provider` lists it: the cached catalog when
 * the cache holds this provider's, else fetched from its catalog_url
 * (docs/protocol.md), bounded and validated by src/catalog.
 */
import { MAX_CATALOG_BYTES } from '../../catalog/aggregate.js';
import { readCacheEntry } from '../../catalog/cache.js';
import { AgentprovError } from '../../core/errors.js';
import type { Service } from '../../wire/provider.js';
import { withFetcher, type ClientContext } from './context.js';
import { DEADLINE_MS } from './discovery.js';
import { invalidResponse } from './errors.js';

export async function catalogServices(c: ClientContext): Promise<Service[]> {
  const cached = readCacheEntry(c.deps.paths.cache, c.ref.descriptorUrl);
  const services = cached?.provider_id === c.id ? cached.services : await fetchCatalog(c);
  return services.map(({ provider: _provider, ...s }) => s as Service);
}

/** The catalog from the descriptor's catalog_url, validated as the registry's are. */
async function fetchCatalog(c: ClientContext) {
  const { parseCatalog } = await import('../../catalog/validate.js');
  const doc = await withFetcher((f) => f.get(c.ref.descriptor.catalog_url, { signal: AbortSignal.timeout(DEADLINE_MS), maxBytes: MAX_CATALOG_BYTES })).catch(
    (err: unknown) => {
      throw err instanceof AgentprovError ? err : invalidResponse(c.id, 'discovery', `catalog: ${(err as Error).message}`);
    },
  );
  try {
    return parseCatalog(doc.body!, c.id).services;
  } catch (err) {
    throw invalidResponse(c.id, 'discovery', (err as Error).message);
  }
}
