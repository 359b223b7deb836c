/**
 * PostHog's APP 0.1d services, versioned with agentprov: PostHog's partner
 * surface (`/api/agentic/`) does not serve `provisioning/services`, so
 * agentprov ships what PostHog's public docs describe. Prices are PostHog's
 * free text, never turned into numbers. Never tested against PostHog from
 * here (README, "APP providers").
 */
import type { AppService } from '../../wire/app.js';

export const POSTHOG_CATALOG_VERSION = '2026-12-01';

export const POSTHOG_BASES = {
  us: 'https://us.posthog.com/api/agentic/',
  eu: 'https://eu.posthog.com/api/agentic/',
} as const;

export const POSTHOG_SERVICES: readonly AppService[] = [
  {
    id: 'free',
    description: 'A PostHog project on the free plan: product analytics, session replay, feature flags, with monthly free allowances',
    categories: ['analytics'],
    kind: 'plan',
    pricing: { type: 'free' },
  },
  {
    id: 'pay_as_you_go',
    description: 'A PostHog project on the usage-based plan (billing set up at PostHog)',
    categories: ['analytics'],
    kind: 'plan',
    pricing: { type: 'paid', paid: { type: 'freeform', freeform: 'usage-based, beyond the free allowances; see posthog.com/pricing' } },
  },
];

/** APP catalogs shipped with agentprov, by APP base URL: used when the provider does not serve provisioning/services. */
export const SHIPPED_APP_CATALOGS: ReadonlyArray<{ base: string; version: string; services: readonly AppService[] }> = [
  { base: POSTHOG_BASES.us, version: POSTHOG_CATALOG_VERSION, services: POSTHOG_SERVICES },
  { base: POSTHOG_BASES.eu, version: POSTHOG_CATALOG_VERSION, services: POSTHOG_SERVICES },
];

/**
 * APP providers `providers add <name>` registers without a URL (`--eu` for
 * the EU base). Registered from the shipped catalog, without asking the
 * provider: its partner surface serves no catalog to check.
 */
export const NAMED_APP_PROVIDERS: Readonly<Record<string, { bases: { us: string; eu: string }; services: readonly AppService[] }>> = {
  posthog: { bases: POSTHOG_BASES, services: POSTHOG_SERVICES },
};
