/**
 * The catalog of an APP 0.1d provider (docs/protocol.md §APP.2): its
 * `provisioning/services` when it serves them (bounded, depth-checked, zod),
 * else the catalog shipped with agentprov for that base URL
 * (builtin/posthog.ts). Mapped to agentprov's service shape:
 *
 * - id `app:<id>` (lower case, `_` → `-`), the APP id kept as `app_service_id`;
 * - a free-text price stays text (`pricing.freeform`, `confirmation_required`),
 *   never a guessed number;
 * - env: each credential member agentprov knows an APP provider hands out
 *   (`api_key`, `host`) as `<PROVIDER_ID>_<KEY>`, from the resource.
 */
import { APP_VERSION, AppServices, MAX_APP_BODY_BYTES, type AppService } from '../wire/app.js';
import { tooDeepAt } from '../util/json-depth.js';
import type { Fetcher } from '../http/fetch.js';
import type { ProviderEntry } from './registry.js';
import type { CatalogService } from './service.js';
import { SHIPPED_APP_CATALOGS } from './builtin/posthog.js';
import { newCachedCatalog, writeCachedCatalog, type CachedCatalog } from './cache.js';

/** The credential members agentprov maps to env names for every APP service. */
export const APP_CREDENTIAL_KEYS = ['api_key', 'host'] as const;
/** How long a fetched APP catalog is used before it is asked for again. */
const APP_CATALOG_MAX_AGE_S = 3600;

export const appServiceId = (id: string): string => `app:${id.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '') || 'default'}`;
export const envNameFor = (providerId: string, key: string): string => `${providerId}_${key}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_').slice(0, 64);

export function mapAppService(providerId: string, s: AppService): CatalogService & { app_service_id: string } {
  const paid = s.pricing.type !== 'free';
  const text = s.pricing.type === 'paid' ? s.pricing.paid.freeform : s.pricing.type === 'component' ? 'component pricing (see the provider)' : undefined;
  return {
    provider: providerId,
    id: appServiceId(s.id),
    name: s.id.slice(0, 200),
    description: (s.description ?? '').slice(0, 2000),
    categories: (s.categories ?? []).slice(0, 10),
    pricing: paid ? { type: 'usage', freeform: text ?? 'paid', confirmation_required: true } : { type: 'free' },
    config_schema: { type: 'object' },
    env: Object.fromEntries(APP_CREDENTIAL_KEYS.map((k) => [envNameFor(providerId, k), `resource.${k}`])),
    scopes: [],
    kind: 'plan',
    async: false,
    ...(s.allowed_updates ? { allowed_updates: s.allowed_updates.map(appServiceId) } : {}),
    app_service_id: s.id,
  };
}

export interface AppCatalogOutcome {
  cache?: CachedCatalog;
  status: 'fetched' | 'failed' | 'stale';
  error?: string;
  warnings: string[];
}

/** One APP provider's catalog, fetched now (or shipped), written to the cache under the entry's URL. */
export async function refreshAppCatalog(entry: ProviderEntry, fetcher: Fetcher, opts: { cacheRoot: string; deadlineMs: number; now: () => number }, stale?: CachedCatalog): Promise<AppCatalogOutcome> {
  const id = entry.id ?? 'app';
  const servicesUrl = new URL('provisioning/services', entry.url).href;
  let services: readonly AppService[] | undefined;
  let warning: string | undefined;
  try {
    const res = await fetcher.request(servicesUrl, { signal: AbortSignal.timeout(opts.deadlineMs), maxBytes: MAX_APP_BODY_BYTES, headers: { 'api-version': APP_VERSION } });
    if (res.status === 200) {
      const raw: unknown = JSON.parse(res.body.toString('utf8'));
      const deep = tooDeepAt(raw);
      if (deep) throw new Error(`provisioning/services nests too deeply at ${deep}`);
      const parsed = AppServices.safeParse(raw);
      if (!parsed.success) throw new Error(`provisioning/services is invalid at ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
      services = parsed.data.data;
    } else if (res.status !== 404 && res.status !== 405) {
      warning = `provider ${id}: provisioning/services answered ${res.status}`;
    }
  } catch (err) {
    const why = (err as Error).message.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').slice(0, 300);
    const shipped = SHIPPED_APP_CATALOGS.find((c) => c.base === entry.url);
    if (!shipped) {
      if (stale) return { cache: stale, status: 'stale', error: why, warnings: [`provider ${id} (${entry.url}) failed (${why}); showing its cached catalog`] };
      return { status: 'failed', error: why, warnings: [`provider ${id} (${entry.url}) failed: ${why}`] };
    }
    warning = `provider ${id}: ${why}; using the catalog shipped with agentprov`;
  }
  services ??= SHIPPED_APP_CATALOGS.find((c) => c.base === entry.url)?.services ?? [];
  const mapped = services.map((s) => mapAppService(id, s));
  const { catalog, cacheable } = newCachedCatalog({
    url: entry.url,
    provider_id: id,
    provider_name: id,
    catalog_url: servicesUrl,
    fetched_at: opts.now(),
    max_age: APP_CATALOG_MAX_AGE_S,
    warnings: warning ? [warning] : [],
    services: mapped,
  });
  if (cacheable) writeCachedCatalog(opts.cacheRoot, catalog);
  return { cache: catalog, status: 'fetched', warnings: [] };
}
