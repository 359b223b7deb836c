/**
 * What the add flow (src/provision/add.ts) is asked and what it answers,
 * apart from the flow itself, so that the modules it calls can name them
 * without importing add.ts (the layering check allows no import cycle).
 */
import { AgentprovError } from '../core/errors.js';
import type { CatalogService } from '../catalog/service.js';
import type { Authorization } from '../providers/provider.js';
import type { PaymentOptions } from '../payment/paid.js';

export interface AddRequest {
  command: 'add' | 'up';
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

/** Same error with our next steps first (resuming needs this exact command). */
export function withNextSteps(err: AgentprovError, steps: string[]): AgentprovError {
  return new AgentprovError(err.code, err.message, { details: err.details, nextSteps: [...steps, ...err.nextSteps.filter((s) => !steps.includes(s))], cause: err });
}
