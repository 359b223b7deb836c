/**
 * The provider's side of the payment rail: redeem a user's single-use payment
 * token for the actual amount (docs/protocol.md §Payment), authenticated with
 * HTTP Basic `provider_id:secret` (RFC 7617, raw). The payment token is never logged.
 */
import { fetch } from 'undici';
import { RailErrorBody, RedemptionResponse, type RedemptionRequest } from '../../wire/rail.js';
import { ApiError } from './http.js';

const RAIL_TIMEOUT_MS = 10_000;
const MAX_RAIL_BODY = 16 * 1024;

export interface RedeemInput {
  paymentToken: string;
  /** The service paid for; the rail refuses a token minted for another. */
  service: string;
  amount: number;
  currency: string;
  /** The provision id, so the rail's ledger names what was bought. */
  reference: string;
}

export async function redeem(
  rail: { url: string; clientSecret: string },
  providerId: string,
  input: RedeemInput,
): Promise<{ id: string; amount: number; currency: string }> {
  const basic = Buffer.from(`${providerId}:${rail.clientSecret}`).toString('base64');
  let status: number;
  let text: string;
  try {
    const res = await fetch(new URL('/v1/redemptions', rail.url), {
      method: 'POST',
      headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({
        payment_token: input.paymentToken,
        service: input.service,
        amount: input.amount,
        currency: input.currency,
        reference: input.reference,
      } satisfies RedemptionRequest),
      signal: AbortSignal.timeout(RAIL_TIMEOUT_MS),
    });
    status = res.status;
    text = await res.text();
  } catch {
    throw railUnavailable('the payment rail could not be reached');
  }
  if (text.length > MAX_RAIL_BODY) throw railUnavailable('the payment rail answered with an oversized body');
  const json = safeJson(text);
  if (status >= 200 && status < 300) {
    const ok = RedemptionResponse.safeParse(json);
    if (!ok.success) throw railUnavailable('the payment rail answered with an unexpected body');
    return { id: ok.data.id, amount: ok.data.amount, currency: ok.data.currency };
  }
  if (status >= 500) throw railUnavailable(`the payment rail failed (HTTP ${status})`);
  const refusal = RailErrorBody.safeParse(json);
  const railCode = refusal.success ? refusal.data.error.code : `HTTP_${status}`;
  throw new ApiError(402, 'PAYMENT_DECLINED', 'the payment rail refused the payment token', {
    field: 'payment_token',
    details: { rail_code: railCode, rail_status: status },
  });
}

function railUnavailable(message: string): ApiError {
  return new ApiError(502, 'PAYMENT_RAIL_UNAVAILABLE', message, { details: { retryable: true } });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
