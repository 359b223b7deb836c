/**
 * APP's `POST provisioning/deep_links` in the sandbox APP provider: a
 * single-use sign-in URL (10 minutes) into the console page of one of the
 * account's resources, named by `path` = `/resources/<id>` (the sandbox's
 * console shows resources only). The link itself, the session it starts and
 * the refusal of a second use are the shared sandbox console's
 * (../shared/deep-links.ts).
 */
import type { AppDeepLinkRequest } from '../../wire/app.js';
import type { ConsoleSubject, ConsoleView, DeepLinks } from '../shared/deep-links.js';
import { AppError, type AppState } from './state.js';

/** The answer to a deep link request of `account`: `{ purpose, url, expires_at }`. */
export function issueAppDeepLink(state: AppState, links: DeepLinks, origin: string, account: string, req: AppDeepLinkRequest): { purpose: string; url: string; expires_at: string } {
  const m = /^\/resources\/([A-Za-z0-9_-]{1,64})$/.exec(req.path ?? '');
  if (!m) throw new AppError(400, 'invalid_request', 'path must be /resources/<id>: the sandbox console shows resources');
  const r = state.resource(account, m[1]!); // 404 not_found for another account's or a removed resource
  const link = links.issue(origin, { account, resource: r.id });
  return { purpose: req.purpose, url: link.url, expires_at: link.expiresAt.toISOString() };
}

/** What the console shows of a resource: the account's email, the service; never its API key. */
export function appConsoleView(state: AppState, s: ConsoleSubject): ConsoleView | undefined {
  let r;
  try {
    r = state.resource(s.account, s.resource);
  } catch {
    return undefined;
  }
  const email = state.data.accounts[s.account]?.email ?? '';
  return { title: `${r.service_id} (${r.id})`, facts: [['email', email], ['service', r.service_id], ['project_id', r.project_id]] };
}
