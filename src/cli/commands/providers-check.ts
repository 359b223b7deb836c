/**
 * `agentprov providers check <url>`: the conformance checker
 * (src/conformance/), run as an orchestrator would against a provider of
 * either protocol. One line per check (id, level, outcome, detail); under
 * --json `data.checks[]` and `data.summary`. Exit 0 when no MUST failed,
 * else 5. The Stripe signing secret comes from standard input only.
 */
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';
import { AgentprovError } from '../../core/errors.js';
import { agentprovSuite } from '../../conformance/agentprov/index.js';
import { appSuite, defaultStripeBase } from '../../conformance/app/index.js';
import { ConformanceHttp } from '../../conformance/http.js';
import { DEFAULT_ISSUER_PORT } from '../../conformance/issuer.js';
import { orchestratorRail } from '../../conformance/rail.js';
import { runConformance, type ConformanceReport } from '../../conformance/run.js';
import type { Protocol } from '../../conformance/types.js';
import { readSecretFromStdin } from '../stdin.js';

const EXIT_NONCONFORMANT = 5;

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const url = parseUrl(args[0]);
  const protocol = parseProtocol(opts.protocol);
  const issuerPort = opts.issuerPort === undefined ? DEFAULT_ISSUER_PORT : Number(opts.issuerPort);
  if (!Number.isInteger(issuerPort) || issuerPort < 0 || issuerPort > 65_535) throw new AgentprovError('USAGE', '--issuer-port must be a port number (0: any free port)');
  const redactor = deps.io.redactor;
  const http = new ConformanceHttp(redactor);
  const warnings: string[] = [];

  let stripe: { secret: string; base: string } | undefined;
  if (opts.stripeSigningSecretStdin) {
    if (protocol === 'agentprov') throw new AgentprovError('USAGE', '--stripe-signing-secret-stdin is for APP providers (--protocol app)');
    const secret = await readSecretFromStdin(deps.io, 'Stripe signing secret', {
      maxBytes: 1024,
      deadlineMs: 10_000,
      nextSteps: ['printf %s "$SECRET_FROM_YOUR_VAULT" | agentprov providers check <url> --protocol app --stripe-signing-secret-stdin'],
    });
    redactor.add(secret);
    stripe = { secret, base: typeof opts.stripeUrl === 'string' ? parseUrl(opts.stripeUrl) : defaultStripeBase(url) };
  }
  const { rail, why } = opts.allowPaid ? await orchestratorRail(deps, http) : {};
  if (opts.allowPaid && !rail) warnings.push(`payment checks will be skipped: ${why ?? 'no payment rail'}`);

  const report = await runConformance({
    url,
    ...(protocol ? { protocol } : {}),
    suites: [agentprovSuite, appSuite],
    redactor,
    allowPaid: Boolean(opts.allowPaid),
    issuerPort,
    http,
    ...(rail ? { rail } : {}),
    ...(stripe ? { stripe } : {}),
  });
  return {
    data: report,
    warnings,
    nextSteps: report.summary.conformant ? [] : ['fix the failed MUST checks (docs/protocol.md names each id) and run the check again'],
    human: render(report),
    bare: render(report),
    ...(report.summary.conformant ? {} : { exitCode: EXIT_NONCONFORMANT }),
  };
}

function render(r: ConformanceReport): string {
  const width = Math.max(...r.checks.map((c) => c.id.length));
  const lines = r.checks.map((c) => `${c.status.toUpperCase().padEnd(4)}  ${c.level.padEnd(6)}  ${c.id.padEnd(width)}  ${c.detail}`);
  const s = r.summary;
  lines.push(
    '',
    `${r.protocol} provider at ${r.url} (checker issuer ${r.issuer}): ${s.passed} passed, ${s.failed} failed (${s.must_failed} MUST), ${s.skipped} skipped of ${s.total}: ${verdict(r)}`,
  );
  return lines.join('\n');
}

function verdict({ summary: s }: ConformanceReport): string {
  if (!s.conformant) return 'NOT conformant (a MUST failed)';
  if (s.failed === 0 && s.skipped === 0) return 'every check passed';
  return `no MUST failed${s.skipped ? `; ${s.skipped} skipped, so not verified` : ''}`;
}

function parseUrl(raw: unknown): string {
  try {
    const u = new URL(String(raw));
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch {
    // fall through
  }
  throw new AgentprovError('USAGE', `expected the provider's URL (https, or http on loopback), not "${String(raw)}"`, { nextSteps: ['agentprov providers check https://provider.example'] });
}

function parseProtocol(raw: unknown): Protocol | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'agentprov' || raw === 'app') return raw;
  throw new AgentprovError('USAGE', `--protocol must be agentprov or app, not "${String(raw)}"`);
}
