/**
 * `agentprov providers list`: every known provider and where it came from
 * (orchestrator, user, manifest), with what the cache knows about it, and
 * the built-in ones (Cloudflare) with whether a human linked an account.
 * No network; the vault is read only for the built-in providers' links.
 */
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';
import { knownProviders } from '../../catalog/manage.js';
import { unclaimedBuiltins } from '../../catalog/builtin/index.js';
import { builtinLink, type BuiltinLink } from '../../providers/builtin.js';
import { truncate } from '../../util/sanitize.js';

export async function run(deps: Deps): Promise<CommandResult> {
  const { providers, warnings } = await knownProviders(deps.paths, deps.cwd);
  const rows: Array<{ id: string | null; name: string | null; url: string; source: string; services: number | null; cached_at: string | null; version?: string; linked?: BuiltinLink | null }> = providers.map((p) => ({
    id: p.knownId,
    name: p.name,
    url: p.url,
    source: p.source,
    services: p.services,
    cached_at: p.cached_at,
  }));
  const warns = [...warnings];
  for (const b of unclaimedBuiltins(providers.map((p) => p.knownId), deps.env)) {
    let linked: BuiltinLink | null = null;
    try {
      linked = await builtinLink(deps, b.id);
    } catch (err) {
      warns.push(`could not read the ${b.id} link from the vault: ${(err as Error).message}`);
    }
    rows.push({ id: b.id, name: b.name, url: b.report.url, source: 'builtin', services: b.services.length, cached_at: null, version: b.version, linked });
  }
  const idWidth = Math.max(2, ...rows.map((r) => (r.id ?? '?').length));
  const where = (r: (typeof rows)[number]): string =>
    r.source !== 'builtin' ? r.url : r.linked ? `linked to ${r.linked.account_name || r.linked.account_id} (${r.linked.account_id})` : `not linked: agentprov providers link ${r.id ?? ''}`;
  const table = rows.map((r) => truncate(`${(r.id ?? '?').padEnd(idWidth)}  ${r.source.padEnd(12)}  ${where(r)}`, Math.max(40, deps.io.columns)));
  return {
    data: { providers: rows },
    warnings: warns,
    nextSteps: rows.some((r) => r.source !== 'builtin') ? [] : ['agentprov providers add <descriptor-url>'],
    human: rows.length ? [`${'ID'.padEnd(idWidth)}  ${'SOURCE'.padEnd(12)}  URL / LINK`, ...table].join('\n') : 'no providers',
    bare: rows.map((r) => [r.id ?? '', r.source, r.url].join('\t')).join('\n'),
  };
}
