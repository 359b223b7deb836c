/**
 * The sandbox APP provider's Stripe-signed surface (docs/protocol.md §APP.6):
 * `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]` where each v1 is
 * lowercase hex HMAC-SHA256(secret, "<t>." + raw body). Any v1 may match
 * (secret rotation), compared in constant time; a timestamp more than
 * STRIPE_TOLERANCE_S away from now is refused. agentprov never signs as
 * Stripe: this serves provider teams and the conformance checker.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import * as z from 'zod';
import { AppError } from './state.js';

export const STRIPE_BASE_PATH = '/api/partners/stripe/';
export const STRIPE_TOLERANCE_S = 300;
const MAX_HEADER = 2048;
const MAX_V1 = 8;

const Pair = z.tuple([z.string().regex(/^[a-z0-9]{1,8}$/), z.string().max(MAX_HEADER)]);
const Timestamp = z.string().regex(/^\d{1,12}$/).transform(Number);
const V1 = z.string().regex(/^[0-9a-f]{64}$/);

/** v1 for a timestamp and raw body (tests and conformance use it to sign). */
export function stripeSignature(secret: string, t: number, raw: Buffer | string): string {
  return createHmac('sha256', secret).update(`${t}.`).update(raw).digest('hex');
}

/** Throws 401 `invalid_signature` (missing, malformed, no v1 matches) or 401 `stale_signature`. */
export function verifyStripeSignature(header: unknown, secret: string, raw: Buffer, nowS = Math.floor(Date.now() / 1000)): void {
  const bad = (why: string): AppError => new AppError(401, 'invalid_signature', `Stripe-Signature ${why}`);
  const h = z.string().min(1).max(MAX_HEADER).safeParse(header);
  if (!h.success) throw bad('missing or too long');
  let t: number | undefined;
  const v1: string[] = [];
  for (const part of h.data.split(',')) {
    const i = part.indexOf('=');
    const pair = Pair.safeParse([part.slice(0, i).trim(), part.slice(i + 1).trim()]);
    if (i < 1 || !pair.success) throw bad('malformed');
    const [k, v] = pair.data;
    if (k === 't') {
      const ts = Timestamp.safeParse(v);
      if (!ts.success || t !== undefined) throw bad('has a bad or repeated t');
      t = ts.data;
    } else if (k === 'v1') {
      const sig = V1.safeParse(v);
      if (sig.success && v1.length < MAX_V1) v1.push(sig.data);
    }
  }
  if (t === undefined || v1.length === 0) throw bad('needs t and v1');
  if (Math.abs(nowS - t) > STRIPE_TOLERANCE_S) throw new AppError(401, 'stale_signature', `Stripe-Signature timestamp outside ${STRIPE_TOLERANCE_S} s`);
  const want = Buffer.from(stripeSignature(secret, t, raw), 'hex');
  let ok = false;
  for (const sig of v1) ok = timingSafeEqual(want, Buffer.from(sig, 'hex')) || ok;
  if (!ok) throw bad('does not match');
}

/** The request again, its body (already read to verify it) replayed for the route's own readers. */
export function replay(req: IncomingMessage, raw: Buffer): IncomingMessage {
  return Object.assign(Readable.from(raw.length ? [raw] : []), { headers: req.headers, method: req.method, url: req.url }) as unknown as IncomingMessage;
}
