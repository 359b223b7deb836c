/**
 * The orchestrator settings sign-in needs from the non-secret config, and
 * updating them after `init`. Secrets never go here.
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import { openConfig, updateConfig, type Config } from '../config/settings.js';

export interface IssuerSettings {
  issuer: string;
  clientId: string;
  orchestratorUrl?: string;
  paymentRail?: string;
  cloudflareClientId?: string;
}

export async function configuredIssuer(deps: Deps): Promise<IssuerSettings> {
  const config = (await openConfig(deps.paths.config)).read();
  if (!config.orchestrator) {
    throw new AgentprovError('NOT_SIGNED_IN', 'not signed in: no orchestrator is configured yet', {
      nextSteps: ['agentprov init --orchestrator <url>', 'agentprov init --issuer <url> --client-id <id>'],
    });
  }
  const o = config.orchestrator;
  return {
    issuer: o.issuer,
    clientId: o.client_id,
    ...(o.url ? { orchestratorUrl: o.url } : {}),
    ...(o.payment_rail ? { paymentRail: o.payment_rail } : {}),
    ...(o.cloudflare_client_id ? { cloudflareClientId: o.cloudflare_client_id } : {}),
  };
}

export async function saveOrchestrator(
  deps: Deps,
  next: { url?: string; issuer: string; clientId: string; paymentRail?: string; cloudflareClientId?: string; providers?: string[]; vouched?: Record<string, string[]> },
): Promise<Config> {
  return updateConfig(deps.paths.config, (config) => {
    config.orchestrator = {
      ...(next.url ? { url: next.url } : {}),
      issuer: next.issuer,
      client_id: next.clientId,
      ...(next.paymentRail ? { payment_rail: next.paymentRail } : {}),
      ...(next.cloudflareClientId ? { cloudflare_client_id: next.cloudflareClientId } : {}),
    };
    // Providers the orchestrator published replace the ones it published before; the user's own stay.
    if (next.providers !== undefined) {
      const own = config.providers.filter((p) => p.source !== 'orchestrator');
      config.providers = [
        ...own,
        ...next.providers
          .filter((url) => !own.some((p) => p.url === url))
          .map((url) => ({ url, source: 'orchestrator' as const, ...(next.vouched?.[url] ? { authorization_servers: next.vouched[url] } : {}) })),
      ];
    }
    return config;
  });
}
