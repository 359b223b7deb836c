/**
 * `open` for Cloudflare (issue 21): the dashboard URL of a resource. It is
 * no secret and no sign-in: the human signs in to Cloudflare as usual, and
 * the dashboard refuses anyone without access to the account.
 *
 * The URL shapes are assumptions: Cloudflare documents no deep-link scheme.
 * Its own docs link `https://dash.cloudflare.com/?to=/:account/workers/kv/namespaces`
 * (and `…/r2`, `…/workers/d1`); the per-resource paths below are the ones
 * the dashboard itself shows in its address bar for that resource, as seen
 * in public projects that link to them. If Cloudflare moves a page, the
 * dashboard lands on its account overview instead.
 */
import type { Kind } from './resources.js';

export const DASHBOARD_ORIGIN = 'https://dash.cloudflare.com';

/** The dashboard page of resource `ref` of kind `kind` in account `accountId`. */
export function dashboardUrl(accountId: string, kind: Kind, ref: string): string {
  const a = `${DASHBOARD_ORIGIN}/${encodeURIComponent(accountId)}`;
  const r = encodeURIComponent(ref);
  switch (kind) {
    case 'kv':
      return `${a}/workers/kv/namespaces/${r}`;
    case 'r2':
      return `${a}/r2/default/buckets/${r}`;
    case 'd1':
      return `${a}/workers/d1/databases/${r}`;
    case 'worker':
      return `${a}/workers/services/view/${r}/production`;
    case 'domain':
      // Registrations have no per-domain page we know of: the list of the account's registrations.
      return `${a}/domains/registrations`;
  }
}
