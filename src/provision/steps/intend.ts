/**
 * Step 1 of an add, intend: find this add's journal slot (journal.ts) and
 * what the run goes on from, before anything is asked or sent.
 *
 * - The manifest has it active with the same config: done, nothing is sent
 *   (another config under that name: NAME_IN_USE).
 * - The slot holds an unfinished entry (`intended`, `sent`, `pending`): it
 *   is continued with its Idempotency-Key (docs/protocol.md §4.2), so the
 *   provider answers the provision it already made, never a second one.
 * - Otherwise a new entry with a fresh key; when the manifest knows a
 *   pending provision this machine has no journal for, one that only polls
 *   it (never a second POST).
 *
 * The entry is written once the price is approved, before the provider
 * hears of the add (src/provision/add.ts).
 */
import type { Deps } from '../../core/deps.js';
import { AgentprovError } from '../../core/errors.js';
import type { CatalogService } from '../../catalog/service.js';
import { findResource, loadManifest } from '../../project/manifest.js';
import { newAttempt, outcomeOf, type AddOutcome, type AddRequest, type Attempt } from '../attempt.js';
import { isUnfinished, journalSlot, newIdempotencyKey, readJournal, type JournalEntry } from '../journal.js';

/** Canonical text of a config for comparing (key order ignored). */
export function sameConfig(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

export function nameInUse(name: string, why: string, manifest: string): AgentprovError {
  return new AgentprovError('NAME_IN_USE', `the name "${name}" ${why}`, {
    details: { name, manifest },
    nextSteps: ['choose another --name', 'agentprov list'],
  });
}

/** Already provisioned (`done`), or the attempt to go on with. */
export type Intent = { done: AddOutcome } | { attempt: Attempt };

export async function intend(deps: Deps, req: AddRequest): Promise<Intent> {
  const warnings: string[] = [];
  const { service, name } = req;
  const slot = journalSlot(req.manifestPath, service.provider, service.id, name);
  const existing = findResource(await loadManifest(req.manifestPath), name);

  if (existing && (existing.provider !== service.provider || existing.service !== service.id)) {
    throw nameInUse(name, `already names ${existing.provider}/${existing.service} in ${req.manifestPath}`, req.manifestPath);
  }
  let entry = await readJournal(deps.paths.state, slot);
  if (existing?.id && existing.status === 'active') {
    if (!sameConfig(existing.config, req.config)) throw nameInUse(name, `is already provisioned with a different config in ${req.manifestPath}`, req.manifestPath);
    if (!entry || entry.state !== 'active') {
      // Manifest says active but this machine has no record of it: take it as provisioned (the key is unknown here).
      deps.debug(`${name}: active in the manifest`);
    }
    return { done: outcomeOf(req, warnings, { id: existing.id, status: 'active', created_at: existing.created_at ?? '' }, { already_provisioned: true }) };
  }

  // Resume an unfinished attempt, else start a new one (a fresh key) before anything is sent.
  const now = deps.clock.now();
  let resumed = false;
  const continued = Boolean(entry && isUnfinished(entry));
  if (entry && isUnfinished(entry)) {
    if (!sameConfig(entry.config, req.config)) {
      if (entry.state === 'intended') entry = { ...entry, config: req.config };
      else {
        throw nameInUse(name, `has an unfinished add with a different config (journal state ${entry.state}); re-run it with the same config to finish it`, req.manifestPath);
      }
    } else resumed = entry.state !== 'intended';
  } else {
    entry = {
      v: 1,
      // The manifest knows a pending provision this machine has no journal for: poll it, never POST again.
      ...(existing?.id && existing.status === 'pending' ? { state: 'pending' as const, provision_id: existing.id } : { state: 'intended' as const }),
      slot,
      manifest: req.manifestPath,
      provider: service.provider,
      service: service.id,
      name,
      config: req.config,
      idempotency_key: newIdempotencyKey(),
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
    };
  }
  return { attempt: newAttempt(deps, req, { slot, entry, continued, resumed, warnings }) };
}

/** A name for a new resource when --name is not given: an unfinished add of this service first (resume), else `<offering>`, `<offering>-2`, … free in the manifest. */
export async function defaultName(deps: Deps, manifestPath: string, service: CatalogService, unfinished: JournalEntry[]): Promise<string> {
  const mine = unfinished.find((e) => e.manifest === manifestPath && e.provider === service.provider && e.service === service.id && isUnfinished(e));
  if (mine) return mine.name;
  const manifest = await loadManifest(manifestPath);
  const taken = new Set(manifest.resources.map((r) => r.name));
  const base = (service.id.split(':')[1] ?? service.id).replace(/[^a-z0-9-]/g, '-').slice(0, 56) || 'resource';
  for (let i = 1; i < 1000; i++) {
    const candidate = i === 1 ? base : `${base}-${i}`;
    if (!taken.has(candidate)) return candidate;
  }
  throw new AgentprovError('USAGE', 'choose a name with --name');
}
