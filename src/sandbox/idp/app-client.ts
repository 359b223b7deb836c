/**
 * What the sandbox orchestrator does for APP providers (docs/protocol.md
 * §APP.4): it hosts agentprov's Client ID Metadata Document, and it is the
 * redirect_uri a provider sends the human's browser back to after consent.
 * That page relays the code to the CLI, which polls for it by `state`: a
 * code is kept at most 10 minutes and handed out once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { escapeHtml, sendHtml, sendJson } from '../shared/http.js';

export const APP_CLIENT_PATH = '/.well-known/agentprov-client.json';
export const APP_CALLBACK_PATH = '/app/callback';
export const APP_RELAY_PATH = '/app/relay';

const TTL_MS = 10 * 60_000;
const MAX_WAITING = 1000;
const STATE = /^[\x21-\x7e]{1,255}$/;
const PAGE_HEADERS = { 'content-security-policy': "default-src 'none'; frame-ancestors 'none'", 'referrer-policy': 'no-referrer' };

export function appClientRoutes(origin: string): (req: IncomingMessage, res: ServerResponse, path: string) => boolean {
  const waiting = new Map<string, { code?: string; error?: string; at: number }>();
  const sweep = (): void => {
    const now = Date.now();
    for (const [k, v] of waiting) if (now - v.at > TTL_MS) waiting.delete(k);
  };
  return (req, res, path) => {
    const url = new URL(req.url ?? '/', origin);
    if (path === APP_CLIENT_PATH && req.method === 'GET') {
      sendJson(
        res,
        200,
        {
          client_id: `${origin}${APP_CLIENT_PATH}`,
          client_name: 'agentprov (sandbox orchestrator)',
          redirect_uris: [`${origin}${APP_CALLBACK_PATH}`],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
        { 'cache-control': 'max-age=300' },
      );
      return true;
    }
    if (path === APP_CALLBACK_PATH && req.method === 'GET') {
      sweep();
      const state = url.searchParams.get('state') ?? '';
      const code = url.searchParams.get('code');
      const error = url.searchParams.get('error');
      if (!STATE.test(state) || (!code && !error) || waiting.size >= MAX_WAITING) {
        sendHtml(res, 400, '<!doctype html><p>This link is not valid.</p>', PAGE_HEADERS);
        return true;
      }
      // The first answer for a state stands: a second redirect cannot swap the code.
      if (!waiting.has(state)) waiting.set(state, { ...(code ? { code: code.slice(0, 4096) } : { error: (error ?? '').slice(0, 100) }), at: Date.now() });
      const msg = code ? 'Approved. You can close this tab: agentprov picks it up with `agentprov add … --complete`.' : `Not approved (${escapeHtml(error)}).`;
      sendHtml(res, 200, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>agentprov</title></head><body><p id="relayed">${escapeHtml(msg)}</p></body></html>`, PAGE_HEADERS);
      return true;
    }
    if (path === APP_RELAY_PATH && req.method === 'GET') {
      sweep();
      const state = url.searchParams.get('state') ?? '';
      const got = STATE.test(state) ? waiting.get(state) : undefined;
      if (!got) sendJson(res, 200, { status: 'pending' });
      else {
        waiting.delete(state);
        sendJson(res, 200, got.code ? { status: 'ready', code: got.code } : { status: 'denied', error: got.error ?? 'denied' });
      }
      return true;
    }
    return false;
  };
}
