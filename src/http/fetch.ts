/**
 * The one bounded HTTP client for remote documents and APIs (catalogs,
 * descriptors, provisioning), over one keep-alive connection pool per
 * process. Every request is bounded: connect, header and body (idle)
 * timeouts, the caller's overall deadline (AbortSignal), a body size cap
 * enforced while the body streams in, and redirects (GET only) followed by
 * hand, on the same origin only, so that a loop, a long chain or a hop to
 * another origin is refused (docs/protocol.md §0: https, except on
 * loopback; §0.1: one origin per provider).
 *
 * Built on node:http and node:https, not undici (the README's "Build" says why):
 * on Node 20, which has no compile cache, the bundled undici is a 1 MB chunk
 * compiled on every command that touches the network, plus its WebAssembly
 * HTTP parser instantiated, about 40 ms of CPU before the first byte, while
 * node:http's parser is native and already in the binary. A cold `catalog`
 * of 50 providers is mostly that CPU, not round trips (issue 5: it must
 * cost one round trip more than start-up). The interface and the limits are
 * the ones this module had over undici; only the sandbox and the tests
 * still use undici.
 *
 * `request` returns any status with its (capped) body; `get` is the document
 * fetch of the catalog layer: 200 or 304 (conditional on an ETag), anything
 * else is a FetchError.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { isLoopbackHost } from '../util/loopback.js';

export const MAX_REDIRECTS = 3;

export interface FetchedDocument {
  status: 200 | 304;
  /** Raw bytes of a 200 body. */
  body?: Buffer;
  etag?: string;
  /** Cache-Control max-age in seconds (0 when absent or no-cache/no-store). */
  maxAge: number;
  /** Final URL after redirects. */
  url: string;
}

export interface HttpRequestOptions {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  /** Request headers (lower-case names); `accept` and `user-agent` have defaults. */
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal: AbortSignal;
  /** Largest response body read; a larger one is a FetchError('too_large'). */
  maxBytes: number;
  /** GET only: follow up to MAX_REDIRECTS redirects (default true). Other methods never follow. */
  followRedirects?: boolean;
  /** Called once the (first) request has been handed to the socket: what waits on the answer may start now. */
  onSent?: () => void;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Final URL after redirects. */
  url: string;
}

export class FetchError extends Error {
  override readonly name = 'FetchError';
  constructor(
    message: string,
    readonly reason: 'timeout' | 'too_large' | 'redirect' | 'http_status' | 'network' | 'insecure',
    /** The HTTP status, for reason 'http_status'. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface Fetcher {
  /** Any status, body read under the cap. Throws FetchError for transport failures, caps and refused redirects. */
  request(url: string, opts: HttpRequestOptions): Promise<HttpResponse>;
  /** A document: 200 (or 304 when `etag` matched); any other status is FetchError('http_status'). */
  get(url: string, opts: { signal: AbortSignal; maxBytes: number; etag?: string | undefined; followRedirects?: boolean; onSent?: () => void }): Promise<FetchedDocument>;
  close(): Promise<void>;
}

/** https anywhere; plain http only on loopback. */
export function assertFetchableUrl(url: URL): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  throw new FetchError(`refusing ${url.protocol}//${url.host}: providers must use https (http only on loopback)`, 'insecure');
}

export function parseMaxAge(cacheControl: string | undefined): number {
  if (!cacheControl) return 0;
  const cc = cacheControl.toLowerCase();
  if (/(^|[\s,])(no-store|no-cache)([\s,=]|$)/.test(cc)) return 0;
  const m = /(?:^|[\s,])max-age\s*=\s*"?(\d{1,9})"?/.exec(cc);
  return m ? Math.min(Number(m[1]), 7 * 24 * 3600) : 0;
}

/**
 * Seconds a response stays fresh from now: its max-age less the `Age` a
 * cache on the way has already spent of it (RFC 9111 §4.2.3).
 */
export function freshFor(cacheControl: string | undefined | null, age: string | undefined | null): number {
  const spent = /^\d{1,9}$/.test(age?.trim() ?? '') ? Number(age!.trim()) : 0;
  return Math.max(0, parseMaxAge(cacheControl ?? undefined) - spent);
}

export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Read a response body under the byte cap, the idle timeout and the
 * caller's deadline. Any failure destroys the response (its connection is
 * not reused).
 */
function readCapped(res: IncomingMessage, maxBytes: number, bodyTimeoutMs: number, signal: AbortSignal): Promise<Buffer> {
  const declared = Number(header(res.headers, 'content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.destroy();
    return Promise.reject(new FetchError(`body of ${declared} bytes exceeds the ${maxBytes}-byte limit`, 'too_large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (err?: FetchError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      res.removeAllListeners('data').removeAllListeners('end');
      res.on('error', () => undefined);
      if (err) {
        reject(err);
        res.destroy(); // emits 'aborted' at once: the first cause stays the one reported
      } else resolve(Buffer.concat(chunks, size));
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => settle(new FetchError('timed out (body)', 'timeout')), bodyTimeoutMs);
    };
    const onAbort = (): void => settle(new FetchError('deadline exceeded', 'timeout'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    arm();
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return settle(new FetchError(`body exceeds the ${maxBytes}-byte limit`, 'too_large'));
      chunks.push(chunk);
      arm();
    });
    res.once('end', () => settle());
    res.once('error', (err) => settle(classify(err, signal)));
    res.once('aborted', () => settle(new FetchError('connection closed before the body ended', 'network')));
  });
}

/**
 * Drop a body we will not read. An empty one (304, a redirect without a
 * body) is drained so its connection goes back to the pool; anything else
 * is cut off with its connection, never downloaded in the background.
 */
function discard(res: IncomingMessage): void {
  res.on('error', () => undefined);
  if (res.statusCode === 304 || res.statusCode === 204 || header(res.headers, 'content-length') === '0') res.resume();
  else res.destroy();
}

export function createFetcher(options: { headersTimeoutMs: number; bodyTimeoutMs: number }): Fetcher {
  const agentOptions = { keepAlive: true, maxSockets: 8, timeout: Math.max(options.headersTimeoutMs, options.bodyTimeoutMs) };
  let http: HttpAgent | undefined;
  let https: { agent: HttpsAgent; request: typeof import('node:https').request } | undefined;

  /** One request and its response headers, under the headers timeout (which covers the connect) and the deadline. */
  async function exchange(url: URL, method: string, headers: OutgoingHttpHeaders, body: string | Buffer | undefined, signal: AbortSignal, onSent?: () => void): Promise<IncomingMessage> {
    let send = httpRequest;
    let agent: HttpAgent = (http ??= new HttpAgent(agentOptions));
    if (url.protocol === 'https:') {
      // node:https (and TLS) only when a provider is really on https.
      if (!https) {
        const m = await import('node:https');
        https = { agent: new m.Agent(agentOptions), request: m.request };
      }
      send = https.request;
      agent = https.agent;
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const req = send(url, { method, headers, agent });
      const done = (err: FetchError | undefined, res?: IncomingMessage): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(res!);
      };
      const onAbort = (): void => done(new FetchError('deadline exceeded', 'timeout'));
      const timer = setTimeout(() => done(new FetchError('timed out (headers)', 'timeout')), options.headersTimeoutMs);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => done(classify(err, signal)));
      req.on('response', (res) => done(undefined, res));
      if (onSent) req.once('finish', onSent);
      req.end(body);
    });
  }

  /**
   * Sends, follows GET redirects by hand, and hands back the final response
   * with its body still unread (the caller reads or discards it).
   */
  async function send(url: string, opts: HttpRequestOptions): Promise<{ res: IncomingMessage; url: string }> {
    const method = opts.method ?? 'GET';
    const follow = method === 'GET' && opts.followRedirects !== false;
    const headers: OutgoingHttpHeaders = { accept: 'application/json', 'user-agent': 'agentprov', ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
    let current = new URL(url);
    const seen = new Set<string>();
    for (let hop = 0; ; hop++) {
      assertFetchableUrl(current);
      seen.add(current.href);
      const res = await exchange(current, method, headers, opts.body, opts.signal, hop === 0 ? opts.onSent : undefined);
      const statusCode = res.statusCode ?? 0;
      if (follow && statusCode >= 300 && statusCode < 400 && statusCode !== 304) {
        discard(res);
        const location = header(res.headers, 'location');
        if (!location) throw new FetchError(`redirect ${statusCode} without a Location`, 'redirect');
        const next = new URL(location, current);
        if (seen.has(next.href)) throw new FetchError(`redirect loop at ${next.href}`, 'redirect');
        if (hop + 1 > MAX_REDIRECTS) throw new FetchError(`more than ${MAX_REDIRECTS} redirects`, 'redirect');
        // One origin per provider (docs/protocol.md §0.1): a redirect never leaves it, so no request, with
        // or without credentials, reaches another host, another port, plain http or a loopback address.
        if (next.origin !== current.origin) throw new FetchError(`refusing redirect from ${current.origin} to another origin (${next.origin})`, 'redirect');
        current = next;
        continue;
      }
      return { res, url: current.href };
    }
  }

  return {
    async request(url, opts) {
      const { res, url: finalUrl } = await send(url, opts);
      if (opts.method === 'HEAD') {
        // A HEAD response has no content whatever its Content-Length says (RFC 9110 §9.3.2).
        res.on('error', () => undefined);
        res.resume();
        return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0), url: finalUrl };
      }
      const body = await readCapped(res, opts.maxBytes, options.bodyTimeoutMs, opts.signal);
      return { status: res.statusCode ?? 0, headers: res.headers, body, url: finalUrl };
    },

    async get(url, opts) {
      const { res, url: finalUrl } = await send(url, {
        signal: opts.signal,
        maxBytes: opts.maxBytes,
        ...(opts.etag ? { headers: { 'if-none-match': opts.etag } } : {}),
        ...(opts.followRedirects !== undefined ? { followRedirects: opts.followRedirects } : {}),
        ...(opts.onSent ? { onSent: opts.onSent } : {}),
      });
      const statusCode = res.statusCode ?? 0;
      const maxAge = freshFor(header(res.headers, 'cache-control'), header(res.headers, 'age'));
      const etag = header(res.headers, 'etag');
      if (statusCode === 304) {
        discard(res);
        return { status: 304, maxAge, url: finalUrl, ...(etag ? { etag } : {}) };
      }
      if (statusCode !== 200) {
        discard(res);
        throw new FetchError(`HTTP ${statusCode}`, 'http_status', statusCode);
      }
      const buf = await readCapped(res, opts.maxBytes, options.bodyTimeoutMs, opts.signal);
      return { status: 200, body: buf, maxAge, url: finalUrl, ...(etag && etag.length <= 512 ? { etag } : {}) };
    },

    async close() {
      http?.destroy();
      https?.agent.destroy();
    },
  };
}

function classify(err: unknown, signal: AbortSignal): FetchError {
  if (err instanceof FetchError) return err;
  const e = err as { name?: string; code?: string; message?: string };
  if (signal.aborted || e?.name === 'AbortError' || e?.code === 'ABORT_ERR') return new FetchError('deadline exceeded', 'timeout');
  if (e?.code === 'ETIMEDOUT') return new FetchError(`timed out (${e.code})`, 'timeout');
  return new FetchError(e?.code ? `${e.code}: ${e.message ?? ''}`.trim() : (e?.message ?? String(err)), 'network');
}
