/**
 * The suite for agentprov's own protocol: discovery, the attested path,
 * provisioning, payment. Each group needs what the one before found; a
 * group that cannot start leaves its checks "not reached" (skipped).
 */
import * as z from 'zod';
import { guard } from '../run.js';
import type { Suite } from '../types.js';
import { AGENTPROV_CHECKS } from './checks.js';
import { descriptorUrlOf, discover } from './discovery.js';
import { idJagChecks } from './idjag.js';
import { paymentChecks } from './payment.js';
import { provisioningChecks } from './provisioning.js';

const ids = (prefix: string): string[] => AGENTPROV_CHECKS.map((c) => c.id).filter((id) => id.startsWith(prefix));

export const agentprovSuite: Suite = {
  protocol: 'agentprov',
  checks: AGENTPROV_CHECKS,
  async detect({ url, http }) {
    const a = await http.send('GET', descriptorUrlOf(url));
    return a.status === 200 && z.looseObject({ provider_id: z.string().max(64) }).safeParse(a.json).success;
  },
  async run(ctx) {
    let found: Awaited<ReturnType<typeof discover>>;
    await guard(ctx.report, ids('agentprov.'), async () => {
      found = await discover(ctx);
    });
    const d = found;
    if (!d) return;
    let grants: Awaited<ReturnType<typeof idJagChecks>>;
    await guard(ctx.report, [...ids('agentprov.idjag.'), ...ids('agentprov.refresh.')], async () => {
      grants = await idJagChecks(ctx, d);
    });
    const g = grants;
    if (!g) return;
    await guard(ctx.report, [...ids('agentprov.errors.'), ...ids('agentprov.idempotency.'), 'agentprov.revocation'], () => provisioningChecks(ctx, d, g));
    await guard(ctx.report, ids('agentprov.payment.'), () => paymentChecks(ctx, d, g));
  },
};
