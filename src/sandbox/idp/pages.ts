/**
 * The sandbox identity provider's HTML pages: sign-in, consent, the device
 * flow's code entry / confirmation / success, and errors. Every value that is
 * interpolated goes through `esc`. Buttons carry `data-action` attributes
 * (`sign-in`, `approve`, `deny`, `continue`, `confirm`, `abort`) that the
 * browser test helper drives.
 */
import { escapeHtml as esc } from '../shared/http.js';

const STYLE = `body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:40px 16px}
main{max-width:380px;margin:0 auto;background:#fff;border-radius:8px;padding:24px 28px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.4em;margin:0 0 12px}label{display:block;margin:12px 0 4px;font-size:.9em}
input[type=email],input[type=password],input[type=text]{width:100%;box-sizing:border-box;padding:8px;font-size:1em}
button{margin-top:14px;padding:8px 14px;font-size:1em;cursor:pointer}.primary{background:#2f6fdf;color:#fff;border:0;border-radius:4px}
.error{color:#b00020}.note{color:#555;font-size:.85em}code{font-size:1.4em;letter-spacing:.1em}ul{padding-left:20px}`;

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · agentprov sandbox</title><style>${STYLE}</style></head>
<body><main>${body}<p class="note">agentprov sandbox identity provider</p></main></body></html>`;
}

export function loginPage(p: { action: string; clientName: string; email?: string; error?: string; abortAction: string; capChanges?: string[] }): string {
  const purpose = p.capChanges?.length
    ? `<p>Sign in again to approve this change to your spending caps:</p><ul id="cap-changes">${p.capChanges.map((c) => `<li>${esc(c)}</li>`).join('')}</ul>`
    : `<p>to continue to <strong>${esc(p.clientName)}</strong></p>`;
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
${purpose}
${p.error ? `<p class="error" role="alert">${esc(p.error)}</p>` : ''}
<form method="post" action="${esc(p.action)}" autocomplete="off">
<label for="email">Email</label><input id="email" type="email" name="email" required maxlength="254" value="${esc(p.email ?? '')}" autofocus>
<label for="password">Password</label><input id="password" type="password" name="password" required maxlength="256">
<button type="submit" class="primary" data-action="sign-in">Sign in</button>
</form>
<form method="post" action="${esc(p.abortAction)}"><button type="submit" data-action="cancel">Cancel</button></form>`,
  );
}

const SCOPE_TEXT: Record<string, string> = {
  openid: 'Confirm your identity',
  email: 'Read your email address',
  profile: 'Read your name',
  offline_access: 'Stay signed in (refresh tokens)',
  payments: 'Request payment tokens at the payment rail',
};

export function consentPage(p: {
  clientName: string;
  userEmail: string;
  scopes: string[];
  confirmAction: string;
  abortAction: string;
}): string {
  const items = p.scopes.map((s) => `<li><strong>${esc(s)}</strong> — ${esc(SCOPE_TEXT[s] ?? s)}</li>`).join('');
  return layout(
    'Authorize',
    `<h1>Authorize ${esc(p.clientName)}</h1>
<p>Signed in as <strong>${esc(p.userEmail)}</strong>. ${esc(p.clientName)} asks to:</p>
<ul id="scopes">${items}</ul>
<form method="post" action="${esc(p.confirmAction)}"><button type="submit" class="primary" data-action="approve">Approve</button></form>
<form method="post" action="${esc(p.abortAction)}"><button type="submit" data-action="deny">Deny</button></form>`,
  );
}

/** `form` is oidc-provider's own form markup (hidden xsrf + user_code input), trusted. */
export function deviceInputPage(form: string, error?: string): string {
  return layout(
    'Connect a device',
    `<h1>Connect a device</h1>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : '<p>Enter the code shown by agentprov.</p>'}
${form}
<button type="submit" class="primary" form="op.deviceInputForm" data-action="continue">Continue</button>`,
  );
}

/**
 * Approving a spending cap change (RFC 9396 `spending_cap` details): what
 * changes, in words, for whom; Approve / Deny.
 */
export function capApprovalPage(p: { clientName: string; userEmail: string; changes: string[]; confirmAction: string; abortAction: string }): string {
  const items = p.changes.map((c) => `<li><strong>${esc(c)}</strong></li>`).join('');
  return layout(
    'Approve a spending cap',
    `<h1>Approve a spending cap change</h1>
<p>Signed in as <strong>${esc(p.userEmail)}</strong>. ${esc(p.clientName)} asks you to approve:</p>
<ul id="cap-changes">${items}</ul>
<p class="note">Approve only if you asked for this. Your agents can then spend up to the new cap each month.</p>
<form method="post" action="${esc(p.confirmAction)}"><button type="submit" class="primary" data-action="approve">Approve</button></form>
<form method="post" action="${esc(p.abortAction)}"><button type="submit" data-action="deny">Deny</button></form>`,
  );
}

export function deviceConfirmPage(form: string, clientName: string, userCode: string, capChanges: string[] = []): string {
  const changes = capChanges.length
    ? `<p>It asks you to approve a change to your spending caps:</p><ul id="cap-changes">${capChanges.map((c) => `<li>${esc(c)}</li>`).join('')}</ul>`
    : '';
  return layout(
    'Confirm device',
    `<h1>Confirm device</h1>
<p><strong>${esc(clientName)}</strong> shows this code:</p><p><code>${esc(userCode)}</code></p>${changes}
<p class="note">Continue only if it matches the code on your device.</p>
${form}
<button type="submit" class="primary" form="op.deviceConfirmForm" data-action="confirm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" data-action="abort">Abort</button>`,
  );
}

export function deviceSuccessPage(clientName: string, capChange = false): string {
  if (capChange) return layout('Change approved', `<h1 id="done">Change approved</h1><p>${esc(clientName)} can now apply the spending cap change you approved. You can close this page.</p>`);
  return layout('Device connected', `<h1 id="done">Device connected</h1><p>${esc(clientName)} is signed in. You can close this page.</p>`);
}

export function errorPage(out: Record<string, unknown>): string {
  const rows = Object.entries(out)
    .map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span data-field="${esc(k)}">${esc(v)}</span></p>`)
    .join('');
  return layout('Error', `<h1>Something went wrong</h1>${rows}`);
}
