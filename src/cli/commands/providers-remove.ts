/**
 * `agentprov providers remove <id|url>`: forget a provider from the config
 * (orchestrator or user) and drop its cached catalog. Providers listed in the
 * project manifest are changed in agentprov.json, not here.
 */
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';
import { resolveRegistry } from '../../catalog/gather.js';
import { removeProvider } from '../../catalog/manage.js';

export async function run(deps: Deps, args: string[]): Promise<CommandResult> {
  const removed = await removeProvider(deps.paths, deps.cwd, args[0] ?? '');
  await resolveRegistry(deps);
  const rows = removed.map((p) => ({ id: p.knownId, url: p.url, source: p.source }));
  return {
    data: { removed: rows },
    human: rows.map((r) => `removed ${r.id ?? '?'} (${r.source}) ${r.url}`).join('\n'),
    bare: rows.map((r) => r.url).join('\n'),
  };
}
