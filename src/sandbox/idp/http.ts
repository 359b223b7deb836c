/** The sandbox identity provider's error shape and page headers on top of ../shared/http.ts. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as shared from '../shared/http.js';

export { sendJson } from '../shared/http.js';

const MAX_FORM_BYTES = 8 * 1024;

export class BadRequest extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const PAGE_HEADERS = {
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:*; frame-ancestors 'none'",
};

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  shared.sendHtml(res, status, html, PAGE_HEADERS);
}

export function sendBadRequest(res: ServerResponse, err: BadRequest): void {
  shared.sendJson(res, err.status, { error: 'invalid_request', error_description: err.message, field: err.field });
}

/** Reads an `application/x-www-form-urlencoded` body of at most MAX_FORM_BYTES. */
export function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  return shared.readForm(req, MAX_FORM_BYTES, {
    wrongType: () => new BadRequest('content-type', 'expected application/x-www-form-urlencoded', 415),
    tooLarge: () => new BadRequest('body', 'request body too large', 413),
    duplicate: (k) => new BadRequest(k, `duplicate parameter ${k}`),
  });
}
