/**
 * Spending caps and the spend view (user side).
 *
 * Lowering a cap (or setting it to the same value) is always allowed; raising
 * it needs a sign-in no older than FRESH_AUTH_MAX_AGE_SECONDS, so an agent
 * holding an older access token cannot raise its own cap (DESIGN §8).
 */
import {
  FRESH_AUTH_MAX_AGE_SECONDS,
  RAIL_CURRENCY,
  type CapResponse,
  type SpendResponse,
} from '../../wire/rail.js';
import { RailError } from './errors.js';
import { globalCap, monthOf, providerCap, totalUsage, usageByProvider, type RailState } from './state.js';

export interface CapChange {
  user: string;
  /** Seconds since the epoch when the user last signed in. */
  authTime: number;
  now: number;
  /** A provider id, or null for the global cap. */
  provider: string | null;
  /** Minor units; null (global only) removes the cap. */
  amount: number | null;
  /** Raising needs a sign-in at most this old; default FRESH_AUTH_MAX_AGE_SECONDS. */
  maxAuthAgeSeconds?: number;
}

/** Is `next` a higher limit than `current`? null means "no limit". */
const isRaise = (current: number | null, next: number | null): boolean =>
  next === null ? current !== null : current !== null && next > current;

export function setCap(draft: RailState, change: CapChange): CapResponse {
  const { user, provider, amount } = change;
  const previous = provider === null ? globalCap(draft, user) : providerCap(draft, user, provider);
  const maxAge = change.maxAuthAgeSeconds ?? FRESH_AUTH_MAX_AGE_SECONDS;
  if (isRaise(previous, amount) && change.now / 1000 - change.authTime > maxAge) {
    throw new RailError(403, 'FRESH_AUTHENTICATION_REQUIRED', 'raising a cap needs a fresh sign-in', {
      max_age: maxAge,
    });
  }
  const caps = (draft.caps[user] ??= { global: null, providers: {} });
  if (provider === null) caps.global = amount;
  else if (amount === null) throw new Error('a provider cap cannot be removed');
  else caps.providers[provider] = amount;
  return {
    scope: provider === null ? 'global' : 'provider',
    provider,
    cap: amount,
    previous_cap: previous,
    currency: RAIL_CURRENCY,
  };
}

export function spendView(state: Readonly<RailState>, user: string, now: number): SpendResponse {
  const usage = usageByProvider(state, user, now);
  const ids = new Set([...Object.keys(state.caps[user]?.providers ?? {}), ...usage.keys()]);
  const providers = [...ids].sort().map((provider) => {
    const { spent, held } = usage.get(provider) ?? { spent: 0, held: 0 };
    const cap = providerCap(state, user, provider);
    return { provider, cap, spent, held, remaining: Math.max(0, cap - spent - held) };
  });
  return {
    month: monthOf(now),
    currency: RAIL_CURRENCY,
    global_cap: globalCap(state, user),
    ...totalUsage(usage),
    providers,
  };
}
