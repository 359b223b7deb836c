/**
 * `agentprov init [--orchestrator URL | --issuer URL --client-id ID]
 * [--device | --browser] [--no-browser] [--accept-tos] [--preflight]`:
 * find the orchestrator (its descriptor, or issuer + client id given
 * directly), save the non-secret settings, create `agentprov.json` here if
 * absent, and sign in. Safe to re-run: a valid session at the same issuer
 * is kept. `--preflight` lists every blocker and changes nothing.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { configuredIssuer, saveOrchestrator } from '../../auth/orchestrator-config.js';
import { describeSession, humanSession } from '../../auth/describe.js';
import { discoverIssuer, parseIssuerUrl } from '../../auth/issuer.js';
import { fetchOrchestratorDescriptor } from '../../auth/orchestrator.js';
import { readSession, sessionClaims } from '../../auth/store.js';
import { signIn } from '../../auth/signin.js';
import { emptyManifest, MANIFEST_FILE, writeManifest } from '../../project/manifest.js';
import { resolveRegistry } from '../../catalog/gather.js';
import type { Deps } from '../deps.js';
import { AgentprovError, isAgentprovError } from '../../core/errors.js';
import type { Blocker, CommandResult } from '../output.js';
import { DEFAULT_TIMEOUT_SECONDS, methodOption, secondsOption } from '../options.js';
import { writeGuidance } from '../guidance.js';

interface Target {
  orchestratorUrl?: string;
  issuer: string;
  clientId: string;
  paymentRail?: string;
  cloudflareClientId?: string;
  providers?: string[];
  vouched?: Record<string, string[]>;
}

async function resolveTarget(deps: Deps, opts: Record<string, unknown>): Promise<Target> {
  const orchestrator = typeof opts.orchestrator === 'string' ? opts.orchestrator : undefined;
  const issuer = typeof opts.issuer === 'string' ? opts.issuer : undefined;
  const clientId = typeof opts.clientId === 'string' ? opts.clientId : undefined;
  if (orchestrator && (issuer || clientId)) throw new AgentprovError('USAGE', 'use either --orchestrator or --issuer with --client-id, not both');
  if (orchestrator) {
    const { url, descriptor } = await fetchOrchestratorDescriptor(orchestrator);
    return { orchestratorUrl: url, issuer: descriptor.issuer, clientId: descriptor.client_id, paymentRail: descriptor.payment_rail,
      providers: descriptor.providers,
      ...(descriptor.cloudflare_client_id ? { cloudflareClientId: descriptor.cloudflare_client_id } : {}),
      ...(descriptor.provider_authorization_servers ? { vouched: descriptor.provider_authorization_servers } : {}),
    };
  }
  if (issuer || clientId) {
    if (!issuer || !clientId) throw new AgentprovError('USAGE', '--issuer and --client-id go together');
    parseIssuerUrl(issuer);
    return { issuer, clientId };
  }
  try {
    return await configuredIssuer(deps);
  } catch (err) {
    if (isAgentprovError(err) && err.code === 'NOT_SIGNED_IN') {
      throw new AgentprovError('USAGE', 'say where to sign in: --orchestrator <url>, or --issuer <url> --client-id <id>', {
        nextSteps: ['agentprov init --orchestrator <url>'],
      });
    }
    throw err;
  }
}

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  if (opts.preflight) return preflight(deps, opts);
  if (opts.skillsOnly) {
    const guidance = await writeGuidance(deps, opts);
    return { data: { guidance }, nextSteps: ['agentprov catalog --compact'], human: guidance.map((g) => `${g.status}: ${g.path}`).join('\n') };
  }
  const method = methodOption(opts);
  const timeoutSeconds = secondsOption(opts.timeout, '--timeout', DEFAULT_TIMEOUT_SECONDS);
  const target = await resolveTarget(deps, opts);
  // Prove the issuer works before anything is written (and sign in with what it published).
  const config = await discoverIssuer(target.issuer, target.clientId);
  await saveOrchestrator(deps, {
    issuer: target.issuer,
    clientId: target.clientId,
    ...(target.orchestratorUrl ? { url: target.orchestratorUrl } : {}),
    ...(target.paymentRail ? { paymentRail: target.paymentRail } : {}),
    ...(target.cloudflareClientId ? { cloudflareClientId: target.cloudflareClientId } : {}),
    ...(target.providers ? { providers: target.providers } : {}),
    ...(target.vouched ? { vouched: target.vouched } : {}),
  });
  const manifestPath = join(deps.cwd, MANIFEST_FILE);
  const manifestCreated = !existsSync(manifestPath);
  if (manifestCreated) await writeManifest(manifestPath, emptyManifest(target.orchestratorUrl), deps.io.redactor);
  // Before the sign-in, which an agent finishes later (exit 3): the skill says how.
  const guidance = await writeGuidance(deps, opts);
  await resolveRegistry(deps);

  const vault = await deps.vault();
  let session = await readSession(vault);
  const reused = Boolean(session && sameIssuer(sessionClaims(session).issuer, target.issuer));
  if (!session || !reused) {
    session = await signIn(deps, {
      issuer: target.issuer,
      clientId: target.clientId,
      config,
      ...(method ? { method } : {}),
      openBrowser: opts.openBrowser !== false,
      timeoutSeconds,
    });
  }
  const view = describeSession(session, vault);
  const data = {
    ...view,
    orchestrator: target.orchestratorUrl ?? null,
    payment_rail: target.paymentRail ?? null,
    providers: target.providers ?? [],
    manifest: manifestPath,
    manifest_created: manifestCreated,
    already_signed_in: reused,
    guidance,
  };
  return {
    data,
    nextSteps: ['agentprov catalog'],
    human: [humanSession(view), `  manifest     ${manifestPath}${manifestCreated ? ' (created)' : ''}`].join('\n'),
  };
}

function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/** Every blocker at once, each with a code and a remedy; writes nothing. */
async function preflight(deps: Deps, opts: Record<string, unknown>): Promise<CommandResult> {
  const blockers: Blocker[] = [];
  const asBlocker = (err: unknown, remedy: string): Blocker => {
    const e = isAgentprovError(err) ? err : new AgentprovError('INTERNAL', (err as Error)?.message ?? String(err));
    return { code: e.code, message: e.message, remedy: e.nextSteps[0] ?? remedy };
  };
  let target: Target | undefined;
  try {
    target = await resolveTarget(deps, opts);
    await discoverIssuer(target.issuer, target.clientId);
  } catch (err) {
    blockers.push(asBlocker(err, 'check the orchestrator / issuer URL'));
  }
  let signedIn = false;
  try {
    const vault = await deps.vault();
    await vault.probe();
    const session = await readSession(vault);
    signedIn = Boolean(session && (!target || sameIssuer(sessionClaims(session).issuer, target.issuer)));
    if (!signedIn) blockers.push({ code: 'NOT_SIGNED_IN', message: 'no session for this issuer in the vault', remedy: 'agentprov init (without --preflight) signs in' });
  } catch (err) {
    blockers.push(asBlocker(err, 'AGENTPROV_CREDENTIAL_STORE=file with AGENTPROV_VAULT_PASSPHRASE'));
  }
  return {
    data: { ready: blockers.length === 0, blockers, issuer: target?.issuer ?? null, signed_in: signedIn },
    nextSteps: blockers.map((b) => b.remedy),
    human: blockers.length === 0 ? 'ready: nothing blocks init' : ['blockers:', ...blockers.map((b) => `  [${b.code}] ${b.message}\n      → ${b.remedy}`)].join('\n'),
  };
}
