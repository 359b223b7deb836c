/**
 * Small HTTP helpers for the rail's `node:http` server: bounded JSON bodies,
 * zod parsing that names the offending field, JSON replies and the two
 * credential schemes (user Bearer token, provider HTTP Basic).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod';
import { RAIL_MAX_BODY_BYTES, type RailErrorBody } from '../../wire/rail.js';
import { parseBasic, parseBearer, readBody, sendJson } from '../shared/http.js';
import { RailError, invalidRequest } from './errors.js';

export { sendJson } from '../shared/http.js';

const tooLarge = (): RailError =>
  new RailError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${RAIL_MAX_BODY_BYTES} bytes`, {
    limit: RAIL_MAX_BODY_BYTES,
  }, { connection: 'close' }); // do not drain the rest of an oversized body

/** Reads at most RAIL_MAX_BODY_BYTES and parses them as JSON. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const text = (await readBody(req, RAIL_MAX_BODY_BYTES, tooLarge)).toString('utf8');
  if (text.trim() === '') throw invalidRequest('body', 'a JSON object is required');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not the parser's message: it quotes the body, which may hold a payment token.
    throw invalidRequest('body', 'malformed JSON');
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

export function sendError(res: ServerResponse, err: RailError): void {
  const body: RailErrorBody = { error: { code: err.code, message: err.message, details: err.details } };
  sendJson(res, err.status, body, err.headers);
}

const unauthorized = (challenge: string, message: string): RailError =>
  new RailError(401, 'UNAUTHORIZED', message, {}, { 'www-authenticate': challenge });

/** The user's access token from `Authorization: Bearer …` (RFC 6750 §2.1). */
export function bearerToken(req: IncomingMessage): string {
  const token = parseBearer(req.headers.authorization);
  if (!token) throw unauthorized('Bearer realm="agentprov-rail"', 'a Bearer access token is required');
  return token;
}

export const invalidBearer = (): RailError =>
  unauthorized('Bearer realm="agentprov-rail", error="invalid_token"', 'the access token is invalid or expired');

const basicChallenge = 'Basic realm="agentprov-rail", charset="UTF-8"';

/** Provider credentials from `Authorization: Basic …` (RFC 7617). */
export function basicCredentials(req: IncomingMessage): { id: string; secret: string } {
  const credentials = parseBasic(req.headers.authorization);
  if (!credentials) throw unauthorized(basicChallenge, 'provider credentials (HTTP Basic) are required');
  return credentials;
}

export const invalidBasic = (): RailError => unauthorized(basicChallenge, 'invalid provider credentials');
