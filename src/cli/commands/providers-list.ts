/**
 * `agentprov providers list`: every known provider and where it came from
 * (orchestrator, user, manifest), with what the cache knows about it. No
 * network.
 */
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';
import { knownProviders } from '../../providers/manage.js';
import { truncate } from '../../util/sanitize.js';

export async function run(deps: Deps): Promise<CommandResult> {
  const { providers, warnings } = await knownProviders(deps.paths, deps.cwd);
  const rows = providers.map((p) => ({ id: p.knownId, name: p.name, url: p.url, source: p.source, services: p.services, cached_at: p.cached_at }));
  const idWidth = Math.max(2, ...rows.map((r) => (r.id ?? '?').length));
  const table = rows.map((r) => truncate(`${(r.id ?? '?').padEnd(idWidth)}  ${r.source.padEnd(12)}  ${r.url}`, Math.max(40, deps.io.columns)));
  return {
    data: { providers: rows },
    warnings,
    nextSteps: rows.length ? [] : ['agentprov providers add <descriptor-url>'],
    human: rows.length ? [`${'ID'.padEnd(idWidth)}  ${'SOURCE'.padEnd(12)}  URL`, ...table].join('\n') : 'no providers',
    bare: rows.map((r) => [r.id ?? '', r.source, r.url].join('\t')).join('\n'),
  };
}
