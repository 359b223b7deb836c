/**
 * One add on its way through the steps of src/provision/add.ts: what was
 * asked (AddRequest), its journal entry as last written (journal.ts), and
 * what the run has to say (warnings, audit lines). Each step in
 * src/provision/steps/ reads the attempt and moves it on; none of them
 * calls back into add.ts.
 */
import type { AuditRecord } from '../audit/log.js';
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import type { CatalogService } from '../catalog/service.js';
import type { Authorization } from '../providers/provider.js';
import type { PaymentOptions } from '../payment/paid.js';
import { audit } from './audit.js';
import { advanceJournal, type JournalEntry } from './journal.js';

export interface AddRequest {
  command: 'add' | 'up' | 'update';
  service: CatalogService;
  name: string;
  config: Record<string, unknown>;
  manifestPath: string;
  acceptTos: boolean;
  /** `--complete`: finish a consent started earlier, waiting up to this long. */
  completeWaitSeconds?: number;
  /** Bound for polling a 202, seconds. */
  waitSeconds: number;
  /** The command that resumes this add (for next_steps). */
  resume: string;
  /** Paid services: the human's yes and the price limit (README "Money"). Without it a paid service needs a prompt. */
  payment?: PaymentOptions;
}

export interface AddOutcome {
  name: string;
  provider: string;
  service: string;
  id: string;
  status: string;
  created_at: string;
  /** Env var names `agentprov run` will provide (names only, never values). */
  env: string[];
  /** Nothing was sent: the manifest and journal say it is already provisioned. */
  already_provisioned: boolean;
  /** An earlier interrupted attempt was continued with its Idempotency-Key. */
  resumed: boolean;
  authorization: { via: Authorization['via']; account_created: boolean } | null;
  manifest: string;
  /** What the provider charged (paid services), never the payment token. */
  charge?: { amount: number; currency: string; interval?: string };
  warnings: string[];
}

/** An audit line about this add: command, provider and resource are filled in. */
export type AddAudit = (record: Omit<AuditRecord, 'command'>) => Promise<void>;

export interface Attempt {
  readonly req: AddRequest;
  /** The journal slot of (manifest, provider, service, name). */
  readonly slot: string;
  /** The journal entry as last written (before the price is approved: as it is about to be written). */
  entry: JournalEntry;
  /** An unfinished entry was found: an earlier run's ledger hold is adopted. */
  readonly continued: boolean;
  /** That entry's request had been sent: the outcome says `resumed`. */
  readonly resumed: boolean;
  readonly warnings: string[];
  readonly audit: AddAudit;
}

export function newAttempt(deps: Deps, req: AddRequest, fields: Pick<Attempt, 'slot' | 'entry' | 'continued' | 'resumed' | 'warnings'>): Attempt {
  const where = { command: req.command, provider: req.service.provider, resource: req.name };
  return { req, ...fields, audit: (r) => audit(deps, { ...where, ...r }, fields.warnings) };
}

/** Move the journal entry on; it is on disk before anything that depends on it happens. */
export async function advance(deps: Deps, attempt: Attempt, patch: Partial<Omit<JournalEntry, 'v' | 'slot'>>): Promise<void> {
  attempt.entry = await advanceJournal(deps.paths.state, attempt.entry, patch, deps.clock.now());
}

/** What `add` and `up` report of one resource. */
export function outcomeOf(req: AddRequest, warnings: string[], r: { id: string; status: string; created_at: string }, extra: Partial<AddOutcome>): AddOutcome {
  return {
    name: req.name,
    provider: req.service.provider,
    service: req.service.id,
    id: r.id,
    status: r.status,
    created_at: r.created_at,
    env: Object.keys(req.service.env),
    already_provisioned: false,
    resumed: false,
    authorization: null,
    manifest: req.manifestPath,
    warnings,
    ...extra,
  };
}

/** Same error with our next steps first (resuming needs this exact command). */
export function withNextSteps(err: AgentprovError, steps: string[]): AgentprovError {
  return new AgentprovError(err.code, err.message, { details: err.details, nextSteps: [...steps, ...err.nextSteps.filter((s) => !steps.includes(s))], cause: err });
}
