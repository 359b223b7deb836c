/**
 * `agentprov list`: the resources of this project (agentprov.json) and their
 * status, refreshed from each provider. `--no-refresh` shows the manifest's
 * last known status without the network.
 */
import { listResources } from '../../provision/refresh.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';
import { sanitizeLine } from '../../util/sanitize.js';

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const listing = await listResources(deps, { refresh: opts.refresh !== false });
  const { warnings, ...data } = listing;
  const rows = listing.resources.map((r) => [r.name, `${r.provider}/${r.service}`, r.id ?? '-', r.status + (r.refreshed || !r.id ? '' : ' (not refreshed)')]);
  const human = rows.length
    ? [['NAME', 'SERVICE', 'ID', 'STATUS'], ...rows].map((cols) => cols.map((c) => sanitizeLine(c)).join('  ')).join('\n')
    : `no resources in ${listing.manifest}`;
  const extra = listing.unfinished.map((u) => `unfinished add: ${u.name} (${u.provider}/${u.service}, ${u.state}); re-run it or agentprov up`);
  return {
    data,
    warnings,
    nextSteps: listing.unfinished.length ? ['agentprov up'] : listing.resources.length ? [] : ['agentprov catalog', 'agentprov add <provider>/<service>'],
    human: [human, ...extra].join('\n'),
    bare: listing.resources.map((r) => [r.name, `${r.provider}/${r.service}`, r.id ?? '', r.status].join('\t')).join('\n'),
  };
}
