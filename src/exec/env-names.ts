/**
 * The names `run` injects, computed once for `run` and `env` alike, so the
 * two can never disagree: the plan's catalog bindings (plan.ts), then each
 * resource's credential members the catalog does not name (APP: every
 * access_configuration member, `Provider.credentialEnv`), under the
 * provider's name, prefixed with the resource's name when that name is
 * taken. A name bound twice is injected once (the later binding wins).
 */
import type { Deps } from '../core/deps.js';
import { isAgentprovError } from '../core/errors.js';
import type { Gathered } from '../catalog/gather.js';
import type { Provider } from '../providers/provider.js';
import { loadManifest, manifestPathFor } from '../project/manifest.js';
import { sanitizeLine } from '../util/sanitize.js';
import { prefixed } from './env.js';
import type { EnvBinding, RunPlan } from './plan.js';

/** One injected variable: a catalog binding, or (`member` set) a credential member of the resource. */
export interface EnvSlot extends EnvBinding {
  member?: string;
}

/** A resource's credential members by name only (values are not needed to name them). */
export type MemberNames = ReadonlyMap<string, ReadonlyArray<{ member: string; name: string }>>;

export function envLayout(plan: RunPlan, members: MemberNames): EnvSlot[] {
  const slots = new Map<string, EnvSlot>();
  for (const b of plan.bindings) {
    slots.delete(b.name);
    slots.set(b.name, b);
  }
  for (const r of plan.resources) {
    for (const m of members.get(r.name) ?? []) {
      if (plan.bindings.some((b) => b.resource === r.name && b.source === `resource.${m.member}`)) continue;
      const name = slots.has(m.name) ? prefixed(r.name, m.name) : m.name;
      if (slots.has(name)) continue;
      slots.set(name, { name, provider: r.provider, resource: r.name, source: `resource.${m.member}`, member: m.member });
    }
  }
  return [...slots.values()];
}

/** How long the credential behind a variable lives; `none` when the value is not a credential (a URL, an account id). */
export type CredentialKind = 'short-lived' | 'long-lived' | 'none' | 'unknown';

export interface EnvVariable {
  name: string;
  resource: string | null;
  provider: string;
  source: string;
  credential: CredentialKind;
}

export interface EnvReport {
  variables: EnvVariable[];
  resources: string[];
  warnings: string[];
}

/**
 * `agentprov env`: the names `run --resource <each>` injects, from the
 * cached catalog and the vault (no mint, no provision read). `names` empty:
 * every provisioned resource of the manifest.
 */
export async function describeEnv(deps: Deps, names: string[]): Promise<EnvReport> {
  const [{ gatherCatalog }, { openProvider }, { planRun }] = await Promise.all([import('../catalog/gather.js'), import('../provision/providers.js'), import('./plan.js')]);
  const warnings: string[] = [];
  let wanted = names;
  if (wanted.length === 0) {
    const all = (await loadManifest(manifestPathFor(deps))).resources;
    for (const r of all.filter((x) => !x.id)) warnings.push(`${r.name} is not provisioned yet: run would refuse it (agentprov up)`);
    wanted = all.filter((r) => r.id).map((r) => r.name);
  }
  const gathered: Gathered = await gatherCatalog(deps, { refresh: false, staleOk: true });
  const plan = await planRun(deps, gathered, wanted, []);
  const providers = new Map<string, Provider | undefined>();
  for (const id of new Set(plan.resources.map((r) => r.provider))) {
    try {
      providers.set(id, await openProvider(deps, id, gathered));
    } catch (err) {
      providers.set(id, undefined);
      warnings.push(`${id} could not be opened (${isAgentprovError(err) ? err.code : 'error'}): names of credentials it keeps beyond its catalog, and their lifetime, are unknown`);
    }
  }
  const members = new Map<string, Array<{ member: string; name: string }>>();
  for (const r of plan.resources) {
    const p = providers.get(r.provider);
    const held = (await p?.credentialEnv?.(r.id!)) ?? [];
    for (const m of held) deps.io.redactor.add(m.value);
    members.set(r.name, held.map((m) => ({ member: m.member, name: m.name })));
  }
  const variables = envLayout(plan, members).map((s): EnvVariable => {
    const p = providers.get(s.provider);
    const longLived = p?.credentialLifetime === 'long-lived';
    const credential: CredentialKind =
      s.member !== undefined ? 'long-lived'
      : s.source === 'access_token' ? (p ? (longLived ? 'long-lived' : 'short-lived') : 'unknown')
      : s.source.startsWith('resource.') ? (p ? (longLived ? 'long-lived' : 'none') : 'unknown')
      : 'none';
    return { name: s.name, resource: s.resource ?? null, provider: s.provider, source: sanitizeLine(s.source).slice(0, 128), credential };
  });
  return { variables: variables.sort((a, b) => a.name.localeCompare(b.name)), resources: plan.resources.map((r) => r.name), warnings };
}
