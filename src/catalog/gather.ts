/**
 * What `catalog` and `search` share: the registry (from the registry index
 * when its inputs have not changed), the aggregation, and the rule for
 * failure: exit 5 (PROVIDER_UNREACHABLE) only when every provider failed and
 * nothing could be shown; otherwise the failures are warnings.
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import type { ProviderEntry } from './registry.js';
import { aggregateCatalogs, type AggregateResult, type ProviderReport } from './aggregate.js';
import { readRegistryIndex, registryFingerprint, writeRegistryIndex } from './registry-index.js';
import type { CatalogService } from './service.js';
import { unclaimedBuiltins } from './builtin/index.js';

export const ADD_PROVIDER_HINT = 'agentprov providers add <descriptor-url>';

export interface Gathered extends AggregateResult {
  nextSteps: string[];
}

/**
 * The registry from its index while config and manifest are unchanged, else
 * loaded (zod) and indexed. Commands that write the config call it right
 * after, so the next `catalog` (warm or cold) starts its requests without
 * parsing the config first.
 */
export async function resolveRegistry(deps: Pick<Deps, 'paths' | 'cwd'>): Promise<{ entries: ProviderEntry[]; deadlineMs: number; warnings: string[] }> {
  const { fingerprint, file } = registryFingerprint(deps.paths, deps.cwd);
  const index = readRegistryIndex(file, fingerprint);
  if (index) return { entries: index.entries, deadlineMs: index.deadline_ms, warnings: [...index.warnings] };
  const { loadRegistry } = await import('./registry.js');
  const registry = await loadRegistry({ paths: deps.paths, cwd: deps.cwd });
  const resolved = { entries: registry.entries, deadlineMs: registry.config.catalog_deadline_ms, warnings: registry.warnings };
  writeRegistryIndex(file, { v: 1, fingerprint, entries: resolved.entries, deadline_ms: resolved.deadlineMs, warnings: resolved.warnings });
  return { ...resolved, warnings: [...resolved.warnings] };
}

/** The per-provider deadline: AGENTPROV_CATALOG_DEADLINE_MS, else the config's; always within 100 ms … 2 minutes. */
export function catalogDeadlineMs(env: NodeJS.ProcessEnv, configuredMs: number): number {
  return Math.min(Math.max(Number(env.AGENTPROV_CATALOG_DEADLINE_MS) || configuredMs, 100), 120_000);
}

/** `staleOk`: cached catalogs of any age are used as they are (AggregateOptions.staleOk). */
export async function gatherCatalog(deps: Deps, opts: { refresh: boolean; staleOk?: boolean }): Promise<Gathered> {
  const registry = await resolveRegistry(deps);
  const result = await aggregateCatalogs({
    entries: registry.entries,
    cacheRoot: deps.paths.cache,
    deadlineMs: catalogDeadlineMs(deps.env, registry.deadlineMs),
    refresh: opts.refresh,
    ...(opts.staleOk ? { staleOk: true } : {}),
    now: () => deps.clock.now().getTime(),
  });
  result.warnings.unshift(...registry.warnings);
  if (registry.entries.length === 0) {
    result.warnings.push('no providers are registered yet (only the built-in ones are listed)');
    return Object.assign(addBuiltins(result, deps.env), { nextSteps: [ADD_PROVIDER_HINT, 'agentprov init'] });
  }
  // Built-in providers are never fetched, so they do not count as answering: every registered provider failing is still exit 5.
  if (!result.anyAnswered) {
    throw new AgentprovError('PROVIDER_UNREACHABLE', `none of the ${registry.entries.length} providers answered`, {
      details: { providers: result.providers, warnings: result.warnings },
      nextSteps: ['agentprov providers list', 'agentprov catalog --refresh'],
    });
  }
  return Object.assign(addBuiltins(result, deps.env), { nextSteps: [] });
}

/**
 * The built-in providers no registered descriptor claims (providers/
 * builtin.ts), added without reading the cached services: to both views of
 * them, the parsed one (on first use) and the JSON text. Not to be spread (a
 * spread reads `services`): extend it with Object.assign.
 */
function addBuiltins(result: AggregateResult, env: NodeJS.ProcessEnv): AggregateResult {
  const builtins = unclaimedBuiltins(
    result.providers.map((p) => p.id),
    env,
  );
  if (builtins.length === 0) return lazy(result, result.providers, [], '');
  const added = builtins.flatMap((b) => b.services);
  return lazy(result, [...result.providers, ...builtins.map((b) => b.report)], added, JSON.stringify(added).slice(1, -1));
}

function lazy(result: AggregateResult, providers: ProviderReport[], added: readonly CatalogService[], addedJson: string): AggregateResult {
  let services: CatalogService[] | undefined;
  return {
    providers,
    warnings: result.warnings,
    anyAnswered: result.anyAnswered,
    get services() {
      return (services ??= added.length ? [...result.services, ...added] : result.services);
    },
    servicesJson: () => {
      const own = result.servicesJson();
      if (!addedJson) return own;
      return own === '[]' ? `[${addedJson}]` : `${own.slice(0, -1)},${addedJson}]`;
    },
    firstService: () => result.firstService() ?? added[0],
  };
}
