/**
 * The first steps of an update (src/provision/update.ts), before anything
 * is asked or sent:
 *
 * - allowed: the target must be in the current service's `allowed_updates`
 *   (its own id for a config change in place), else UPDATE_NOT_ALLOWED
 *   (exit 2) naming the allowed targets;
 * - intend: the update slot of this manifest entry (journal.ts
 *   `updateSlot`). An unfinished update to the same target and config is
 *   continued with its Idempotency-Key (the provider answers the change it
 *   already made: one change, one charge); an unfinished one to something
 *   else must be finished first; a resource already at the target with that
 *   config needs nothing; otherwise a fresh key.
 */
import type { Deps } from '../../core/deps.js';
import { AgentprovError } from '../../core/errors.js';
import type { CatalogService } from '../../catalog/service.js';
import type { ManifestResource } from '../../project/manifest.js';
import { newAttempt, type AddRequest, type Attempt } from '../attempt.js';
import { isUnfinished, newIdempotencyKey, readJournal, updateSlot, type JournalEntry } from '../journal.js';
import { sameConfig } from './intend.js';

/**
 * The services `current` may move to; UPDATE_NOT_ALLOWED (exit 2) when
 * `target` is not one of them. Asking for what the resource already is
 * (service and config) is allowed: nothing to do, or an interrupted update
 * that got that far to finish.
 */
export function checkAllowed(resource: ManifestResource, current: CatalogService | undefined, target: string, config: Record<string, unknown>): void {
  const allowed = current?.allowed_updates ?? [];
  if (allowed.includes(target) || (target === resource.service && sameConfig(config, resource.config))) return;
  const inPlace = target === resource.service;
  const where = allowed.length ? `it may move to: ${allowed.join(', ')}` : current ? 'its provider allows no update of it' : 'the catalog no longer lists it';
  throw new AgentprovError('UPDATE_NOT_ALLOWED', `${resource.name} (${resource.provider}/${resource.service}) cannot ${inPlace ? 'change its config in place' : `be updated to ${target}`}: ${where}`, {
    details: { name: resource.name, provider: resource.provider, service: resource.service, target, allowed_updates: allowed },
    nextSteps: allowed.length ? allowed.map((s) => `agentprov update ${resource.name} --service ${s}`) : [`agentprov catalog ${resource.provider}/${resource.service}`],
  });
}

/** Nothing to do (already there), or the attempt to go on with. */
export type UpdateIntent = { unchanged: true } | { attempt: Attempt };

export async function intendUpdate(deps: Deps, req: AddRequest, resource: ManifestResource): Promise<UpdateIntent> {
  const slot = updateSlot(req.manifestPath, resource.provider, resource.name);
  const entry = await readJournal(deps.paths.state, slot);
  const fields = { slot, warnings: [] as string[] };
  if (entry && isUnfinished(entry)) {
    const same = entry.service === req.service.id && sameConfig(entry.config, req.config) && entry.provision_id === resource.id;
    if (same) return { attempt: newAttempt(deps, req, { ...fields, entry, continued: true, resumed: entry.state !== 'intended' }) };
    if (entry.state !== 'intended') {
      throw new AgentprovError('UPDATE_IN_PROGRESS', `${resource.name} has an unfinished update to ${entry.service} (journal state ${entry.state}); finish it first by running it again`, {
        details: { name: resource.name, service: entry.service, state: entry.state },
        nextSteps: [`agentprov update ${resource.name} --service ${entry.service} --config '${JSON.stringify(entry.config).replace(/'/g, `'\\''`)}'`],
      });
    }
  }
  if (resource.service === req.service.id && sameConfig(resource.config, req.config)) return { unchanged: true };
  const now = deps.clock.now().toISOString();
  const fresh: JournalEntry = {
    v: 1,
    op: 'update',
    slot,
    manifest: req.manifestPath,
    provider: resource.provider,
    service: req.service.id,
    name: resource.name,
    config: req.config,
    idempotency_key: newIdempotencyKey(),
    state: 'intended',
    ...(resource.id ? { provision_id: resource.id } : {}),
    created_at: now,
    updated_at: now,
  };
  return { attempt: newAttempt(deps, req, { ...fields, entry: fresh, continued: false, resumed: false }) };
}
