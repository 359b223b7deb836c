/**
 * Redeeming a payment token (provider side): exactly once, for at most the
 * token's max amount, in its currency, by the provider it is bound to, before
 * it expires. Any refusal changes nothing. Runs inside JsonState.update, so
 * concurrent redemptions of one token are serialized and only one succeeds.
 */
import type { PaymentTokenStatusResponse, RedemptionRequest, RedemptionResponse } from '../../wire/rail.js';
import { RailError } from './errors.js';
import type { TokenSecrets } from './token-secrets.js';
import { tokenStatus, type RailState, type StoredRedemption, type StoredToken } from './state.js';

export interface RedeemContext {
  provider: string;
  now: number;
  secrets: TokenSecrets;
  /** Fault switch (conformance tests): skip the single-redemption check. */
  redeemTwice?: boolean;
}

export function redeemToken(draft: RailState, req: RedemptionRequest, ctx: RedeemContext): StoredRedemption {
  const hash = ctx.secrets.hash(req.payment_token);
  const token = draft.tokens.find((t) => t.token_hash === hash);
  if (!token) throw new RailError(400, 'TOKEN_UNKNOWN', 'no such payment token', { field: 'payment_token' });
  if (token.provider !== ctx.provider) {
    throw new RailError(403, 'WRONG_PROVIDER', 'this payment token is bound to another provider');
  }
  if (token.service !== req.service) {
    throw new RailError(403, 'WRONG_SERVICE', 'this payment token is bound to another service');
  }
  const status = tokenStatus(token, ctx.now);
  if (status === 'redeemed' && ctx.redeemTwice !== true) {
    const earlier = draft.redemptions.find((r) => r.id === token.redemption_id);
    throw new RailError(409, 'TOKEN_ALREADY_REDEEMED', 'this payment token was already redeemed', {
      redemption_id: token.redemption_id,
      redeemed_at: earlier?.redeemed_at ?? null,
      reference: earlier?.reference ?? null,
    });
  }
  if (status === 'expired') {
    throw new RailError(409, 'TOKEN_EXPIRED', 'this payment token has expired', { expires_at: token.expires_at });
  }
  if (req.currency !== token.currency) {
    throw new RailError(400, 'CURRENCY_MISMATCH', `this payment token is in ${token.currency}`, {
      field: 'currency', expected: token.currency,
    });
  }
  if (req.amount > token.max_amount) {
    throw new RailError(400, 'AMOUNT_EXCEEDS_MAXIMUM', 'amount exceeds the maximum this token allows', {
      field: 'amount', max_amount: token.max_amount,
    });
  }
  const redemption: StoredRedemption = {
    id: ctx.secrets.newRedemptionId(),
    payment_token_id: token.id,
    provider: token.provider,
    service: token.service,
    user: token.user,
    amount: req.amount,
    currency: token.currency,
    reference: req.reference,
    redeemed_at: new Date(ctx.now).toISOString(),
  };
  token.redemption_id = redemption.id;
  draft.redemptions.push(redemption);
  return redemption;
}

export function redemptionResponse(r: StoredRedemption): RedemptionResponse {
  return { ...r };
}

export function tokenStatusResponse(state: Readonly<RailState>, token: StoredToken, now: number): PaymentTokenStatusResponse {
  const redemption = state.redemptions.find((r) => r.id === token.redemption_id);
  return {
    id: token.id,
    provider: token.provider,
    service: token.service,
    max_amount: token.max_amount,
    currency: token.currency,
    status: tokenStatus(token, now),
    expires_at: token.expires_at,
    redemption_id: token.redemption_id,
    redeemed_amount: redemption?.amount ?? null,
  };
}
