/**
 * Runs one suite against a provider the way an orchestrator would, and
 * returns every declared check with its outcome. The protocol is the one
 * asked for, or the first suite whose `detect` recognises the URL. What a
 * suite provisioned is removed at the end whatever happened; a provider that
 * does not answer at all is PROVIDER_UNREACHABLE (exit 5).
 */
import { AgentprovError } from '../core/errors.js';
import type { Redactor } from '../core/io.js';
import { FetchError } from '../http/fetch.js';
import { ConformanceHttp } from './http.js';
import { startCheckerIssuer } from './issuer.js';
import type { CheckResult, CheckSpec, PaymentRailPort, Protocol, Reporter, Suite, SuiteContext } from './types.js';

export interface ConformanceOptions {
  url: string;
  protocol?: Protocol;
  suites: readonly Suite[];
  redactor: Redactor;
  allowPaid: boolean;
  issuerPort: number;
  rail?: PaymentRailPort;
  stripe?: { secret: string; base: string };
  /** Injected for tests of the runner; default: the bounded client. */
  http?: ConformanceHttp;
}

export interface ConformanceSummary {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  /** Failed MUSTs: the run fails (exit 5) when this is not 0. */
  must_failed: number;
  should_failed: number;
  conformant: boolean;
}

export interface ConformanceReport {
  protocol: Protocol;
  url: string;
  issuer: string;
  checks: CheckResult[];
  summary: ConformanceSummary;
}

export async function runConformance(opts: ConformanceOptions): Promise<ConformanceReport> {
  const http = opts.http ?? new ConformanceHttp(opts.redactor);
  try {
    const suite = await chooseSuite(opts, http);
    const issuer = await startCheckerIssuer(opts.issuerPort);
    const recorder = new Recorder(suite.checks, http);
    const cleanups: Array<() => Promise<void>> = [];
    const ctx: SuiteContext = {
      url: opts.url,
      http,
      redactor: opts.redactor,
      issuer,
      allowPaid: opts.allowPaid,
      ...(opts.rail ? { rail: opts.rail } : {}),
      ...(opts.stripe ? { stripe: opts.stripe } : {}),
      report: recorder,
      onCleanup: (step) => void cleanups.push(step),
    };
    try {
      await suite.run(ctx);
    } finally {
      for (const step of cleanups.reverse()) await step().catch(() => undefined);
      await issuer.stop();
    }
    const checks = recorder.results();
    return { protocol: suite.protocol, url: opts.url, issuer: issuer.issuer, checks, summary: summarize(checks) };
  } finally {
    await http.close().catch(() => undefined);
  }
}

async function chooseSuite(opts: ConformanceOptions, http: ConformanceHttp): Promise<Suite> {
  const probe = { url: opts.url, http };
  try {
    if (opts.protocol) {
      const suite = opts.suites.find((s) => s.protocol === opts.protocol);
      if (!suite) throw new AgentprovError('USAGE', `--protocol must be one of ${opts.suites.map((s) => s.protocol).join(', ')}`);
      await suite.detect(probe); // reachability: an unreachable provider fails here, before anything else starts
      return suite;
    }
    for (const suite of opts.suites) if (await suite.detect(probe)) return suite;
  } catch (err) {
    if (err instanceof FetchError && (err.reason === 'network' || err.reason === 'timeout')) {
      throw new AgentprovError('PROVIDER_UNREACHABLE', `the provider at ${opts.url} did not answer: ${err.message}`, {
        details: { url: opts.url, reason: err.reason },
        nextSteps: ['check the URL and that the provider is running, then retry'],
      });
    }
    if (err instanceof FetchError) throw new AgentprovError('USAGE', `cannot check ${opts.url}: ${err.message}`, { details: { url: opts.url } });
    throw err;
  }
  throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `${opts.url} speaks neither protocol: no /.well-known/agent-provisioning and no APP provisioning/health`, {
    details: { url: opts.url },
    nextSteps: ['agentprov providers check <url> --protocol agentprov', 'agentprov providers check <app-base-url> --protocol app'],
  });
}

/** Collects outcomes in the order the checks are declared; the first outcome of a check wins. */
export class Recorder implements Reporter {
  readonly #outcomes = new Map<string, { status: CheckResult['status']; detail: string }>();

  constructor(
    readonly specs: readonly CheckSpec[],
    readonly http: Pick<ConformanceHttp, 'line'>,
  ) {}

  #set(id: string, status: CheckResult['status'], detail: string): void {
    if (!this.specs.some((s) => s.id === id)) throw new Error(`undeclared check ${id}`);
    if (!this.#outcomes.has(id)) this.#outcomes.set(id, { status, detail: this.http.line(detail) });
  }

  pass(id: string, detail: string): void {
    this.#set(id, 'pass', detail);
  }

  fail(id: string, detail: string): void {
    this.#set(id, 'fail', detail);
  }

  skip(id: string, reason: string): void {
    this.#set(id, 'skip', reason);
  }

  expect(id: string, ok: boolean, detail: string): boolean {
    this.#set(id, ok ? 'pass' : 'fail', detail);
    return ok;
  }

  done(id: string): boolean {
    return this.#outcomes.has(id);
  }

  results(): CheckResult[] {
    return this.specs.map((s) => {
      const o = this.#outcomes.get(s.id) ?? { status: 'skip' as const, detail: 'not reached: a check it depends on did not pass' };
      return { id: s.id, level: s.level, ok: o.status === 'pass', status: o.status, detail: o.detail };
    });
  }
}

export function summarize(checks: readonly CheckResult[]): ConformanceSummary {
  const count = (f: (c: CheckResult) => boolean): number => checks.filter(f).length;
  const mustFailed = count((c) => c.status === 'fail' && c.level === 'MUST');
  return {
    total: checks.length,
    passed: count((c) => c.status === 'pass'),
    failed: count((c) => c.status === 'fail'),
    skipped: count((c) => c.status === 'skip'),
    must_failed: mustFailed,
    should_failed: count((c) => c.status === 'fail' && c.level === 'SHOULD'),
    conformant: mustFailed === 0,
  };
}

/**
 * Run a group of checks; an exception (a provider that stopped answering, an
 * answer the checker cannot read) fails the group's first open check with
 * its message, and the group's other open checks are left "not reached".
 */
export async function guard(report: Reporter, ids: readonly string[], fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const open = ids.find((id) => !report.done(id));
    if (open) report.fail(open, `could not complete: ${(err as Error).message}`);
  }
}
