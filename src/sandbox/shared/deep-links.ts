/**
 * Single-use sign-in links for the human (docs/protocol.md §4.5), as the
 * sandbox providers serve them: a link is `<origin><prefix>signin/<token>`,
 * valid once and for 10 minutes. Its first use starts a console session (a
 * cookie) and redirects to the resource's console page, which shows the
 * account and the resource; a second use, or one after expiry, gets
 * `410 Gone`. Tokens are kept as SHA-256 hashes, in memory: a restart of the
 * sandbox ends every link and session.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { escapeHtml, sendHtml } from './http.js';

export const DEEP_LINK_TTL_MS = 10 * 60 * 1000;
const SESSION_TTL_MS = 60 * 60 * 1000;
/** Outstanding links and sessions kept at most (the oldest go first). */
const MAX_ENTRIES = 1000;
const COOKIE = 'sandbox_console';

export interface ConsoleSubject {
  account: string;
  resource: string;
}

/** What the console page shows for a subject: a heading and facts; undefined when the resource is gone. */
export interface ConsoleView {
  title: string;
  facts: Array<[string, string]>;
}

const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  // The sign-in link's token is in its path: never send it on as a Referer.
  'referrer-policy': 'no-referrer',
};

const hash = (s: string): string => createHash('sha256').update(s).digest('base64url');

interface LinkRecord {
  subject: ConsoleSubject;
  expiresAt: number;
  used: boolean;
}

export class DeepLinks {
  readonly #links = new Map<string, LinkRecord>();
  readonly #sessions = new Map<string, { subject: ConsoleSubject; expiresAt: number }>();

  /** `prefix`: the path under which the console lives, e.g. `/console/`. */
  constructor(
    readonly prefix: string,
    readonly providerName: string,
    readonly now: () => number = Date.now,
  ) {}

  /** A new single-use link into `subject`'s console page. */
  issue(origin: string, subject: ConsoleSubject): { url: string; expiresAt: Date } {
    const token = `dl_${randomBytes(24).toString('base64url')}`;
    const expiresAt = this.now() + DEEP_LINK_TTL_MS;
    bounded(this.#links).set(hash(token), { subject, expiresAt, used: false });
    return { url: `${origin}${this.prefix}signin/${token}`, expiresAt: new Date(expiresAt) };
  }

  /**
   * Serves `<prefix>signin/<token>` and `<prefix><account>/<resource>`;
   * false for any other path. `view` says what the console shows, or
   * undefined when the subject's resource no longer exists.
   */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string, view: (s: ConsoleSubject) => ConsoleView | undefined): boolean {
    if (!pathname.startsWith(this.prefix)) return false;
    const rest = pathname.slice(this.prefix.length);
    if (req.method !== 'GET') {
      sendHtml(res, 405, this.#page('Not allowed', 'Use the link in a browser.'), { ...PAGE_HEADERS, allow: 'GET' });
      return true;
    }
    const signin = /^signin\/(dl_[A-Za-z0-9_-]{20,64})$/.exec(rest);
    if (signin) {
      this.#signin(res, signin[1]!);
      return true;
    }
    const page = /^([A-Za-z0-9_-]{1,128})\/([A-Za-z0-9_-]{1,128})$/.exec(rest);
    if (!page) return false;
    const subject = this.#session(req.headers.cookie);
    if (!subject || subject.account !== page[1] || subject.resource !== page[2]) {
      sendHtml(res, 401, this.#page('Not signed in', 'Open this page with a new link: agentprov open <name>.', 'not-signed-in'), PAGE_HEADERS);
      return true;
    }
    const shown = view(subject);
    if (!shown) {
      sendHtml(res, 404, this.#page('Gone', 'This resource no longer exists.', 'gone'), PAGE_HEADERS);
      return true;
    }
    sendHtml(res, 200, this.#console(subject, shown), PAGE_HEADERS);
    return true;
  }

  #signin(res: ServerResponse, token: string): void {
    const rec = this.#links.get(hash(token));
    if (!rec) {
      sendHtml(res, 404, this.#page('Unknown link', 'This sign-in link is not known here.', 'refused'), PAGE_HEADERS);
      return;
    }
    if (rec.used || rec.expiresAt <= this.now()) {
      const why = rec.used ? 'This sign-in link was used already: each link works once.' : 'This sign-in link has expired.';
      sendHtml(res, 410, this.#page('Link no longer valid', `${why} Ask for a new one: agentprov open <name>.`, 'refused'), PAGE_HEADERS);
      return;
    }
    rec.used = true;
    const session = randomBytes(24).toString('base64url');
    bounded(this.#sessions).set(hash(session), { subject: rec.subject, expiresAt: this.now() + SESSION_TTL_MS });
    const target = `${this.prefix}${encodeURIComponent(rec.subject.account)}/${encodeURIComponent(rec.subject.resource)}`;
    res.writeHead(303, {
      location: target,
      'set-cookie': `${COOKIE}=${session}; Path=${this.prefix}; HttpOnly; SameSite=Lax; Max-Age=${SESSION_TTL_MS / 1000}`,
      'cache-control': 'no-store',
      ...PAGE_HEADERS,
    });
    res.end();
  }

  #session(cookieHeader: string | undefined): ConsoleSubject | undefined {
    const value = (cookieHeader ?? '')
      .split(';')
      .map((c) => c.trim().split('='))
      .find(([k]) => k === COOKIE)?.[1];
    if (!value || value.length > 64) return undefined;
    const s = this.#sessions.get(hash(value));
    return s && s.expiresAt > this.now() ? s.subject : undefined;
  }

  #console(subject: ConsoleSubject, v: ConsoleView): string {
    const rows = [['account', subject.account], ['resource', subject.resource], ...v.facts]
      .map(([k, val]) => `<tr><th>${escapeHtml(k)}</th><td data-fact="${escapeHtml(k)}">${escapeHtml(val)}</td></tr>`)
      .join('\n');
    return this.#html(`${v.title}`, `<h1 id="title">${escapeHtml(v.title)}</h1>\n<p id="signed-in">Signed in to ${escapeHtml(this.providerName)} as account <strong id="account">${escapeHtml(subject.account)}</strong>.</p>\n<table id="resource">${rows}</table>`);
  }

  #page(title: string, message: string, id = 'message'): string {
    return this.#html(title, `<h1>${escapeHtml(title)}</h1>\n<p id="${escapeHtml(id)}">${escapeHtml(message)}</p>`);
  }

  #html(title: string, body: string): string {
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(this.providerName)}: ${escapeHtml(title)}</title></head>
<body style="font-family:sans-serif;max-width:40rem;margin:3rem auto">
${body}
</body></html>`;
  }
}

/** A request path fit for a log line: a sign-in link's token is replaced (the link is a secret until used). */
export function loggablePath(path: string): string {
  return path.replace(/\/signin\/[^/?#]+/g, '/signin/…');
}

/** The map, with room for one more entry: the oldest entries go first. */
function bounded<V>(map: Map<string, V>): Map<string, V> {
  while (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value!);
  return map;
}
