/**
 * The rail's refusals: an HTTP status, a stable code and JSON details,
 * serialized as `{ error: { code, message, details } }` (RailErrorBody).
 */
import type { RailErrorCode } from '../../wire/rail.js';

export class RailError extends Error {
  constructor(
    readonly status: number,
    readonly code: RailErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RailError';
  }
}

export const invalidRequest = (field: string, message: string, issues?: string[]): RailError =>
  new RailError(400, 'INVALID_REQUEST', `${field}: ${message}`, { field, ...(issues ? { issues } : {}) });

export const notFound = (what = 'no such endpoint'): RailError => new RailError(404, 'NOT_FOUND', what);
