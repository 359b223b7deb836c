/**
 * The payment rail the checker mints tokens at: the signed-in user's
 * orchestrator's (the one `agentprov init` chose), through the payment
 * layer's client. A provider under test redeems at that rail only if it is
 * that orchestrator's provider, which is the case for the sandbox's
 * providers. Another provider the rail knows (for a token bound elsewhere)
 * comes from the orchestrator's descriptor: the first listed provider whose
 * descriptor names another id.
 */
import type { Deps } from '../core/deps.js';
import { configuredIssuer } from '../auth/orchestrator-config.js';
import { fetchOrchestratorDescriptor } from '../auth/orchestrator.js';
import { openRail } from '../payment/rail.js';
import { ProviderDescriptorSchema } from '../wire/provider.js';
import type { ConformanceHttp } from './http.js';
import type { PaymentRailPort } from './types.js';

/** The signed-in orchestrator's rail, or undefined (with why) when there is none. */
export async function orchestratorRail(deps: Deps, http: Pick<ConformanceHttp, 'send'>): Promise<{ rail?: PaymentRailPort; why?: string }> {
  let settings;
  try {
    settings = await configuredIssuer(deps);
  } catch (err) {
    return { why: (err as Error).message };
  }
  if (!settings.paymentRail) return { why: 'the orchestrator published no payment rail' };
  const rail = await openRail(deps);
  const orchestrator = settings.orchestratorUrl;
  return {
    rail: {
      url: rail.url,
      async mint(req) {
        if (req.currency !== 'USD') throw new Error(`the rail mints USD tokens only, the service is priced in ${req.currency}`);
        return (await rail.mint({ ...req, currency: 'USD' })).payment_token;
      },
      async otherProvider(provider) {
        if (!orchestrator) return undefined;
        const { descriptor } = await fetchOrchestratorDescriptor(orchestrator);
        for (const url of descriptor.providers) {
          const a = await http.send('GET', url).catch(() => undefined);
          const d = ProviderDescriptorSchema.safeParse(a?.json);
          if (a?.status === 200 && d.success && d.data.provider_id !== provider) return d.data.provider_id;
        }
        return undefined;
      },
    },
  };
}
