/**
 * Small HTTP plumbing for the sandbox provider: one request/response pair
 * (`Exchange`), bounded body reading, JSON replies and the protocol's error
 * body `{ error: { code, message, field?, details? } }`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { ProviderErrorCode } from '../../wire/provider.js';
import * as shared from '../shared/http.js';

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Set by the fault switches: trickle the response body at this rate. */
  slowBytesPerSec?: number;
}

/** A failure that becomes an error response. Thrown by handlers, caught once in the server. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ProviderErrorCode,
    message: string,
    readonly extra: { field?: string; details?: Record<string, unknown>; headers?: Record<string, string>; body?: Record<string, unknown> } = {},
  ) {
    super(message);
  }
}

export function send(ex: Exchange, status: number, headers: Record<string, string>, body: string | Buffer = ''): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  ex.res.writeHead(status, { ...headers, 'Content-Length': String(buf.length) });
  const rate = ex.slowBytesPerSec;
  if (!rate || buf.length === 0) {
    ex.res.end(buf);
    return;
  }
  const chunk = Math.max(1, Math.floor(rate / 10)); // one chunk every 100 ms
  let offset = 0;
  const tick = (): void => {
    if (ex.res.destroyed) return;
    const part = buf.subarray(offset, offset + chunk);
    offset += part.length;
    if (offset >= buf.length) ex.res.end(part);
    else ex.res.write(part, () => setTimeout(tick, 100));
  };
  tick();
}

export function sendJson(ex: Exchange, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(ex, status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers }, JSON.stringify(body));
}

export function sendError(ex: Exchange, err: ApiError): void {
  const { field, details, headers, body } = err.extra;
  sendJson(
    ex,
    err.status,
    { error: { code: err.code, message: err.message, ...(field ? { field } : {}), ...(details ? { details } : {}) }, ...body },
    headers,
  );
}

/** Read the request body, refusing more than `limit` bytes with 413. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return shared.readBody(req, limit, () => new ApiError(413, 'PAYLOAD_TOO_LARGE', `request body larger than ${limit} bytes`, { field: 'body' }));
}

/** Read a JSON body and parse it with `schema`; the first issue names the field in a 400. */
export async function readJson<S extends z.ZodType>(req: IncomingMessage, limit: number, schema: S): Promise<z.output<S>> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json', { field: 'Content-Type' });
  }
  const raw = await readBody(req, limit);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError(400, 'INVALID_REQUEST', 'request body is not valid JSON', { field: 'body' });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
    throw new ApiError(400, 'INVALID_REQUEST', `${field}: ${issue?.message ?? 'invalid'}`, { field });
  }
  return parsed.data;
}

/** 405 with `Allow`; HEAD is allowed wherever GET is (RFC 9110 §9.3.2, see server.ts). */
export function methodNotAllowed(allowed: string[]): ApiError {
  const all = allowed.includes('GET') && !allowed.includes('HEAD') ? [...allowed, 'HEAD'] : allowed;
  return new ApiError(405, 'METHOD_NOT_ALLOWED', 'method not allowed', { headers: { Allow: all.join(', ') } });
}
