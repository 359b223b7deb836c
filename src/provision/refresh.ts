/**
 * `list` / `status`: the project's resources with their status refreshed
 * from each provider (one Provider per provider id, opened once). A provider
 * that cannot answer leaves the last known status, marked not refreshed,
 * with a warning: one provider's failure never hides another's resources.
 * Changed statuses are written back to the manifest.
 */
import type { Deps } from '../core/deps.js';
import { isAgentprovError } from '../core/errors.js';
import { gatherCatalog, type Gathered } from '../catalog/gather.js';
import type { Provider } from '../providers/provider.js';
import { sanitizeLine } from '../util/sanitize.js';
import { listJournal } from './journal.js';
import { findResource, loadManifest, manifestPathFor, updateManifest } from '../project/manifest.js';
import { openProvider } from './providers.js';

export interface ResourceView {
  name: string;
  provider: string;
  service: string;
  id: string | null;
  status: string;
  created_at: string | null;
  refreshed: boolean;
  env: string[];
  /** The provider's kind of credential for this resource; null when its provider was not opened (`--no-refresh`, not provisioned). */
  credential_lifetime: 'short-lived' | 'long-lived' | null;
  error?: { code: string; message: string };
}

export interface Listing {
  manifest: string;
  resources: ResourceView[];
  /** Adds started (journaled) but not finished: resume them with the same add or `up`. */
  unfinished: Array<{ name: string; provider: string; service: string; state: string }>;
  warnings: string[];
}

export async function listResources(deps: Deps, opts: { refresh: boolean }): Promise<Listing> {
  const path = manifestPathFor(deps);
  const manifest = await loadManifest(path);
  const warnings: string[] = [];
  let gathered: Gathered | undefined;
  // One gather for all resources: they are refreshed concurrently, so the promise is what is shared.
  let gathering: Promise<Gathered> | undefined;
  const providers = new Map<string, Promise<Provider>>();
  const providerFor = async (id: string): Promise<Provider> => {
    gathered = await (gathering ??= gatherCatalog(deps, { refresh: false }));
    let p = providers.get(id);
    if (!p) providers.set(id, (p = openProvider(deps, id, gathered)));
    return p;
  };

  const resources = await Promise.all(
    manifest.resources.map(async (r): Promise<ResourceView> => {
      const view: ResourceView = { name: r.name, provider: r.provider, service: r.service, id: r.id ?? null, status: r.status ?? 'not_provisioned', created_at: r.created_at ?? null, refreshed: false, env: [], credential_lifetime: null };
      if (!opts.refresh || !r.id) return view;
      try {
        const p = await providerFor(r.provider);
        view.credential_lifetime = p.credentialLifetime ?? 'short-lived';
        const current = await p.get(r.id, r.name);
        view.status = current.status;
        view.refreshed = true;
      } catch (err) {
        const code = isAgentprovError(err) ? err.code : 'INTERNAL';
        const message = sanitizeLine((err as Error)?.message ?? String(err)).slice(0, 300);
        view.error = { code, message };
        if (/NOT_FOUND/.test(code)) {
          view.status = 'missing';
          view.refreshed = true;
        } else warnings.push(`${r.name}: status not refreshed from ${r.provider} (${code}: ${message})`);
      }
      return view;
    }),
  );
  for (const v of resources) v.env = Object.keys(gathered?.services.find((s) => s.provider === v.provider && s.id === v.service)?.env ?? {});

  const changed = resources.filter((v) => v.refreshed && v.status !== (findResource(manifest, v.name)?.status ?? 'not_provisioned') && v.status !== 'missing');
  if (changed.length) {
    await updateManifest(deps, path, (m) => {
      for (const v of changed) {
        const r = findResource(m, v.name);
        if (r && r.id === v.id) r.status = v.status;
      }
    });
  }
  const unfinished = (await listJournal(deps.paths.state))
    .filter((e) => e.manifest === path && (e.state === 'sent' || e.state === 'pending') && !resources.some((r) => r.name === e.name && r.status === 'active'))
    .map((e) => ({ name: e.name, provider: e.provider, service: e.service, state: e.state }));
  return { manifest: path, resources, unfinished, warnings: [...(gathered?.warnings ?? []), ...warnings] };
}
