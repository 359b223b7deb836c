/**
 * The suite for APP 0.1d (docs/protocol.md §APP): basics, the way in
 * (CIMD, account requests, PKCE, refresh), resources, and with a signing
 * secret the Stripe-signed surface. A group that cannot start leaves its
 * checks "not reached" (skipped).
 */
import { APP_VERSION, AppHealth } from '../../wire/app.js';
import { guard } from '../run.js';
import type { Suite } from '../types.js';
import { accountChecks, basicChecks, refreshCheck, signUp } from './account.js';
import { APP_CHECKS } from './checks.js';
import { appClient } from './client.js';
import { resourceChecks } from './resources.js';
import { stripeChecks } from './stripe.js';

/** PostHog's layout, which the sandbox mirrors: the Stripe surface beside the partner one. */
export function defaultStripeBase(url: string): string {
  return new URL('/api/partners/stripe/', url).href;
}

const ids = (prefix: string): string[] => APP_CHECKS.map((c) => c.id).filter((id) => id.startsWith(prefix));

export const appSuite: Suite = {
  protocol: 'app',
  checks: APP_CHECKS,
  async detect({ url, http }) {
    const a = await appClient(http, url).send('GET', 'provisioning/health', { version: APP_VERSION });
    return a.status === 200 && AppHealth.safeParse(a.json).success;
  },
  async run(ctx) {
    const app = appClient(ctx.http, ctx.url);
    let services: Awaited<ReturnType<typeof basicChecks>>;
    await guard(ctx.report, ['app.health', 'app.api_version', 'app.services'], async () => {
      services = await basicChecks(ctx, app);
    });
    const list = services;
    if (list) {
      let tokens: Awaited<ReturnType<typeof accountChecks>>;
      await guard(ctx.report, [...ids('app.cimd'), ...ids('app.account_request'), ...ids('app.token.')], async () => {
        tokens = await accountChecks(ctx, app);
      });
      const t = tokens;
      if (t) {
        await guard(ctx.report, ['app.refresh.rotation'], () => refreshCheck(ctx, app, t));
        await guard(ctx.report, [...ids('app.resources.'), 'app.errors.envelope', 'app.rate_limit'], async () =>
          resourceChecks(ctx, app, await signUp(ctx, app), list),
        );
      }
    }
    await guard(ctx.report, ids('app.stripe.'), () => stripeChecks(ctx));
  },
};
