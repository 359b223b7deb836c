/**
 * The Stripe-signed surface (docs/protocol.md §APP.6), for teams whose APP
 * implementation Stripe calls: `Stripe-Signature: t=<unix s>,v1=<hex>`,
 * v1 = HMAC-SHA256(secret, "<t>." + raw body). A good signature is
 * accepted; a stale timestamp, a signature with another secret and no
 * signature at all are refused with 401. The secret came from standard
 * input and is in the redactor: no detail can show it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { SuiteContext } from '../types.js';
import { appClient } from './client.js';

const STALE_S = 600;

export function stripeSignature(secret: string, t: number, raw: string): string {
  return createHmac('sha256', secret).update(`${t}.`).update(raw).digest('hex');
}

export async function stripeChecks(ctx: SuiteContext): Promise<void> {
  const { report, http } = ctx;
  const ids = ['app.stripe.signed', 'app.stripe.stale_timestamp', 'app.stripe.wrong_signature', 'app.stripe.missing_signature'];
  if (!ctx.stripe) {
    for (const id of ids) report.skip(id, 'no Stripe surface checked: give the signing secret with --stripe-signing-secret-stdin');
    return;
  }
  const { secret, base } = ctx.stripe;
  const app = appClient(http, base);
  const now = Math.floor(Date.now() / 1000);
  const signed = (t: number, key: string): Record<string, string> => ({ 'stripe-signature': `t=${t},v1=${stripeSignature(key, t, '')}` });
  // health: signed like every route of the surface, and outside any rate limit the services list may have.
  const get = (headers: Record<string, string>) => app.send('GET', 'provisioning/health', { headers });

  const good = await get(signed(now, secret));
  report.expect(ids[0]!, good.status === 200, http.describe(good, 'signed with the secret'));
  const stale = await get(signed(now - STALE_S, secret));
  report.expect(ids[1]!, stale.status === 401, http.describe(stale, `t ${STALE_S} s ago`));
  const wrong = await get(signed(now, randomBytes(24).toString('hex')));
  report.expect(ids[2]!, wrong.status === 401, http.describe(wrong, 'signed with another secret'));
  const missing = await get({});
  report.expect(ids[3]!, missing.status === 401, http.describe(missing, 'no Stripe-Signature'));
}
