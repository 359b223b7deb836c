/**
 * The conformance checker's vocabulary: a check (id, MUST or SHOULD), its
 * outcome (pass, fail, or skip with the reason it could not run), and the
 * `Suite` each protocol implements: the checks it declares, and one `run`
 * that reports on them. A declared check a suite never reported on is
 * reported as skipped ("not reached"), never as passed.
 */
import type { Redactor } from '../core/io.js';
import type { ConformanceHttp } from './http.js';
import type { CheckerIssuer } from './issuer.js';

/** RFC 2119 levels: only a failed MUST fails the run. */
export type Level = 'MUST' | 'SHOULD';
export type Protocol = 'agentprov' | 'app';
export type Status = 'pass' | 'fail' | 'skip';

export interface CheckSpec {
  id: string;
  level: Level;
  /** One line: what the check proves (docs/protocol.md lists them). */
  title: string;
}

export interface CheckResult {
  id: string;
  level: Level;
  /** True only for a pass: a skipped check is not a pass. */
  ok: boolean;
  status: Status;
  /** What was sent and what came back, trimmed, secrets masked. */
  detail: string;
}

/** What a suite gets from the runner. */
export interface SuiteContext {
  /** The URL the user named (a descriptor URL or origin; for APP the base URL). */
  url: string;
  http: ConformanceHttp;
  redactor: Redactor;
  /** The checker's own orchestrator: a throwaway key, its JWKS and CIMD on loopback. */
  issuer: CheckerIssuer;
  allowPaid: boolean;
  /** A payment rail the provider redeems at, when the checker knows one (a signed-in orchestrator). */
  rail?: PaymentRailPort;
  /** APP only: Stripe's signing secret (read from stdin), and where the Stripe surface is. */
  stripe?: { secret: string; base: string };
  report: Reporter;
  /** Run at the end, in reverse order, whatever happened (removing what was provisioned). */
  onCleanup(step: () => Promise<void>): void;
}

export interface Reporter {
  pass(id: string, detail: string): void;
  fail(id: string, detail: string): void;
  skip(id: string, reason: string): void;
  /** pass when `ok`, else fail; returns `ok`. */
  expect(id: string, ok: boolean, detail: string): boolean;
  /** Whether `id` has an outcome already. */
  done(id: string): boolean;
}

/** Minting payment tokens at the orchestrator's rail, as the signed-in user. */
export interface PaymentRailPort {
  url: string;
  mint(req: { provider: string; service: string; max_amount: number; currency: string }): Promise<string>;
  /** The id of a provider the rail knows other than `provider`, if any (for a token bound elsewhere). */
  otherProvider(provider: string): Promise<string | undefined>;
}

export interface Suite {
  protocol: Protocol;
  checks: readonly CheckSpec[];
  /** Does the URL speak this protocol? (protocol detection, cheap and side-effect free) */
  detect(ctx: Pick<SuiteContext, 'url' | 'http'>): Promise<boolean>;
  run(ctx: SuiteContext): Promise<void>;
}
