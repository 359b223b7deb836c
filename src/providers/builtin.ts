/**
 * Providers built into agentprov: how each one is opened and what its link
 * (the human's account at it) looks like. Their catalogs are static data in
 * the catalog layer (src/catalog/builtin/), which also decides when the
 * built-in implementation is the one in use: when no registered descriptor
 * claims its id. This is the one place that maps such an id to code.
 *
 * The implementation is imported only when a command needs the provider.
 */
import type { Deps } from '../core/deps.js';
import type { ProviderReport } from '../catalog/aggregate.js';
import { builtinInUse, type BuiltinCatalog } from '../catalog/builtin/index.js';
import type { Provider } from './provider.js';

export interface BuiltinLink {
  account_id: string;
  account_name: string;
  api_url: string;
  linked_at: string;
}

interface Implementation {
  open(deps: Deps): Promise<Provider>;
  /** Non-secret facts about the human's link to this provider, or null when there is none. */
  link(deps: Deps): Promise<BuiltinLink | null>;
}

const IMPLEMENTATIONS: Readonly<Record<string, Implementation>> = {
  cloudflare: {
    open: async (deps) => (await import('./cloudflare/index.js')).openCloudflareProvider(deps),
    link: async (deps) => {
      const link = await (await import('./cloudflare/oauth-link.js')).readAnyLink(await deps.vault());
      return link ? { account_id: link.account_id, account_name: link.account_name, api_url: link.api_url, linked_at: link.linked_at } : null;
    },
  },
};

/** The built-in implementation for this id when the gathered catalog says the built-in one is in use. */
export function builtinFor(providers: readonly ProviderReport[], id: string): (Implementation & Pick<BuiltinCatalog, 'billing'>) | undefined {
  const catalog = builtinInUse(providers, id);
  const impl = catalog && IMPLEMENTATIONS[catalog.id];
  return impl ? { ...impl, billing: catalog.billing } : undefined;
}

/** The human's link to the built-in provider `id`, or null. */
export async function builtinLink(deps: Deps, id: string): Promise<BuiltinLink | null> {
  return (await IMPLEMENTATIONS[id]?.link(deps)) ?? null;
}
