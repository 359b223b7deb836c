/**
 * The one bounded HTTP client for remote documents and APIs (catalogs,
 * descriptors, provisioning), over one undici pool. Every request is
 * bounded: header and body timeouts, the caller's overall deadline
 * (AbortSignal), a body size cap enforced while the body streams in, and
 * redirects (GET only) followed by hand (undici 7 follows none) so that a
 * loop, a long chain or a hop from loopback to another host is refused
 * (docs/protocol.md §0: https, except on loopback).
 *
 * `request` returns any status with its (capped) body; `get` is the document
 * fetch of the catalog layer: 200 or 304 (conditional on an ETag), anything
 * else is a FetchError.
 */
import { Agent, request } from 'undici';
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
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Request headers (lower-case names); `accept` and `user-agent` have defaults. */
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal: AbortSignal;
  /** Largest response body read; a larger one is a FetchError('too_large'). */
  maxBytes: number;
  /** GET only: follow up to MAX_REDIRECTS redirects (default true). Other methods never follow. */
  followRedirects?: boolean;
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
  get(url: string, opts: { signal: AbortSignal; maxBytes: number; etag?: string | undefined; followRedirects?: boolean }): Promise<FetchedDocument>;
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

/** Drop a body we will not read; undici reports the abort as an 'error' event, which is expected here. */
function discard(body: { on(event: 'error', fn: () => void): unknown; destroy(): void }): void {
  body.on('error', () => undefined);
  body.destroy();
}

export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readCapped(
  body: AsyncIterable<Buffer> & { on(event: 'error', fn: () => void): unknown; destroy(): void },
  maxBytes: number,
  declared: number,
): Promise<Buffer> {
  if (Number.isFinite(declared) && declared > maxBytes) {
    discard(body);
    throw new FetchError(`body of ${declared} bytes exceeds the ${maxBytes}-byte limit`, 'too_large');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      discard(body);
      throw new FetchError(`body exceeds the ${maxBytes}-byte limit`, 'too_large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

export function createFetcher(options: { headersTimeoutMs: number; bodyTimeoutMs: number }): Fetcher {
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 8, pipelining: 1, connect: { timeout: options.headersTimeoutMs } });

  /**
   * Sends, follows GET redirects by hand, and hands back the final response
   * with its body still unread (the caller reads or discards it).
   */
  async function send(url: string, opts: HttpRequestOptions) {
    const method = opts.method ?? 'GET';
    const follow = method === 'GET' && opts.followRedirects !== false;
    let current = new URL(url);
    const seen = new Set<string>();
    for (let hop = 0; ; hop++) {
      assertFetchableUrl(current);
      seen.add(current.href);
      let res;
      try {
        res = await request(current, {
          method,
          dispatcher: agent,
          headers: { accept: 'application/json', 'user-agent': 'agentprov', ...opts.headers },
          ...(opts.body !== undefined ? { body: opts.body } : {}),
          signal: opts.signal,
          headersTimeout: options.headersTimeoutMs,
          bodyTimeout: options.bodyTimeoutMs,
          // No redirect option: undici 7's request() follows none (it takes the redirect interceptor, which this agent lacks).
        });
      } catch (err) {
        throw classify(err, opts.signal);
      }
      const { statusCode, headers } = res;
      if (follow && statusCode >= 300 && statusCode < 400 && statusCode !== 304) {
        discard(res.body);
        const location = header(headers, 'location');
        if (!location) throw new FetchError(`redirect ${statusCode} without a Location`, 'redirect');
        const next = new URL(location, current);
        if (seen.has(next.href)) throw new FetchError(`redirect loop at ${next.href}`, 'redirect');
        if (hop + 1 > MAX_REDIRECTS) throw new FetchError(`more than ${MAX_REDIRECTS} redirects`, 'redirect');
        if (isLoopbackHost(current.hostname) && !isLoopbackHost(next.hostname)) {
          throw new FetchError(`refusing redirect from loopback ${current.host} to ${next.host}`, 'redirect');
        }
        if (current.protocol === 'https:' && next.protocol !== 'https:') throw new FetchError('refusing redirect from https to http', 'redirect');
        current = next;
        continue;
      }
      return { res, url: current.href };
    }
  }

  return {
    async request(url, opts) {
      const { res, url: finalUrl } = await send(url, opts);
      try {
        const body = await readCapped(res.body, opts.maxBytes, Number(header(res.headers, 'content-length') ?? NaN));
        return { status: res.statusCode, headers: res.headers, body, url: finalUrl };
      } catch (err) {
        throw classify(err, opts.signal);
      }
    },

    async get(url, opts) {
      const { res, url: finalUrl } = await send(url, {
        signal: opts.signal,
        maxBytes: opts.maxBytes,
        ...(opts.etag ? { headers: { 'if-none-match': opts.etag } } : {}),
        ...(opts.followRedirects !== undefined ? { followRedirects: opts.followRedirects } : {}),
      });
      const { statusCode, headers, body } = res;
      const maxAge = parseMaxAge(header(headers, 'cache-control'));
      const etag = header(headers, 'etag');
      if (statusCode === 304) {
        discard(body);
        return { status: 304, maxAge, url: finalUrl, ...(etag ? { etag } : {}) };
      }
      if (statusCode !== 200) {
        discard(body);
        throw new FetchError(`HTTP ${statusCode}`, 'http_status', statusCode);
      }
      try {
        const buf = await readCapped(body, opts.maxBytes, Number(header(headers, 'content-length') ?? NaN));
        return { status: 200, body: buf, maxAge, url: finalUrl, ...(etag && etag.length <= 512 ? { etag } : {}) };
      } catch (err) {
        throw classify(err, opts.signal);
      }
    },

    close: () => agent.close(),
  };
}

function classify(err: unknown, signal: AbortSignal): FetchError {
  if (err instanceof FetchError) return err;
  const e = err as { name?: string; code?: string; message?: string };
  if (signal.aborted || e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED') return new FetchError('deadline exceeded', 'timeout');
  if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new FetchError(`timed out (${e.code})`, 'timeout');
  }
  return new FetchError(e?.code ? `${e.code}: ${e.message ?? ''}`.trim() : (e?.message ?? String(err)), 'network');
}
