/**
 * The interaction pages oidc-provider sends the browser to during the device
 * flow (RFC 8628 §3.3): sign in with the provider's own user table, then
 * accept the terms (only when the person has no account here yet) and
 * approve or deny the requested scopes. Approval creates/links the account,
 * marks it consented for the client, and finishes the interaction with both
 * the login and the consent result.
 *
 *   GET  /oauth/interaction/:uid          sign-in page, or consent once signed in
 *   POST /oauth/interaction/:uid/login    email + password
 *   POST /oauth/interaction/:uid/confirm  decision=approve|deny, accept_terms
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Interaction, Provider } from 'oidc-provider';
import * as z from 'zod';
import type { AccountStore } from './accounts.js';
import { BodyError, readForm, sendHtml } from './http.js';
import { consentPage, errorPage, loginPage, type ConsentView } from './pages.js';
import { consentScopes, saveConsentGrant, type ConsentScopes } from './consent.js';
import type { ResourceConfig } from './tokens.js';
import { authenticateUser, findUserByEmail, type ProviderUser } from './users.js';

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountStore;
  rs: ResourceConfig;
  providerName: string;
  mountPath: string;
  terms: { url: string; version: string };
  /** The orchestrator identity a new account is linked to (first trusted issuer), if any. */
  linkIssuer: string | undefined;
}

/** Matches the Interaction TTL in config.ts. */
const SIGNED_IN_TTL_MS = 3600_000;
const Login = z.object({ email: z.string().min(1).max(254), password: z.string().min(1).max(256) });
const Confirm = z.object({ decision: z.enum(['approve', 'deny']), accept_terms: z.string().max(64).optional() });

interface View {
  uid: string;
  clientId: string;
  clientName: string;
  consent: ConsentScopes;
}

export function createInteractions(deps: InteractionDeps) {
  const pattern = new RegExp(`^${deps.mountPath}/interaction/([A-Za-z0-9_-]{1,64})(?:/(login|confirm))?$`);
  /** Interaction uid → who signed in on its login page, and when (pruned after an hour). */
  const signedIn = new Map<string, { email: string; at: number }>();
  const remember = (uid: string, email: string): void => {
    const now = Date.now();
    for (const [key, entry] of signedIn) if (now - entry.at > SIGNED_IN_TTL_MS) signedIn.delete(key);
    signedIn.set(uid, { email, at: now });
  };

  async function handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const m = pattern.exec(pathname);
    const [uid, step] = [m?.[1], m?.[2]];
    const method = req.method ?? 'GET';
    if (!uid || (step ? method !== 'POST' : method !== 'GET')) {
      sendHtml(res, uid ? 405 : 404, errorPage(deps.providerName, { error: uid ? 'method_not_allowed' : 'not_found' }));
      return;
    }
    let details: Interaction;
    try {
      details = await deps.provider.interactionDetails(req, res);
    } catch {
      sendHtml(res, 400, errorPage(deps.providerName, { error: 'invalid_request', error_description: 'sign-in session expired; restart from the application' }));
      return;
    }
    if (details.uid !== uid) {
      sendHtml(res, 400, errorPage(deps.providerName, { error: 'invalid_request', error_description: 'interaction mismatch' }));
      return;
    }
    const view = await viewOf(details);
    const email = signedIn.get(uid)?.email ?? sessionEmail(details);
    const user = email ? findUserByEmail(email) : undefined;
    try {
      if (step === 'login') return await login(req, res, details, view);
      if (step === 'confirm' && user) return await confirm(req, res, details, view, user);
      if (step === 'confirm' || !user) return sendHtml(res, 200, loginPage(loginView(view)));
      return sendHtml(res, 200, consentPage(consentView(view, user)));
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      sendHtml(res, err.status, errorPage(deps.providerName, { error: 'invalid_request', error_description: err.message }));
    }
  }

  async function login(req: IncomingMessage, res: ServerResponse, details: Interaction, view: View): Promise<void> {
    const parsed = Login.safeParse(await readForm(req));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return sendHtml(res, 400, loginPage({ ...loginView(view), error: `${issue?.path.join('.') || 'form'}: ${issue?.message ?? 'invalid'}` }));
    }
    const user = authenticateUser(parsed.data.email, parsed.data.password);
    if (!user) return sendHtml(res, 401, loginPage({ ...loginView(view), email: parsed.data.email, error: 'Wrong email or password.' }));
    remember(details.uid, user.email);
    res.writeHead(303, { location: `${deps.mountPath}/interaction/${details.uid}`, 'cache-control': 'no-store' }).end();
  }

  async function confirm(req: IncomingMessage, res: ServerResponse, details: Interaction, view: View, user: ProviderUser): Promise<void> {
    const parsed = Confirm.safeParse(await readForm(req));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return sendHtml(res, 400, consentPage({ ...consentView(view, user), error: `${issue?.path.join('.') || 'form'}: ${issue?.message ?? 'invalid'}` }));
    }
    if (parsed.data.decision === 'deny') {
      signedIn.delete(details.uid);
      return deps.provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the account holder denied access' }, { mergeWithLastSubmission: false });
    }
    const approved = await deps.accounts.approve({
      email: user.email,
      clientId: view.clientId,
      termsVersion: parsed.data.accept_terms === deps.terms.version ? deps.terms.version : undefined,
      link: deps.linkIssuer ? { issuer: deps.linkIssuer, sub: user.sub } : undefined,
    });
    if ('kind' in approved) {
      const error = `Accept the terms of service (version ${deps.terms.version}) to create your account.`;
      return sendHtml(res, 400, consentPage({ ...consentView(view, user), error }));
    }
    const grantId = await saveConsentGrant(deps.provider, approved.account.id, view.clientId, view.consent);
    signedIn.delete(details.uid);
    await deps.provider.interactionFinished(req, res, { login: { accountId: approved.account.id }, consent: { grantId } }, { mergeWithLastSubmission: false });
  }

  async function viewOf(details: Interaction): Promise<View> {
    const clientId = String(details.params.client_id ?? '');
    const client = await deps.provider.Client.find(clientId);
    return { uid: details.uid, clientId, clientName: client?.clientName ?? clientId, consent: consentScopes(deps.rs, details.params) };
  }

  function loginView(view: View) {
    const action = `${deps.mountPath}/interaction/${view.uid}/login`;
    return { providerName: deps.providerName, action, clientName: view.clientName };
  }

  function consentView(view: View, user: ProviderUser): ConsentView {
    const needsTerms = !deps.accounts.findForEmail(user.email);
    return {
      providerName: deps.providerName,
      action: `${deps.mountPath}/interaction/${view.uid}/confirm`,
      clientName: view.clientName,
      email: user.email,
      scopes: view.consent.scopes,
      ...(needsTerms ? { terms: deps.terms } : {}),
    };
  }

  /** A still-valid provider session (consent-only prompt): its account's email. */
  function sessionEmail(details: Interaction): string | undefined {
    if (details.prompt.name === 'login' || !details.session?.accountId) return undefined;
    return deps.accounts.get(details.session.accountId)?.email;
  }

  return { pattern, handle };
}
