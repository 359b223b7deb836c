/**
 * Providers built into agentprov (issue 9): today Cloudflare, whose public
 * REST API agentprov drives itself on the official SDK, with a catalog
 * versioned with agentprov.
 *
 * This is the one place that decides, per provider id, which implementation
 * commands get: when the registry (orchestrator, user or manifest) knows a
 * descriptor for the same id — Cloudflare publishing the agentprov provider
 * protocol, attested or with an OAuth client — that descriptor wins and the
 * generic protocol client is used, for the catalog and for every command;
 * otherwise the built-in one. Nothing else in agentprov tests a provider id.
 *
 * The catalog part is a static, tiny module (no SDK): `catalog` lists the
 * built-in services without loading any Cloudflare code. The implementation
 * is imported only when a command needs the provider.
 */
import type { Deps } from '../core/deps.js';
import type { ProviderReport } from '../catalog/aggregate.js';
import type { CatalogService } from '../catalog/validate.js';
import { CLOUDFLARE_CATALOG_VERSION, CLOUDFLARE_SERVICES } from './cloudflare/catalog.js';
import type { Provider } from './provider.js';

interface Builtin {
  id: string;
  name: string;
  version: string;
  services: readonly CatalogService[];
  /** `external`: it bills a payment method of its own, so its caps live in agentprov's ledger (payment/ledger.ts), not at the rail. */
  billing: 'rail' | 'external';
  open(deps: Deps): Promise<Provider>;
  /** Non-secret facts about the human's link to this provider, or null when there is none. */
  link(deps: Deps): Promise<BuiltinLink | null>;
}

export interface BuiltinLink {
  account_id: string;
  account_name: string;
  api_url: string;
  linked_at: string;
}

const BUILTINS: readonly Builtin[] = [
  {
    id: 'cloudflare',
    name: 'Cloudflare',
    version: CLOUDFLARE_CATALOG_VERSION,
    services: CLOUDFLARE_SERVICES,
    billing: 'external',
    open: async (deps) => (await import('./cloudflare/index.js')).openCloudflareProvider(deps),
    link: async (deps) => {
      const link = await (await import('./cloudflare/link.js')).readLink(await deps.vault());
      return link ? { account_id: link.account_id, account_name: link.account_name, api_url: link.api_url, linked_at: link.linked_at } : null;
    },
  },
];

/** Where a built-in provider's catalog "comes from", in provider reports (never fetched). */
export const builtinUrl = (id: string): string => `builtin:${id}`;

/** The ids of the built-in providers that bill a payment method of their own (the ledger's providers). */
export const EXTERNALLY_BILLED: ReadonlySet<string> = new Set(BUILTINS.filter((b) => b.billing === 'external').map((b) => b.id));

/** The built-in implementation for this id when the gathered catalog says the built-in one is in use. */
export function builtinFor(providers: readonly ProviderReport[], id: string): Pick<Builtin, 'open' | 'billing'> | undefined {
  const report = providers.find((p) => p.id === id && p.status === 'builtin');
  return report ? BUILTINS.find((b) => b.id === id) : undefined;
}

/**
 * The built-in providers no registered descriptor claims, each with the
 * report it is listed under (`catalog`, `providers list`); none when
 * AGENTPROV_BUILTIN_PROVIDERS=none. A registered descriptor with the same
 * id takes over even when it failed to answer this time: a configured
 * protocol path is never silently swapped for the built-in one.
 */
export function unclaimedBuiltins(
  claimedIds: Iterable<string | null>,
  env: NodeJS.ProcessEnv,
): ReadonlyArray<Pick<Builtin, 'id' | 'name' | 'version' | 'services' | 'link'> & { report: ProviderReport }> {
  if (env.AGENTPROV_BUILTIN_PROVIDERS === 'none') return [];
  const claimed = new Set(claimedIds);
  return BUILTINS.filter((b) => !claimed.has(b.id)).map((b) => ({
    ...b,
    report: { id: b.id, name: b.name, url: builtinUrl(b.id), source: 'builtin', status: 'builtin', services: b.services.length, age_s: null, version: b.version },
  }));
}
