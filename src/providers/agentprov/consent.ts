/**
 * Consent at a provider: the RFC 8628 device flow at the provider's AS
 * (docs/protocol-auth.md), waited for on a TTY, stored and exited with
 * CONSENT_REQUIRED for an agent, resumed by `add … --complete`; and the
 * errors that tell the human or the agent what to do.
 */
import type * as oidc from 'openid-client';
import { deviceCodeExpired, pollDeviceAuthorization, startDeviceAuthorization } from '../../auth/device.js';
import { pendingDetails, pendingEntry, type PendingSignIn } from '../../auth/store.js';
import { AgentprovError } from '../../core/errors.js';
import { ProviderTokenResponseSchema } from '../../wire/provider-auth.js';
import type { Authorization } from '../provider.js';
import type { ClientContext } from './context.js';
import { invalidResponse, providerOAuthError } from './errors.js';
import { consentEntry } from './grant.js';
import { catalogServices } from './services.js';
import { saveGrant } from './tokens.js';

/** RFC 8628 at the provider's AS, for the resource scopes its catalog names. */
export async function startConsent(c: ClientContext, config: oidc.Configuration, interactive: boolean): Promise<Authorization> {
  const scope = await consentScope(c);
  let pending: PendingSignIn;
  try {
    pending = await startDeviceAuthorization(config, c.now(), scope, { resource: c.ref.descriptor.resource });
  } catch (err) {
    throw deviceError(c, err);
  }
  c.deps.io.redactor.add(pending.device_code);
  if (!interactive) {
    await (await c.deps.vault()).set(consentEntry(c.id), pendingEntry(pending));
    throw consentRequired(c.id, pending, false);
  }
  return waitConsent(c, config, pending);
}

async function consentScope(c: ClientContext): Promise<string> {
  const scopes = new Set(['provision']);
  for (const s of await catalogServices(c)) for (const sc of s.scopes) scopes.add(sc);
  return [...scopes].sort().join(' ');
}

/** On a TTY: show the code, open the browser, wait until it expires. */
export async function waitConsent(c: ClientContext, config: oidc.Configuration, pending: PendingSignIn): Promise<Authorization> {
  const io = c.deps.io;
  io.err(`To let agentprov use ${c.id} for you, open ${pending.verification_uri} and enter the code ${pending.user_code}\n`);
  if (await c.deps.browser.open(pending.verification_uri_complete ?? pending.verification_uri)) io.err('Opened your browser.\n');
  return pollConsent(c, config, pending, pending.expires_at - c.now());
}

export async function pollConsent(c: ClientContext, config: oidc.Configuration, pending: PendingSignIn, waitSeconds: number): Promise<Authorization> {
  const vault = await c.deps.vault();
  let outcome;
  try {
    if (pending.expires_at <= c.now()) throw deviceCodeExpired(pending.issuer);
    outcome = await pollDeviceAuthorization(config, pending, c.now(), Math.max(0, waitSeconds));
  } catch (err) {
    const mapped = deviceError(c, err);
    if (mapped.code === 'AUTHORIZATION_DENIED' || mapped.code === 'AUTHORIZATION_EXPIRED') await vault.delete(consentEntry(c.id));
    throw mapped;
  }
  if (outcome.kind === 'pending') throw consentRequired(c.id, pending, true);
  const parsed = ProviderTokenResponseSchema.safeParse(outcome.tokens);
  if (!parsed.success || !parsed.data.refresh_token || !parsed.data.account_id) {
    throw invalidResponse(c.id, 'consent', 'the device flow token response lacks a refresh token or account_id');
  }
  await saveGrant(c, pending.issuer, pending.client_id, parsed.data, undefined);
  return { accountId: parsed.data.account_id, accountCreated: false, via: 'consent' };
}

/** device.ts speaks of the identity provider; here the counterpart is the provider. */
function deviceError(c: ClientContext, err: unknown): AgentprovError {
  const code = (err as { code?: string }).code;
  const again = [`agentprov add ${c.id}/<service>`];
  if (code === 'AUTHORIZATION_DENIED') {
    return new AgentprovError('AUTHORIZATION_DENIED', `the consent was denied at ${c.id}; nothing was stored`, { details: { provider: c.id }, nextSteps: again, cause: err });
  }
  if (code === 'AUTHORIZATION_EXPIRED') {
    return new AgentprovError('AUTHORIZATION_EXPIRED', `the consent code for ${c.id} expired before it was approved; nothing was stored`, {
      details: { provider: c.id },
      nextSteps: again,
      cause: err,
    });
  }
  if (err instanceof AgentprovError && (code === 'UNTRUSTED_VERIFICATION_URI' || code === 'INVALID_AUTHORIZATION_RESPONSE')) {
    return new AgentprovError(err.code, `provider ${c.id}: ${err.message}`, { details: { ...err.details, provider: c.id }, cause: err });
  }
  return providerOAuthError(err instanceof AgentprovError && err.cause !== undefined ? err.cause : err, c.id, 'consent');
}

/** Preflight: consent will be needed, and no device code was started to say so. */
export function consentNeeded(provider: string): AgentprovError {
  return new AgentprovError('CONSENT_REQUIRED', `${provider} will ask for your consent in the browser (device code) before agentprov can provision there`, {
    details: { provider },
    nextSteps: [`agentprov add ${provider}/<service>`],
  });
}

/** CONSENT_REQUIRED (a new consent) or AUTHORIZATION_PENDING (`--complete` found it still waiting): exit 3 either way. */
export function consentRequired(provider: string, p: PendingSignIn, stillPending: boolean): AgentprovError {
  const details = { provider, ...pendingDetails(p) };
  const nextSteps = [`agentprov add ${provider}/<service> --complete`];
  return stillPending
    ? new AgentprovError('AUTHORIZATION_PENDING', `the consent at ${provider} is not approved yet: open ${p.verification_uri} and enter the code ${p.user_code}`, { details, nextSteps })
    : new AgentprovError('CONSENT_REQUIRED', `${provider} needs your consent: open ${p.verification_uri} and enter the code ${p.user_code}`, { details, nextSteps });
}
