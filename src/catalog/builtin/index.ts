/**
 * The catalogs of the providers built into agentprov (today Cloudflare, whose
 * public REST API agentprov drives itself), versioned with agentprov: static
 * data, so `catalog` lists them without loading any provider code. How a
 * built-in provider is opened and linked is src/providers/builtin.ts.
 *
 * A registered descriptor for the same id wins (the provider then speaks a
 * protocol and is reached through the generic client), even when it failed
 * to answer this time: a configured protocol path is never silently swapped
 * for the built-in one.
 */
import type { ProviderReport } from '../aggregate.js';
import type { CatalogService } from '../service.js';
import { CLOUDFLARE_CATALOG_VERSION, CLOUDFLARE_PROVIDER_ID, CLOUDFLARE_SERVICES } from './cloudflare.js';

export interface BuiltinCatalog {
  id: string;
  name: string;
  version: string;
  services: readonly CatalogService[];
  /** `external`: it bills a payment method of its own, so its caps live in agentprov's ledger (payment/ledger.ts), not at the rail. */
  billing: 'rail' | 'external';
}

export const BUILTIN_CATALOGS: readonly BuiltinCatalog[] = [
  { id: CLOUDFLARE_PROVIDER_ID, name: 'Cloudflare', version: CLOUDFLARE_CATALOG_VERSION, services: CLOUDFLARE_SERVICES, billing: 'external' },
];

/** Where a built-in provider's catalog "comes from", in provider reports (never fetched). */
export const builtinUrl = (id: string): string => `builtin:${id}`;

/** The ids of the built-in providers that bill a payment method of their own (the ledger's providers). */
export const EXTERNALLY_BILLED: ReadonlySet<string> = new Set(BUILTIN_CATALOGS.filter((b) => b.billing === 'external').map((b) => b.id));

/** The built-in catalog of this id when the gathered catalog says the built-in provider is the one in use. */
export function builtinInUse(providers: readonly ProviderReport[], id: string): BuiltinCatalog | undefined {
  const report = providers.find((p) => p.id === id && p.status === 'builtin');
  return report ? BUILTIN_CATALOGS.find((b) => b.id === id) : undefined;
}

/**
 * The built-in providers no registered descriptor claims, each with the
 * report it is listed under (`catalog`, `providers list`); none when
 * AGENTPROV_BUILTIN_PROVIDERS=none.
 */
export function unclaimedBuiltins(claimedIds: Iterable<string | null>, env: NodeJS.ProcessEnv): ReadonlyArray<BuiltinCatalog & { report: ProviderReport }> {
  if (env.AGENTPROV_BUILTIN_PROVIDERS === 'none') return [];
  const claimed = new Set(claimedIds);
  return BUILTIN_CATALOGS.filter((b) => !claimed.has(b.id)).map((b) => ({
    ...b,
    report: { id: b.id, name: b.name, url: builtinUrl(b.id), source: 'builtin', status: 'builtin', services: b.services.length, age_s: null, version: b.version },
  }));
}
