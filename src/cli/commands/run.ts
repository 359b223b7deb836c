/**
 * `agentprov run [--resource R ...] [--provider P ...] [--ttl D] [--nested] -- <command> [args...]`:
 * the command runs with short-lived credentials of the named resources and
 * providers in its environment (under the catalog's env names), its output
 * masked when piped, its signals forwarded; the credentials are revoked
 * when it ends, and agentprov exits with its exit code.
 */
import type { Deps } from '../deps.js';
import { AgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';
import { parseTtl } from '../../util/duration.js';
import { executeRun, refuseNested } from '../../exec/run.js';

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  // `agentprov run localcloud -- cmd`: operands before `--` name targets (a resource
  // or a provider), everything after it is the command. Without `--`, all is the command.
  const dashDash = deps.argv.indexOf('--');
  const commandLength = dashDash === -1 ? args.length : deps.argv.length - dashDash - 1;
  const targets = args.slice(0, Math.max(0, args.length - commandLength));
  const [command, ...rest] = args.slice(targets.length);
  if (!command) throw new AgentprovError('USAGE', 'name the command to run after --', { nextSteps: ['agentprov run --resource <name> -- <command> [args...]'] });
  const resources = list(opts.resource);
  const providers = list(opts.provider);
  if (targets.length) {
    const { resourceNames } = await import('../../exec/targets.js');
    const known = await resourceNames(deps);
    for (const t of targets) (known.includes(t) ? resources : providers).push(t);
  }
  if (!resources.length && !providers.length) {
    throw new AgentprovError('USAGE', 'name at least one --resource or --provider whose credentials the command gets', {
      nextSteps: ['agentprov list', 'agentprov run --resource <name> -- <command> [args...]'],
    });
  }
  const ttlSeconds = parseTtl(opts.ttl);
  refuseNested(deps.env, Boolean(opts.nested));

  const r = await executeRun(deps, { command, args: rest, resources, providers, ttlSeconds, nested: Boolean(opts.nested) });
  return {
    data: {
      exit_code: r.child.exitCode,
      signal: r.child.signal,
      pid: r.child.pid ?? null,
      providers: [...r.plan.providers.keys()],
      resources: r.plan.resources.map((x) => x.name),
      env: r.injected,
      ttl_seconds: ttlSeconds,
      credentials: r.minted.map((m) => ({
        provider: m.provider,
        id: m.credential.id ?? null,
        expires_at: m.credential.expiresAt.toISOString(),
        long_lived: !m.credential.shortLived,
        revoked: m.revocation?.revoked ?? false,
      })),
    },
    warnings: r.warnings,
    // Without --json agentprov prints nothing of its own on stdout: it belongs to the command.
    human: '',
    exitCode: r.child.exitCode,
  };
}
