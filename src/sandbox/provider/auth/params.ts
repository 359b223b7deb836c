/**
 * zod parsing of the token endpoint parameters our custom grants read, so
 * bad input becomes RFC 6749 `invalid_request` (400) naming the field.
 * oidc-provider itself has already bounded the body (56 KiB) and rejected
 * duplicated parameters.
 */
import { errors } from 'oidc-provider';
import type { z } from 'zod';

export function parseParams<S extends z.ZodType>(schema: S, params: unknown): z.infer<S> {
  const parsed = schema.safeParse(params);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') || 'request';
  throw new errors.InvalidRequest(`${field}: ${issue?.message ?? 'invalid'}`);
}

/** An RFC 6749 error with extra members (oidc-provider renders `error` + `error_description`). */
export class TokenError extends errors.CustomOIDCProviderError {
  constructor(code: string, description: string) {
    super(code, description);
  }
}
