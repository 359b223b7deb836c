/**
 * The one place commands get a Provider (src/providers/provider.ts) and a
 * catalog service from. A provider id is looked up through the catalog layer
 * (registry + cached catalogs); its descriptor is fetched (bounded, zod) and
 * handed to the implementation that speaks its protocol: the agentprov
 * provider protocol client, or a built-in provider with its own REST API
 * (Cloudflare, issue 9; which one is decided in src/providers/builtin.ts).
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import { MAX_DESCRIPTOR_BYTES, recallDescriptor, rememberDescriptor } from '../catalog/descriptor-cache.js';
import { whyDropped } from '../catalog/dropped.js';
import { gatherCatalog, type Gathered } from '../catalog/gather.js';
import type { CatalogService } from '../catalog/service.js';
import type { ProviderReport } from '../catalog/aggregate.js';
import { describeViolation, offOriginMember } from '../wire/origin.js';
import type { ProviderDescriptor } from '../wire/provider.js';
import { builtinFor } from '../providers/builtin.js';
import type { Provider } from '../providers/provider.js';
import { sanitizeLine } from '../util/sanitize.js';

const DESCRIPTOR_DEADLINE_MS = 10_000;

/** A descriptor that parsed but breaks a rule, naming the field. */
class InvalidDescriptor extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** `<provider>/<service>` → its parts, or USAGE. */
export function parseQualified(input: string): { provider: string; service: string } {
  const m = /^([a-z0-9][a-z0-9-]{0,62})\/([a-z0-9][a-z0-9-]*:[a-z0-9][a-z0-9-]*)$/.exec(input.trim());
  if (!m) {
    throw new AgentprovError('USAGE', `"${sanitizeLine(input).slice(0, 100)}" is not <provider>/<service> (e.g. localcloud/kv:namespace)`, {
      nextSteps: ['agentprov catalog'],
    });
  }
  return { provider: m[1]!, service: m[2]! };
}

/** Find a service in the gathered catalog; SERVICE_NOT_FOUND with close matches otherwise. */
export function findService(gathered: Gathered, provider: string, service: string): CatalogService {
  const found = gathered.services.find((s) => s.provider === provider && s.id === service);
  if (found) return found;
  const wanted = `${provider}/${service}`;
  // Listed, but dropped from the catalog as unusable (a field that fails its schema, or nests too deeply): the provider's fault, said so.
  const why = whyDropped(gathered.warnings, provider, service);
  if (why !== undefined) {
    throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `provider ${provider} lists ${wanted}, but agentprov cannot use it: ${why}`, {
      details: { provider, service, reason: why },
      nextSteps: [`agentprov catalog ${provider} --refresh`],
    });
  }
  const suggestions = closeMatches(
    wanted,
    gathered.services.map((s) => `${s.provider}/${s.id}`),
  );
  const known = gathered.providers.some((p) => p.id === provider && p.status !== 'failed' && p.status !== 'skipped');
  throw new AgentprovError('SERVICE_NOT_FOUND', `no service "${wanted}"${known ? '' : ` (provider "${provider}" is not known or did not answer)`}${suggestions.length ? `; did you mean ${suggestions.join(', ')}?` : ''}`, {
    details: { provider, service, suggestions },
    nextSteps: [...suggestions.slice(0, 1).map((s) => `agentprov add ${s}`), known ? `agentprov catalog ${provider}` : 'agentprov catalog'],
  });
}

/** Up to 5 ids close to `wanted`: same service elsewhere, substring, or small edit distance. */
export function closeMatches(wanted: string, candidates: string[]): string[] {
  const w = wanted.toLowerCase();
  const [wp = '', ws = ''] = w.split('/');
  const scored = candidates
    .map((c) => {
      const [cp = '', cs = ''] = c.split('/');
      let score = distance(w, c);
      if (cs === ws) score -= 10;
      if (cp === wp && (cs.includes(ws.split(':')[0] ?? '') || ws.includes(cs.split(':')[0] ?? ''))) score -= 3;
      if (c.includes(ws) || (ws.length > 2 && cs.includes(ws.split(':')[1] ?? ws))) score -= 3;
      return { c, score };
    })
    .filter((x) => x.score <= Math.max(3, Math.floor(w.length / 3)))
    .sort((a, b) => a.score - b.score || a.c.localeCompare(b.c));
  return [...new Set(scored.map((x) => x.c))].slice(0, 5);
}

/** Levenshtein distance (small strings only: ids are ≤ 200 characters). */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** What the catalog layer knows of this provider id: its descriptor URL, where it was registered, what the orchestrator vouched for. */
export function reportOf(gathered: Gathered, providerId: string): ProviderReport {
  const report = gathered.providers.find((p) => p.id === providerId && p.status !== 'skipped');
  if (!report) {
    throw new AgentprovError('PROVIDER_NOT_FOUND', `no known provider "${sanitizeLine(providerId).slice(0, 64)}"`, {
      details: { provider: providerId },
      nextSteps: ['agentprov providers list', 'agentprov providers add <descriptor-url>'],
    });
  }
  return report;
}

/** The descriptor URL the catalog layer knows for this provider id. */
export function descriptorUrlOf(gathered: Gathered, providerId: string): string {
  return reportOf(gathered, providerId).url;
}

/**
 * A provider named only by a project's agentprov.json (a cloned repository)
 * is listed but not trusted with credentials: the human says yes first
 * (`up --trust-manifest-providers`, or `providers add`), which registers it.
 */
function assertTrusted(report: ProviderReport): void {
  if (report.source !== 'manifest') return;
  throw new AgentprovError(
    'PROVIDER_NOT_TRUSTED',
    `provider ${report.id} (${report.url}) is named only by this project's agentprov.json; agentprov sends it no credential until you say you trust it`,
    {
      details: { provider: report.id, url: report.url, source: 'manifest' },
      nextSteps: ['agentprov up --trust-manifest-providers', `agentprov providers add ${report.url}`],
    },
  );
}

/**
 * The provider's descriptor: the one remembered while its max-age lasts
 * (catalog/descriptor-cache.ts says when one is used), else fetched
 * (bounded, zod) and remembered.
 */
export async function fetchDescriptor(
  url: string,
  providerId: string,
  cache?: { root: string; nowMs: number },
  vouched: readonly string[] = [],
): Promise<ProviderDescriptor> {
  const { parseDescriptor, parseDescriptorValue } = await import('../catalog/validate.js');
  // recallDescriptor uses only copies whose every request URL is on the descriptor's origin.
  const remembered = cache && recallDescriptor(cache.root, url, cache.nowMs, parseDescriptorValue);
  if (remembered?.provider_id === providerId) return remembered;
  const { createFetcher } = await import('../http/fetch.js');
  const fetcher = createFetcher({ headersTimeoutMs: DESCRIPTOR_DEADLINE_MS, bodyTimeoutMs: DESCRIPTOR_DEADLINE_MS });
  try {
    const doc = await fetcher.get(url, { signal: AbortSignal.timeout(DESCRIPTOR_DEADLINE_MS), maxBytes: MAX_DESCRIPTOR_BYTES });
    if (!doc.body) throw new Error('empty descriptor');
    const descriptor = parseDescriptor(doc.body);
    if (descriptor.provider_id !== providerId) throw new Error(`descriptor names provider "${descriptor.provider_id}"`);
    const off = offOriginMember(url, descriptor, vouched);
    if (off) throw new InvalidDescriptor(describeViolation(off), off.field);
    if (cache) rememberDescriptor(cache.root, url, doc.url, descriptor, doc.maxAge, cache.nowMs);
    return descriptor;
  } catch (err) {
    const reason = sanitizeLine((err as Error)?.message ?? String(err)).slice(0, 300);
    const invalid = (err as Error)?.name === 'InvalidDocument' || err instanceof InvalidDescriptor || /names provider/.test(reason);
    throw new AgentprovError(invalid ? 'INVALID_PROVIDER_RESPONSE' : 'PROVIDER_UNREACHABLE', `provider ${providerId} (${url}): ${reason}`, {
      details: { provider: providerId, url, ...(err instanceof InvalidDescriptor ? { field: err.field } : {}) },
      cause: err,
    });
  } finally {
    await fetcher.close().catch(() => undefined);
  }
}

/**
 * The Provider for an id. `gathered` may be passed when the caller already
 * has the catalog (add), so the registry and cache are read once.
 */
export async function openProvider(deps: Deps, providerId: string, gathered?: Gathered): Promise<Provider> {
  const catalog = gathered ?? (await gatherCatalog(deps, { refresh: false }));
  // A provider built into agentprov (Cloudflare) unless a registered descriptor claims its id: src/providers/builtin.ts decides.
  const builtin = builtinFor(catalog.providers, providerId);
  if (builtin) return builtin.open(deps);
  const report = reportOf(catalog, providerId);
  assertTrusted(report);
  // An APP 0.1d provider (docs/protocol.md §APP): no descriptor; its CIMD is the user's --client-id or the orchestrator's.
  if (report.protocol === 'app') {
    const { openAppProvider } = await import('../providers/app/index.js');
    return openAppProvider(deps, { id: providerId, base: report.url, ...(report.client_id ? { clientId: report.client_id } : {}) }, () => orchestratorAppClient(deps));
  }
  const descriptorUrl = report.url;
  const vouchedIssuers = report.authorization_servers ?? [];
  const descriptor = await fetchDescriptor(descriptorUrl, providerId, { root: deps.paths.cache, nowMs: deps.clock.now().getTime() }, vouchedIssuers);
  const { openProtocolProvider } = await import('../providers/agentprov/index.js');
  return openProtocolProvider(deps, { id: providerId, descriptorUrl, descriptor, vouchedIssuers });
}

/** The orchestrator's CIMD URL and code relay for APP providers, from its descriptor; undefined when it names none. */
async function orchestratorAppClient(deps: Deps): Promise<{ clientId: string; relay?: string } | undefined> {
  const { readConfigFile } = await import('../config/settings.js');
  const { configFilePath } = await import('../core/paths.js');
  const url = readConfigFile(configFilePath(deps.paths)).orchestrator?.url;
  if (!url) return undefined;
  const { fetchOrchestratorDescriptor } = await import('../auth/orchestrator.js');
  const { descriptor } = await fetchOrchestratorDescriptor(url);
  return descriptor.app_client_id ? { clientId: descriptor.app_client_id, ...(descriptor.app_code_relay ? { relay: descriptor.app_code_relay } : {}) } : undefined;
}

// revoke (issue 21)
/**
 * Deletes what agentprov holds at a provider that could not be opened
 * (its descriptor did not answer): the module that speaks its protocol
 * says which vault entries that is, chosen as `openProvider` chooses.
 * True when something was deleted.
 */
export async function forgetUnopened(deps: Deps, providerId: string, gathered: Gathered): Promise<boolean> {
  const vault = await deps.vault();
  const report = gathered.providers.find((p) => p.id === providerId && p.status !== 'skipped');
  if (report?.protocol === 'app') return (await import('../providers/app/index.js')).forgetAppGrant(vault, providerId);
  return (await import('../providers/agentprov/index.js')).forgetProtocolGrant(vault, providerId);
}
