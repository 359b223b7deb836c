/**
 * `agentprov run`: mint one short-lived credential per provider in play,
 * inject it (and the resources' attributes) under the catalog's env names,
 * run the command, then revoke every credential — on every path — and
 * write one audit record for the invocation.
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import type { CredentialMember, Provider, ShortLivedCredential } from '../providers/provider.js';
import { startChild, type ChildOutcome } from './child.js';
import { childCredential, revokeWithRetry, type RevokeOutcome } from './credentials.js';
import { childEnv, RUN_MARKER } from './env.js';
import { envLayout } from './env-names.js';
import type { RunPlan } from './plan.js';

export interface RunRequest {
  command: string;
  args: string[];
  resources: string[];
  providers: string[];
  ttlSeconds: number;
  nested: boolean;
}

export interface MintedCredential {
  provider: string;
  credential: ShortLivedCredential;
  revocation?: RevokeOutcome;
}

export interface RunOutcome {
  child: ChildOutcome;
  plan: RunPlan;
  minted: MintedCredential[];
  injected: string[];
  warnings: string[];
}

export function refuseNested(env: NodeJS.ProcessEnv, nested: boolean): void {
  if (env[RUN_MARKER] && !nested) {
    throw new AgentprovError('NESTED_RUN', 'this is already inside `agentprov run`; a nested run would mint credentials from inside a wrapped command', {
      details: { depth: Number(env[RUN_MARKER]) || 1 },
      nextSteps: ['pass --nested if this is intended'],
    });
  }
}

export async function executeRun(deps: Deps, req: RunRequest): Promise<RunOutcome> {
  const [{ gatherCatalog }, { openProvider }, { planRun }, { getSession }, { appendAudit }] = await Promise.all([
    import('../catalog/gather.js'),
    import('../provision/providers.js'),
    import('./plan.js'),
    import('../auth/session.js'),
    import('../audit/log.js'),
  ]);
  await getSession(deps); // the human must still be signed in (NOT_SIGNED_IN, exit 3)
  // Only env mappings and provider URLs are read: a stale cached catalog serves, so a warm run sends only its mint and revoke.
  const gathered = await gatherCatalog(deps, { refresh: false, staleOk: true });
  const plan = await planRun(deps, gathered, req.resources, req.providers);
  const warnings: string[] = [];
  const minted: MintedCredential[] = [];
  const open = new Map<string, Provider>();
  const providerFor = async (id: string): Promise<Provider> => {
    let p = open.get(id);
    if (!p) open.set(id, (p = await openProvider(deps, id, gathered)));
    return p;
  };

  let child: ChildOutcome | undefined;
  let failure: unknown;
  let done = (): void => {};
  const injected: Record<string, string> = {};
  try {
    for (const [id, scopes] of plan.providers) {
      const credential = await childCredential(await providerFor(id), req.ttlSeconds, scopes);
      deps.io.redactor.add(credential.token);
      minted.push({ provider: id, credential });
      // Said once per invocation (in warnings), and audited as long_lived.
      if (!credential.shortLived) warnings.push(`${id} has only a long-lived key: it is injected as is and stays valid after the command ends`);
    }
    const attributes = new Map<string, Record<string, unknown>>();
    for (const r of plan.resources) {
      if (plan.bindings.some((b) => b.resource === r.name && b.source.startsWith('resource.'))) {
        attributes.set(r.name, (await (await providerFor(r.provider)).get(r.id!, r.name)).resource);
      }
    }
    // Credential members the catalog does not name (APP: every access_configuration member), under the provider's names.
    const members: string[] = [];
    const held = new Map<string, CredentialMember[]>();
    for (const r of plan.resources) {
      const list = (await (await providerFor(r.provider)).credentialEnv?.(r.id!)) ?? [];
      for (const m of list) {
        deps.io.redactor.add(m.value);
        members.push(m.value);
      }
      held.set(r.name, list);
    }
    // The names come from the one function `env` uses too (env-names.ts); only the values are found here.
    const accounts = new Map<string, string>();
    for (const b of envLayout(plan, held)) {
      let value: string | undefined;
      if (b.member !== undefined) {
        value = held.get(b.resource ?? '')?.find((m) => m.member === b.member)?.value;
        plan.strip.add(b.name);
      } else if (b.source === 'access_token') value = minted.find((m) => m.provider === b.provider)?.credential.token;
      else if (b.source === 'account_id') {
        if (!accounts.has(b.provider)) {
          const a = await (await providerFor(b.provider)).authorize({ acceptTerms: false, interactive: false });
          accounts.set(b.provider, a.accountId);
        }
        value = accounts.get(b.provider);
      } else {
        const v = attributes.get(b.resource ?? '')?.[b.source.slice('resource.'.length)];
        value = v === undefined || v === null ? undefined : String(v);
      }
      if (value === undefined) {
        warnings.push(`${b.name}: ${b.provider}${b.resource ? ` (${b.resource})` : ''} gave no ${b.source}; not set`);
        continue;
      }
      injected[b.name] = value;
    }
    const env = childEnv(deps.env, plan.strip, injected);
    const handle = startChild(
      deps,
      req.command,
      req.args,
      env,
      [...minted.map((m) => m.credential.token), ...members],
      { json: deps.globals.json },
    );
    done = handle.done;
    child = await handle.outcome;
  } catch (err) {
    failure = err;
  } finally {
    for (const m of minted) {
      m.revocation = await revokeWithRetry(open.get(m.provider)!, m.credential);
      if (m.credential.shortLived && !m.revocation.revoked) {
        const why = m.revocation.error ? `${m.revocation.error.code}: ${m.revocation.error.message}` : 'unknown';
        warnings.push(`the credential ${m.credential.id ?? ''} of ${m.provider} was NOT revoked after ${m.revocation.attempts} attempts (${why}); it expires at ${m.credential.expiresAt.toISOString()}`);
      }
    }
    const longLived = minted.some((m) => !m.credential.shortLived);
    const failedRevocations = minted.filter((m) => m.credential.shortLived && !m.revocation?.revoked);
    try {
      await appendAudit(deps, {
        command: 'run',
        ...(plan.providers.size ? { provider: [...plan.providers.keys()].join(',') } : {}),
        ...(plan.resources.length ? { resource: plan.resources.map((r) => r.name).join(',') } : {}),
        decision: failure ? 'failed' : 'ran',
        details: {
          child_command: req.command.slice(0, 256),
          child_args: req.args.length,
          child_pid: child?.pid ?? null,
          exit_code: child?.exitCode ?? null,
          signal: child?.signal ?? null,
          credential_ids: minted.map((m) => `${m.provider}:${m.credential.id ?? 'unknown'}`).join(',') || null,
          ttl_seconds: req.ttlSeconds,
          long_lived: longLived,
          revoked: minted.filter((m) => m.revocation?.revoked).length,
          revoke_failed: failedRevocations.map((m) => `${m.provider}:${m.credential.id ?? 'unknown'}`).join(',') || null,
          error: failure ? String((failure as { code?: string }).code ?? 'INTERNAL') : null,
        },
      });
    } catch (err) {
      warnings.push(`the audit record of this run was not written: ${(err as Error).message}`);
    }
    done();
  }
  if (failure) {
    // The error envelope has no warnings: a credential left valid is said on stderr too, never silently.
    for (const w of warnings) if (w.includes('NOT revoked')) deps.io.err(`warning: ${w}\n`);
    failure = await (await import('./way-back.js')).withWayBack(deps, failure);
    if (failure instanceof AgentprovError && warnings.length) {
      throw new AgentprovError(failure.code, failure.message, { details: { ...failure.details, warnings }, nextSteps: failure.nextSteps, cause: failure.cause });
    }
    throw failure;
  }
  return { child: child!, plan, minted, injected: Object.keys(injected).sort(), warnings };
}
