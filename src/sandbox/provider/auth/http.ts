/**
 * The error shape and page headers of the pages this authorization server
 * serves itself (the interaction routes), on top of ../../shared/http.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as shared from '../../shared/http.js';

export { sendJson } from '../../shared/http.js';

/** Form posts from the sign-in and consent pages are tiny. */
const MAX_FORM_BYTES = 4096;

export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads an `application/x-www-form-urlencoded` body of at most MAX_FORM_BYTES. */
export function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  return shared.readForm(req, MAX_FORM_BYTES, {
    wrongType: () => new BodyError(415, 'body must be application/x-www-form-urlencoded'),
    tooLarge: () => new BodyError(413, 'body too large'),
    duplicate: (key) => new BodyError(400, `${key}: given more than once`),
  });
}

const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  shared.sendHtml(res, status, html, PAGE_HEADERS);
}
