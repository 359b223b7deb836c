/**
 * Small HTTP helpers for the rail's `node:http` server: bounded JSON bodies,
 * zod parsing that names the offending field, JSON replies and the two
 * credential schemes (user Bearer token, provider HTTP Basic).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { RAIL_MAX_BODY_BYTES, type RailErrorBody } from '../../protocol/rail.js';
import { RailError, invalidRequest } from './errors.js';

const tooLarge = (): RailError =>
  new RailError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${RAIL_MAX_BODY_BYTES} bytes`, {
    limit: RAIL_MAX_BODY_BYTES,
  }, { connection: 'close' }); // do not drain the rest of an oversized body

/** Reads at most RAIL_MAX_BODY_BYTES and parses them as JSON. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > RAIL_MAX_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > RAIL_MAX_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw invalidRequest('body', 'a JSON object is required');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalidRequest('body', `malformed JSON (${(err as Error).message})`);
  }
}

/** Parses `value` with `schema`; a failure is a 400 naming the first bad field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, root = 'body'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.map(String).join('.') || root}: ${i.message}`);
  const first = result.error.issues[0];
  const field = first && first.path.length > 0 ? first.path.map(String).join('.') : root;
  throw invalidRequest(field, first?.message ?? 'invalid', issues);
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

export function sendError(res: ServerResponse, err: RailError): void {
  const body: RailErrorBody = { error: { code: err.code, message: err.message, details: err.details } };
  sendJson(res, err.status, body, err.headers);
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const BASIC = /^Basic +([A-Za-z0-9+/]+=*)$/i;
const MAX_AUTHORIZATION = 8192;

const unauthorized = (challenge: string, message: string): RailError =>
  new RailError(401, 'UNAUTHORIZED', message, {}, { 'www-authenticate': challenge });

/** The user's access token from `Authorization: Bearer …` (RFC 6750 §2.1). */
export function bearerToken(req: IncomingMessage): string {
  const header = req.headers.authorization ?? '';
  const match = header.length <= MAX_AUTHORIZATION ? BEARER.exec(header) : null;
  if (!match?.[1]) throw unauthorized('Bearer realm="agentprov-rail"', 'a Bearer access token is required');
  return match[1];
}

export const invalidBearer = (): RailError =>
  unauthorized('Bearer realm="agentprov-rail", error="invalid_token"', 'the access token is invalid or expired');

export const basicChallenge = 'Basic realm="agentprov-rail", charset="UTF-8"';

/** Provider credentials from `Authorization: Basic …` (RFC 7617). */
export function basicCredentials(req: IncomingMessage): { id: string; secret: string } {
  const header = req.headers.authorization ?? '';
  const match = header.length <= MAX_AUTHORIZATION ? BASIC.exec(header) : null;
  const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw unauthorized(basicChallenge, 'provider credentials (HTTP Basic) are required');
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

export const invalidBasic = (): RailError => unauthorized(basicChallenge, 'invalid provider credentials');
