/**
 * Step 3 of an add, authorize at the provider (README "Provisioning"): a
 * grant already in the vault, the attested path, or device-flow consent;
 * which one is the provider's business (src/providers/provider.ts). Here:
 * the terms of service asked once on a terminal (or `--accept-tos`), the
 * resume commands of a consent still to finish, and the audit lines of an
 * accepted terms version and a granted consent.
 */
import { randomUUID } from 'node:crypto';
import type { Deps } from '../../core/deps.js';
import { isAgentprovError } from '../../core/errors.js';
import type { Authorization, Provider } from '../../providers/provider.js';
import { sanitizeLine } from '../../util/sanitize.js';
import { withNextSteps, type AddOutcome, type AddRequest, type Attempt } from '../attempt.js';
import { audit } from '../audit.js';

const AUTH_RESUMABLE = new Set(['CONSENT_REQUIRED', 'AUTHORIZATION_PENDING', 'AUTHORIZATION_TIMEOUT']);

/** Authorize, asking the human for the terms on a terminal when the provider needs them. */
export async function authorize(deps: Deps, provider: Provider, attempt: Attempt): Promise<NonNullable<AddOutcome['authorization']>> {
  return authorizeFor(deps, provider, attempt.req, attempt.warnings, attempt.entry.idempotency_key);
}

/**
 * An `add` of a resource already provisioned whose provider holds no grant
 * any more (`agentprov revoke`, or a grant the provider refused): authorize again, so the resource is usable
 * through `token`/`run` once more. Nothing else is sent. Null when a grant
 * is held (nothing asked, nothing sent).
 */
export async function reauthorize(deps: Deps, provider: Provider, req: AddRequest, warnings: string[]): Promise<AddOutcome['authorization']> {
  if (!provider.heldGrant || (await provider.heldGrant())?.authorizes) return null;
  return authorizeFor(deps, provider, req, warnings, randomUUID());
}

async function authorizeFor(deps: Deps, provider: Provider, req: AddRequest, warnings: string[], requestKey: string): Promise<NonNullable<AddOutcome['authorization']>> {
  const where = { command: req.command, provider: provider.id, resource: req.name };
  const interactive = deps.canPrompt();
  const base = { interactive, requestKey, ...(req.completeWaitSeconds !== undefined ? { completeWaitSeconds: req.completeWaitSeconds } : {}) };
  let auth: Authorization;
  try {
    auth = await provider.authorize({ ...base, acceptTerms: req.acceptTos });
  } catch (err) {
    if (!isAgentprovError(err)) throw err;
    if (err.code === 'TERMS_ACCEPTANCE_REQUIRED' && !req.acceptTos && interactive) {
      const url = typeof err.details.terms_url === 'string' ? sanitizeLine(err.details.terms_url) : undefined;
      const yes = await deps.prompter.confirm(`${provider.id} has no account for you yet. Accept its terms of service${url ? ` (${url})` : ''} and create one?`, false);
      if (!yes) {
        await audit(deps, { ...where, decision: 'terms_declined' }, warnings);
        throw err;
      }
      auth = await provider.authorize({ ...base, acceptTerms: true });
    } else if (err.code === 'TERMS_ACCEPTANCE_REQUIRED') {
      throw withNextSteps(err, [`${req.resume} --accept-tos`]);
    } else if (AUTH_RESUMABLE.has(err.code)) {
      throw withNextSteps(err, [`${req.resume} --complete --wait 120`]);
    } else {
      throw err;
    }
  }
  if (auth.termsVersion) await audit(deps, { ...where, decision: 'terms_accepted', details: { terms_version: auth.termsVersion, account_created: auth.accountCreated } }, warnings);
  if (auth.via === 'consent') await audit(deps, { ...where, decision: 'consent_granted', details: { account_created: auth.accountCreated } }, warnings);
  return { via: auth.via, account_created: auth.accountCreated };
}
