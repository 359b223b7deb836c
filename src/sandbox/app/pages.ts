/**
 * The sandbox APP provider's consent page: what an existing account's owner
 * sees at `requires_auth.url` (which client asks, for which account), with
 * Approve and Deny. A strict CSP; the decision is a same-origin form POST.
 */
import { escapeHtml } from '../shared/http.js';

export const PAGE_HEADERS = {
  // No form-action: the decision's answer redirects to the client's redirect_uri, another origin.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export function consentPage(p: { providerName: string; clientName: string; email: string; action: string }): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(p.providerName)}: connect ${escapeHtml(p.clientName)}</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto">
<h1>Connect ${escapeHtml(p.clientName)}</h1>
<p><strong>${escapeHtml(p.clientName)}</strong> asks to provision resources in the ${escapeHtml(p.providerName)} account of <strong id="email">${escapeHtml(p.email)}</strong>.</p>
<form method="post" action="${escapeHtml(p.action)}">
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></body></html>`;
}

export function donePage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Done</title></head><body><p id="done">${escapeHtml(message)}</p></body></html>`;
}
