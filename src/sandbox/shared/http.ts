/**
 * `node:http` plumbing shared by the sandbox's servers (identity provider,
 * rail, providers and their authorization servers): size-bounded bodies,
 * url-encoded forms, JSON and HTML replies, and the two Authorization
 * schemes. Each caller passes its own error factories, so every component
 * keeps its own error shape on the wire.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Reads the request body, refusing more than `limit` bytes (declared or sent) with `tooLarge()`. */
export async function readBody(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export interface FormErrors {
  /** The body is not `application/x-www-form-urlencoded`. */
  wrongType(): Error;
  tooLarge(): Error;
  /** A parameter is given more than once. */
  duplicate(key: string): Error;
}

/** Reads an `application/x-www-form-urlencoded` body of at most `limit` bytes; duplicated keys are refused. */
export async function readForm(req: IncomingMessage, limit: number, errors: FormErrors): Promise<Record<string, string>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw errors.wrongType();
  const body = await readBody(req, limit, errors.tooLarge);
  const form: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) {
    if (key in form) throw errors.duplicate(key);
    form[key] = value;
  }
  return form;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** `headers` carries the page's security headers (CSP and the like). */
export function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string>): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(html);
}

/** Escapes a value for HTML text and double- or single-quoted attributes. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Longest Authorization header looked at; longer ones count as absent credentials. */
const MAX_AUTHORIZATION = 8192;
/** RFC 6750 §2.1 `Bearer b64token`. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
/** RFC 7617 `Basic token68`. */
const BASIC = /^Basic +([A-Za-z0-9+/]+=*)$/i;

/** The token of `Authorization: Bearer …` (RFC 6750 §2.1), or undefined when absent or malformed. */
export function parseBearer(header: string | undefined): string | undefined {
  if (!header || header.length > MAX_AUTHORIZATION) return undefined;
  return BEARER.exec(header)?.[1];
}

/** `id:secret` of `Authorization: Basic …` (RFC 7617), or undefined when absent, malformed or without an id. */
export function parseBasic(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header || header.length > MAX_AUTHORIZATION) return undefined;
  const encoded = BASIC.exec(header)?.[1];
  const decoded = encoded ? Buffer.from(encoded, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}
