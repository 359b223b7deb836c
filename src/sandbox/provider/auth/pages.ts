/**
 * The HTML pages of a provider's authorization server: sign-in, consent
 * (terms + scopes), and the device flow's code entry / confirmation /
 * success pages. Plain forms, no scripts, no external resources; every
 * interpolated value is escaped. Buttons carry the `data-action` markers
 * the shared test browser helper drives (sign-in, approve, deny, continue,
 * confirm, abort; accept-terms on the checkbox).
 */
import { escapeHtml as esc } from '../../shared/http.js';

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}' +
  'label{display:block;margin:.75rem 0 .25rem}input[type=email],input[type=password],input[type=text]{width:100%;padding:.5rem;box-sizing:border-box}' +
  'button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem}.error{color:#b00020}.muted{color:#666;font-size:.9rem}code{font-size:1.4rem}';

/** `providerName` heads every page so the human knows where they are signing in. */
function layout(providerName: string, title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · ${esc(providerName)}</title><style>${STYLE}</style></head>
<body><p class="muted">${esc(providerName)}</p><h1>${esc(title)}</h1>
${body}
</body></html>`;
}

function errorLine(error: string | undefined): string {
  return error ? `<p class="error" role="alert">${esc(error)}</p>` : '';
}

export function loginPage(o: { providerName: string; action: string; clientName: string; email?: string; error?: string }): string {
  return layout(
    o.providerName,
    'Sign in',
    `<p>Sign in to your ${esc(o.providerName)} account to continue with <strong>${esc(o.clientName)}</strong>.</p>
${errorLine(o.error)}
<form method="post" action="${esc(o.action)}">
<label for="email">Email</label><input id="email" type="email" name="email" autocomplete="username" required value="${esc(o.email ?? '')}">
<label for="password">Password</label><input id="password" type="password" name="password" autocomplete="current-password" required>
<button type="submit" data-action="sign-in">Sign in</button>
</form>`,
  );
}

export interface ConsentView {
  providerName: string;
  action: string;
  clientName: string;
  email: string;
  scopes: string[];
  /** Set when the person has no account here yet: they must accept these terms. */
  terms?: { url: string; version: string };
  error?: string;
}

export function consentPage(o: ConsentView): string {
  const scopes = o.scopes.length
    ? `<ul>${o.scopes.map((s) => `<li><code style="font-size:1rem">${esc(s)}</code></li>`).join('')}</ul>`
    : '<p class="muted">No resource permissions were requested.</p>';
  const terms = o.terms
    ? `<p>You have no ${esc(o.providerName)} account yet; approving creates one.</p>
<label><input type="checkbox" name="accept_terms" data-action="accept-terms" value="${esc(o.terms.version)}"> I accept the
<a href="${esc(o.terms.url)}">terms of service</a> (version ${esc(o.terms.version)})</label>`
    : '';
  return layout(
    o.providerName,
    'Authorize access',
    `<p>Signed in as <strong>${esc(o.email)}</strong>.</p>
<p><strong>${esc(o.clientName)}</strong> asks for access to your account:</p>
${scopes}
${errorLine(o.error)}
<form method="post" action="${esc(o.action)}">
${terms}
<button type="submit" name="decision" value="approve" data-action="approve">Approve</button>
<button type="submit" name="decision" value="deny" data-action="deny">Deny</button>
</form>`,
  );
}

/** oidc-provider hands in the `<form id="op.deviceInputForm">` markup (with its CSRF field). */
export function deviceInputPage(providerName: string, form: string, error?: string): string {
  return layout(
    providerName,
    'Connect a device',
    `<p>Enter the code shown by the application.</p>${errorLine(error)}${form}
<button type="submit" form="op.deviceInputForm" data-action="continue">Continue</button>`,
  );
}

export function deviceConfirmPage(providerName: string, form: string, clientName: string, userCode: string): string {
  return layout(
    providerName,
    'Confirm the code',
    `<p><strong>${esc(clientName)}</strong> wants to connect. Check that the application shows this code:</p>
<p><code>${esc(userCode)}</code></p>${form}
<button type="submit" form="op.deviceConfirmForm" data-action="confirm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" data-action="abort">Abort</button>`,
  );
}

export function deviceSuccessPage(providerName: string, clientName: string): string {
  return layout(providerName, 'Done', `<p>${esc(clientName)} is connected. You can close this page.</p>`);
}

export function errorPage(providerName: string, out: Record<string, unknown>): string {
  const rows = Object.entries(out)
    .map(([k, v]) => `<p><strong>${esc(k)}</strong>: ${esc(String(v))}</p>`)
    .join('');
  return layout(providerName, 'Something went wrong', rows);
}
