/**
 * The interaction pages oidc-provider sends the browser to
 * (`/interaction/:uid`): sign-in (email + password) and consent (Approve /
 * Deny). Deny, or Cancel on sign-in, finishes the interaction with
 * `access_denied`, which oidc-provider returns to the client (authorization
 * code flow) or stores on the device code (device flow).
 *
 * A request carrying a spending cap change (cap-approval.ts) always shows the
 * sign-in page first (the policy's `cap_approval_login` check), then the
 * change in words instead of the scope list; Approve records it on a grant of
 * its own. Auto-approve (demo only) never approves a cap change.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import * as z from 'zod';
import { BadRequest, readForm, sendBadRequest, sendHtml } from './http.js';
import { CAP_APPROVAL_SCOPE } from '../../wire/cap-approval.js';
import { describeChange, requestedCapChanges } from './cap-approval.js';
import { capApprovalPage, consentPage, loginPage } from './pages.js';
import { authenticate, DEMO_USER, findUserBySub } from './users.js';

const LoginForm = z.object({
  email: z.string().trim().min(1).max(254),
  password: z.string().min(1).max(256),
});

export interface InteractionOptions {
  provider: Provider;
  autoApprove: boolean;
}

const ACCESS_DENIED = { error: 'access_denied', error_description: 'End-User denied the request' };

/** Handles `/interaction/<uid>[/<action>]`; `rest` is the part after `/interaction/`. */
export async function handleInteraction(
  opts: InteractionOptions,
  req: IncomingMessage,
  res: ServerResponse,
  rest: string,
): Promise<void> {
  const { provider } = opts;
  try {
    const [uid, action, extra] = rest.split('/');
    if (!uid || extra !== undefined) throw new BadRequest('path', 'unknown interaction route', 404);
    const details = await provider.interactionDetails(req, res).catch(() => {
      throw new BadRequest('interaction', 'interaction not found or expired; start the sign-in again');
    });
    if (details.uid !== uid) throw new BadRequest('interaction', 'interaction does not match this browser session');
    const prompt = details.prompt.name;
    const base = `/interaction/${encodeURIComponent(uid)}`;
    const clientName = await clientDisplayName(provider, details);
    const capChanges = requestedCapChanges(details.params.authorization_details).map(describeChange);

    if (req.method === 'GET' && action === undefined) {
      if (prompt === 'login') {
        sendHtml(res, 200, loginPage({ action: `${base}/login`, abortAction: `${base}/abort`, clientName, email: loginHint(details), capChanges }));
        return;
      }
      if (prompt === 'consent') {
        const user = findUserBySub(details.session?.accountId ?? '');
        if (!user) throw new BadRequest('session', 'no signed-in user');
        if (capChanges.length > 0) {
          sendHtml(res, 200, capApprovalPage({ clientName, userEmail: user.email, changes: capChanges, confirmAction: `${base}/confirm`, abortAction: `${base}/abort` }));
          return;
        }
        if (opts.autoApprove && user.sub === DEMO_USER.sub) {
          await finishConsent(provider, req, res, details);
          return;
        }
        const scopes = String(details.params.scope ?? '').split(' ').filter(Boolean);
        sendHtml(res, 200, consentPage({ clientName, userEmail: user.email, scopes, confirmAction: `${base}/confirm`, abortAction: `${base}/abort` }));
        return;
      }
      throw new BadRequest('prompt', `unsupported prompt ${prompt}`);
    }
    if (req.method !== 'POST') throw new BadRequest('method', 'method not allowed', 405);

    if (action === 'login' && prompt === 'login') {
      const parsed = LoginForm.safeParse(await readForm(req));
      if (!parsed.success) throw new BadRequest(String(parsed.error.issues[0]?.path[0] ?? 'body'), 'email and password are required');
      const user = authenticate(parsed.data.email, parsed.data.password);
      if (!user) {
        sendHtml(res, 401, loginPage({ action: `${base}/login`, abortAction: `${base}/abort`, clientName, email: parsed.data.email, error: 'Wrong email or password.', capChanges }));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: user.sub, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
      return;
    }
    if (action === 'confirm' && prompt === 'consent') {
      await readForm(req);
      if (capChanges.length > 0) await finishCapApproval(provider, req, res, details);
      else await finishConsent(provider, req, res, details);
      return;
    }
    if (action === 'abort') {
      await readForm(req);
      await provider.interactionFinished(req, res, ACCESS_DENIED, { mergeWithLastSubmission: false });
      return;
    }
    throw new BadRequest('action', `action ${action ?? '(none)'} does not fit the pending prompt ${prompt}`);
  } catch (err) {
    if (err instanceof BadRequest) sendBadRequest(res, err);
    else throw err;
  }
}

/** Records the consent in a Grant (all requested OIDC scopes and claims) and resumes. */
async function finishConsent(provider: Provider, req: IncomingMessage, res: ServerResponse, details: Interaction): Promise<void> {
  const accountId = details.session?.accountId;
  const clientId = String(details.params.client_id ?? '');
  const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId, clientId });
  const d = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

/**
 * Records an approved cap change on a grant made for it alone (so no later
 * sign-in inherits it): the requested resource's approval scope and the
 * `spending_cap` details exactly as requested. The device code takes them
 * from here (cap-approval.ts authorizationDetailsForGrantSource).
 */
async function finishCapApproval(provider: Provider, req: IncomingMessage, res: ServerResponse, details: Interaction): Promise<void> {
  const accountId = details.session?.accountId;
  const clientId = String(details.params.client_id ?? '');
  const resource = details.params.resource;
  if (!accountId || typeof resource !== 'string') throw new BadRequest('interaction', 'a cap change needs a signed-in user and one resource');
  const grant = new provider.Grant({ accountId, clientId });
  grant.addOIDCScope('openid');
  grant.addResourceScope(resource, CAP_APPROVAL_SCOPE);
  for (const d of requestedCapChanges(details.params.authorization_details)) grant.addRar(d);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function clientDisplayName(provider: Provider, details: Interaction): Promise<string> {
  const clientId = String(details.params.client_id ?? '');
  const client = await provider.Client.find(clientId);
  return client?.clientName ?? clientId;
}

function loginHint(details: Interaction): string | undefined {
  const hint = details.params.login_hint;
  return typeof hint === 'string' && hint.length <= 254 ? hint : undefined;
}
