/**
 * Payment-token redemption bounds (docs/protocol.md §6): with tokens from the
 * orchestrator's rail the provider redeems at, a token whose maximum is below
 * the price, one already redeemed, and one bound to another provider must
 * each be refused with 402 PAYMENT_DECLINED. The second-redemption check
 * really buys the cheapest paid service once (removed at cleanup), so these
 * checks run only with --allow-paid and a rail; otherwise they are skipped.
 */
import { ProviderErrorBodySchema, ProvisionSchema } from '../../wire/provider.js';
import type { Answer, ConformanceHttp } from '../http.js';
import type { SuiteContext } from '../types.js';
import type { Discovered } from './discovery.js';
import type { Grants } from './idjag.js';
import { needsNoConfig, newKey, newName, provisioning } from './provisioning.js';

const IDS = ['agentprov.payment.over_maximum', 'agentprov.payment.second_redemption', 'agentprov.payment.other_provider'] as const;

export async function paymentChecks(ctx: SuiteContext, d: Discovered, grants: Grants): Promise<void> {
  const { http, report, rail } = ctx;
  const skipAll = (why: string): void => IDS.forEach((id) => report.skip(id, why));
  if (!ctx.allowPaid) return skipAll('creates a paid resource (once, removed afterwards): run with --allow-paid');
  if (!rail) return skipAll('no payment rail known: sign in (agentprov init) at the orchestrator whose rail this provider redeems at');
  const paid = d.services
    .filter((s) => (s.pricing.type === 'one_time' || s.pricing.type === 'recurring') && s.pricing.amount !== undefined && s.pricing.currency !== undefined && needsNoConfig(s))
    .sort((a, b) => (a.pricing.amount ?? 0) - (b.pricing.amount ?? 0))[0];
  if (!paid) return skipAll('the catalog has no paid service that needs no config');
  const price = paid.pricing.amount!;
  const currency = paid.pricing.currency!;
  const provider = d.descriptor.provider_id;

  const mint = async (forProvider: string, max: number): Promise<string | undefined> => {
    try {
      const t = await rail.mint({ provider: forProvider, service: paid.id, max_amount: max, currency });
      http.secret(t);
      return t;
    } catch (err) {
      return void report.skip(IDS.find((id) => !report.done(id))!, `the rail ${rail.url} minted no token: ${(err as Error).message}`);
    }
  };
  const g = await grants.fresh();
  const p = provisioning(ctx, d, grants, g.access_token);
  const body = (token: string) => ({ service: paid.id, name: newName(), config: {}, payment_token: token });

  if (price > 0) {
    const low = await mint(provider, price - 1);
    if (low) {
      const a = await p.create(newKey(), body(low));
      report.expect(IDS[0], declined(a), note(http, a, `${paid.id} costs ${price}; token maximum ${price - 1}`));
    }
  } else report.skip(IDS[0], `${paid.id} costs 0: no maximum can be below it`);

  const once = await mint(provider, price);
  if (once) {
    const first = await p.create(newKey(), body(once));
    if (first.status !== 201 && first.status !== 202) {
      report.fail(IDS[1], note(http, first, 'a paid provision with a good token'));
    } else {
      const again = await p.create(newKey(), body(once));
      report.expect(IDS[1], declined(again), note(http, again, 'the same token for a second provision'));
    }
  }

  const other = await rail.otherProvider(provider);
  if (!other) {
    report.skip(IDS[2], `the rail ${rail.url} knows no provider besides ${provider}: no token bound elsewhere can be minted`);
    return;
  }
  const elsewhere = await mint(other, price);
  if (elsewhere) {
    const a = await p.create(newKey(), body(elsewhere));
    report.expect(IDS[2], declined(a), note(http, a, `a token bound to ${other}`));
  }
}

function declined(a: Answer): boolean {
  const e = ProviderErrorBodySchema.safeParse(a.json);
  return a.status === 402 && e.success && e.data.error.code === 'PAYMENT_DECLINED' && !ProvisionSchema.safeParse(a.json).success;
}

function note(http: ConformanceHttp, a: Answer, what: string): string {
  return http.describe(a, what);
}
