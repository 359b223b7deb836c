/**
 * Wire schemas of the orchestrator's payment rail (docs/protocol.md §6), shared by the
 * CLI (client) and the sandbox rail (server).
 *
 * Amounts are integer minor units; the only currency is "USD" (uppercase,
 * enforced). Requests are strict (unknown members are refused); responses
 * strip unknown members so clients tolerate additions.
 *
 * Endpoints:
 * - `POST /v1/payment_tokens` (user Bearer)        CreatePaymentTokenRequest → 201 PaymentTokenResponse
 * - `POST /v1/redemptions` (provider Basic)        RedemptionRequest → 200 RedemptionResponse
 * - `GET  /v1/payment_tokens/:id` (provider Basic) → 200 PaymentTokenStatusResponse
 * - `GET  /v1/spend` (user Bearer)                 → 200 SpendResponse
 * - `PUT  /v1/caps/:provider` (user Bearer)        SetProviderCapRequest → 200 CapResponse
 * - `PUT  /v1/caps/global` (user Bearer)           SetGlobalCapRequest → 200 CapResponse
 *   A raise without `approval` → 403 CAP_RAISE_APPROVAL_REQUIRED whose details
 *   are the pending change (cap-approval.ts PendingCapChange); with the
 *   approval token the identity provider issued for that change → 200.
 * Every refusal: RailErrorBody `{ error: { code, message, details } }`.
 */
import * as z from 'zod';

export const RAIL_CURRENCY = 'USD';
/** Prefix of the opaque payment token secret. */
export const PAYMENT_TOKEN_PREFIX = 'pt_';
/** Default monthly cap per provider: 100.00 USD (docs/protocol.md §6). */
export const DEFAULT_PROVIDER_CAP = 10_000;
/** Upper bound of any amount on the wire (1,000,000,000.00 USD). */
export const MAX_MINOR_AMOUNT = 100_000_000_000;
/** Request bodies larger than this are refused with 413. */
export const RAIL_MAX_BODY_BYTES = 16 * 1024;

/** The currencies this rail issues tokens in (only "USD"). */
export const Currency = z.literal(RAIL_CURRENCY, { error: 'currency must be "USD"' });
/** Any ISO 4217 code, uppercase; a redemption naming another than the token's is CURRENCY_MISMATCH. */
export const CurrencyCode = z.string().regex(/^[A-Z]{3}$/, 'currency: ISO 4217 code, uppercase');
export const MinorAmount = z.int().min(0).max(MAX_MINOR_AMOUNT);
export const ProviderId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'provider id: 1-64 of [a-z0-9._-]');
export const ServiceId = z.string().regex(/^[a-z0-9][a-z0-9:._/-]{0,127}$/, 'service id: 1-128 of [a-z0-9:._/-]');
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'idempotency key: 1-255 printable ASCII');
export const PaymentTokenSecret = z.string().regex(/^pt_[A-Za-z0-9_-]{16,200}$/, 'not a payment token');
export const IsoDateTime = z.iso.datetime({ offset: true });
export const Month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/);

export const CreatePaymentTokenRequest = z.strictObject({
  provider: ProviderId,
  service: ServiceId,
  max_amount: MinorAmount.min(1),
  currency: Currency,
  idempotency_key: IdempotencyKey.optional(),
});
export type CreatePaymentTokenRequest = z.infer<typeof CreatePaymentTokenRequest>;

export const PaymentTokenResponse = z.object({
  id: z.string(),
  payment_token: PaymentTokenSecret,
  provider: z.string(),
  service: z.string(),
  max_amount: z.int(),
  currency: Currency,
  expires_at: IsoDateTime,
});
export type PaymentTokenResponse = z.infer<typeof PaymentTokenResponse>;

export const RedemptionRequest = z.strictObject({
  payment_token: PaymentTokenSecret,
  /** The service being paid for: a token is bound to one service (WRONG_SERVICE otherwise). */
  service: ServiceId,
  amount: MinorAmount,
  currency: CurrencyCode,
  /** The provider's own reference for the charge (e.g. its provision id). */
  reference: z.string().min(1).max(200),
});
export type RedemptionRequest = z.infer<typeof RedemptionRequest>;

export const RedemptionResponse = z.object({
  id: z.string(),
  payment_token_id: z.string(),
  amount: z.int(),
  currency: Currency,
  provider: z.string(),
  service: z.string(),
  /** The paying user's subject at the orchestrator's identity provider. */
  user: z.string(),
  reference: z.string(),
  redeemed_at: IsoDateTime,
});
export type RedemptionResponse = z.infer<typeof RedemptionResponse>;

export const PaymentTokenStatus = z.enum(['held', 'redeemed', 'expired']);
export type PaymentTokenStatus = z.infer<typeof PaymentTokenStatus>;

export const PaymentTokenStatusResponse = z.object({
  id: z.string(),
  provider: z.string(),
  service: z.string(),
  max_amount: z.int(),
  currency: Currency,
  status: PaymentTokenStatus,
  expires_at: IsoDateTime,
  redemption_id: z.string().nullable(),
  redeemed_amount: z.int().nullable(),
});
export type PaymentTokenStatusResponse = z.infer<typeof PaymentTokenStatusResponse>;

export const SpendProvider = z.object({
  provider: z.string(),
  cap: z.int(),
  spent: z.int(),
  held: z.int(),
  remaining: z.int(),
});
export const SpendResponse = z.object({
  month: Month,
  currency: Currency,
  global_cap: z.int().nullable(),
  /** Totals across providers (spent this month, held now). */
  spent: z.int(),
  held: z.int(),
  providers: z.array(SpendProvider),
});
export type SpendResponse = z.infer<typeof SpendResponse>;

/** The approval token of a pending raise (cap-approval.ts); never needed to lower a cap. */
const Approval = z.string().min(1).max(8192);
export const SetProviderCapRequest = z.strictObject({ amount: MinorAmount, approval: Approval.optional() });
/** `amount: null` removes the global cap (a raise). */
export const SetGlobalCapRequest = z.strictObject({ amount: MinorAmount.nullable(), approval: Approval.optional() });
export type SetProviderCapRequest = z.infer<typeof SetProviderCapRequest>;
export type SetGlobalCapRequest = z.infer<typeof SetGlobalCapRequest>;

export const CapResponse = z.object({
  scope: z.enum(['provider', 'global']),
  provider: z.string().nullable(),
  cap: z.int().nullable(),
  previous_cap: z.int().nullable(),
  currency: Currency,
  /** A raise: the approved change it applied, and who approved it when (the approval token's `sub`, `iat`, `auth_time`). */
  change: z
    .object({ id: z.string().max(80), approved_by: z.string().max(255), approved_at: IsoDateTime, authenticated_at: IsoDateTime })
    .optional(),
});
export type CapResponse = z.infer<typeof CapResponse>;

export const RailErrorCode = z.enum([
  'INVALID_REQUEST',
  'PAYLOAD_TOO_LARGE',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'CAP_EXCEEDED',
  'PAYMENT_METHOD_REQUIRED',
  'CAP_RAISE_APPROVAL_REQUIRED',
  'CAP_APPROVAL_INVALID',
  'CAP_APPROVAL_EXPIRED',
  'CAP_APPROVAL_USED',
  'IDEMPOTENCY_KEY_REUSED',
  'TOKEN_UNKNOWN',
  'TOKEN_EXPIRED',
  'TOKEN_ALREADY_REDEEMED',
  'WRONG_PROVIDER',
  'WRONG_SERVICE',
  'AMOUNT_EXCEEDS_MAXIMUM',
  'CURRENCY_MISMATCH',
  'INTERNAL',
]);
export type RailErrorCode = z.infer<typeof RailErrorCode>;

/** Clients parse `code` as a string: a newer rail may add codes. */
export const RailErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
  }),
});
export type RailErrorBody = z.infer<typeof RailErrorBody>;

export const CapExceededDetails = z.object({
  /** Which cap refused: the provider's or the global one. */
  scope: z.enum(['provider', 'global']),
  cap: z.int(),
  spent: z.int(),
  held: z.int(),
  needed: z.int(),
  provider: z.string(),
  currency: Currency,
  month: Month,
});
export const PaymentMethodRequiredDetails = z.object({ url: z.string() });
