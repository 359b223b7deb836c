/**
 * Minting a payment token: bound to (user, provider, service, max amount,
 * currency, expiry, single use); its max amount is held against the user's
 * caps until it is redeemed or expires. Runs inside JsonState.update, so
 * concurrent mints are serialized and can never take the ledger over a cap.
 */
import type { CreatePaymentTokenRequest, PaymentTokenResponse } from '../../wire/rail.js';
import { RailError, invalidRequest } from './errors.js';
import type { TokenSecrets } from './token-secrets.js';
import { globalCap, monthOf, providerCap, totalUsage, usageByProvider, type RailState, type StoredToken } from './state.js';

export interface MintContext {
  user: string;
  now: number;
  ttlSeconds: number;
  secrets: TokenSecrets;
  knownProviders: ReadonlySet<string>;
}

export interface MintResult {
  token: StoredToken;
  /** True when an earlier mint with the same idempotency key is answered again. */
  replayed: boolean;
}

export function mintToken(draft: RailState, req: CreatePaymentTokenRequest, ctx: MintContext): MintResult {
  if (req.idempotency_key !== undefined) {
    const earlier = draft.tokens.find((t) => t.user === ctx.user && t.idempotency_key === req.idempotency_key);
    if (earlier) {
      const same = earlier.provider === req.provider && earlier.service === req.service
        && earlier.max_amount === req.max_amount && earlier.currency === req.currency;
      if (!same) {
        throw new RailError(409, 'IDEMPOTENCY_KEY_REUSED', 'this idempotency_key was used with different parameters', {
          field: 'idempotency_key',
        });
      }
      return { token: earlier, replayed: true };
    }
  }
  if (!ctx.knownProviders.has(req.provider)) throw invalidRequest('provider', 'unknown provider');

  assertWithinCaps(draft, req, ctx);

  const id = ctx.secrets.newTokenId();
  const token: StoredToken = {
    id,
    token_hash: ctx.secrets.hash(ctx.secrets.secretFor(id)),
    user: ctx.user,
    provider: req.provider,
    service: req.service,
    max_amount: req.max_amount,
    currency: req.currency,
    created_at: new Date(ctx.now).toISOString(),
    expires_at: new Date(ctx.now + ctx.ttlSeconds * 1000).toISOString(),
    redemption_id: null,
    idempotency_key: req.idempotency_key ?? null,
  };
  draft.tokens.push(token);
  return { token, replayed: false };
}

function assertWithinCaps(state: RailState, req: CreatePaymentTokenRequest, ctx: MintContext): void {
  const usage = usageByProvider(state, ctx.user, ctx.now);
  const base = { needed: req.max_amount, provider: req.provider, currency: req.currency, month: monthOf(ctx.now) };

  const own = usage.get(req.provider) ?? { spent: 0, held: 0 };
  const cap = providerCap(state, ctx.user, req.provider);
  if (own.spent + own.held + req.max_amount > cap) {
    throw new RailError(402, 'CAP_EXCEEDED', `the monthly cap for provider ${req.provider} would be exceeded`, {
      scope: 'provider', cap, spent: own.spent, held: own.held, ...base,
    });
  }
  const global = globalCap(state, ctx.user);
  const all = totalUsage(usage);
  if (global !== null && all.spent + all.held + req.max_amount > global) {
    throw new RailError(402, 'CAP_EXCEEDED', 'the global monthly cap would be exceeded', {
      scope: 'global', cap: global, spent: all.spent, held: all.held, ...base,
    });
  }
}

export function paymentTokenResponse(token: StoredToken, secrets: TokenSecrets): PaymentTokenResponse {
  return {
    id: token.id,
    payment_token: secrets.secretFor(token.id),
    provider: token.provider,
    service: token.service,
    max_amount: token.max_amount,
    currency: token.currency,
    expires_at: token.expires_at,
  };
}
