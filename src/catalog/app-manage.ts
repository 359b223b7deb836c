/**
 * `providers add <base-url> --protocol app`: check the APP provider answers
 * (its catalog, or the one shipped for it), refuse an id another provider
 * has, and remember it with `protocol: app` (and the user's CIMD URL).
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import { updateConfig } from '../config/settings.js';
import { isLoopbackHost } from '../util/loopback.js';
import { cimdUrlProblem } from '../wire/app.js';
import { aggregateCatalogs } from './aggregate.js';
import { catalogDeadlineMs, resolveRegistry } from './gather.js';
import { loadRegistry, normalizeAppBaseUrl, normalizeProviderUrl } from './registry.js';
import { removeCacheEntry } from './cache.js';

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** `shipped`: a named provider (NAMED_APP_PROVIDERS) registered from the catalog shipped for it, without contacting it. */
export async function addAppProvider(deps: Deps, input: string, opts: { id?: string; clientId?: string; shipped?: number }) {
  const url = normalizeAppBaseUrl(input);
  const host = new URL(url).hostname;
  const id = opts.id ?? host.split('.').filter((p) => !['www', 'api', 'us', 'eu', 'com', 'io'].includes(p))[0]?.toLowerCase().replace(/[^a-z0-9-]/g, '-') ?? '';
  if (!ID.test(id)) throw new AgentprovError('USAGE', `"${id.slice(0, 64)}" is not a provider id: give one with --id`, { nextSteps: [`agentprov providers add ${url} --protocol app --id <id>`] });
  if (opts.clientId) {
    const problem = cimdUrlProblem(opts.clientId, isLoopbackHost);
    if (problem) throw new AgentprovError('USAGE', `--client-id ${problem}`, { details: { field: 'client_id' } });
  }
  const registry = await loadRegistry({ paths: deps.paths, cwd: deps.cwd });
  const entry = { url, id, source: 'user' as const, protocol: 'app' as const, ...(opts.clientId ? { clientId: opts.clientId } : {}) };
  const result =
    opts.shipped !== undefined
      ? { anyAnswered: true, providers: [{ services: opts.shipped, error: undefined }], warnings: [`${id} was not contacted: registered with the catalog agentprov ships for it`] }
      : await aggregateCatalogs({
          entries: [entry],
          cacheRoot: deps.paths.cache,
          deadlineMs: catalogDeadlineMs(deps.env, registry.config.catalog_deadline_ms),
          refresh: true,
          now: () => deps.clock.now().getTime(),
        });
  const report = result.providers[0]!;
  if (!result.anyAnswered) {
    throw new AgentprovError('PROVIDER_UNREACHABLE', `APP provider at ${url} failed: ${report.error ?? 'no answer'}`, { details: { url, provider: id, error: report.error ?? null } });
  }
  const added = await updateConfig(deps.paths.config, (config) => {
    const taken = config.providers.find((p) => p.id === id && safe(p.url, p.protocol) !== url);
    if (taken) throw new AgentprovError('USAGE', `provider id "${id}" is already taken by ${taken.url}`, { details: { reason: 'PROVIDER_ID_COLLISION', id } });
    const existing = config.providers.find((p) => safe(p.url, p.protocol) === url);
    if (existing) Object.assign(existing, { id, protocol: 'app', ...(opts.clientId ? { client_id: opts.clientId } : {}) });
    else config.providers.push({ id, url, source: 'user', protocol: 'app', ...(opts.clientId ? { client_id: opts.clientId } : {}) });
    return !existing;
  }).catch((err: unknown) => {
    removeCacheEntry(deps.paths.cache, url);
    throw err;
  });
  await resolveRegistry(deps);
  return {
    data: { provider: { id, name: id, url, source: 'user', protocol: 'app', services: report.services, ...(opts.clientId ? { client_id: opts.clientId } : {}) }, added },
    warnings: result.warnings,
    nextSteps: [`agentprov catalog ${id}`],
    human: `${added ? 'added' : 'already known:'} ${id} (APP 0.1d) with ${report.services} services\n  ${url}`,
    bare: id,
  };
}

function safe(url: string, protocol: string | undefined): string {
  try {
    return protocol === 'app' ? normalizeAppBaseUrl(url) : normalizeProviderUrl(url);
  } catch {
    return url;
  }
}
