/**
 * `open` (issue 21): the human's way into the account agentprov created, at
 * one resource. The resource's provider is asked for a deep link
 * (`Provider.deepLink`: a single-use sign-in link at agentprov-protocol and
 * APP providers, the dashboard URL at Cloudflare); the link is checked,
 * recorded in the audit log as issued (provider, resource, expiry, never
 * the URL), and either handed to the browser or returned for printing.
 *
 * A sign-in link is a secret until it is used or expires: it is in the
 * redactor from the moment it arrives, so it can reach stdout only where the
 * command prints it on purpose (`reveal`), never stderr, an error, a log,
 * the manifest or a cache.
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import { findResource, loadManifest, manifestPathFor, resourceNotFound } from '../project/manifest.js';
import type { DeepLink } from '../providers/provider.js';
import { isLoopbackHost } from '../util/loopback.js';
import { audit } from './audit.js';
import { openProvider } from './providers.js';

export interface OpenedResource {
  name: string;
  provider: string;
  service: string;
  id: string;
  link: DeepLink;
  /** True when the browser was started on the link (a human at a terminal, without --print). */
  opened: boolean;
  warnings: string[];
}

/**
 * Ask the provider for the link to resource `name` and, when `launch` says a
 * human at a terminal wants it, open the browser on it. Never launches a
 * browser when `launch` is false (agents, --print, --json).
 */
export async function openResource(deps: Deps, name: string, opts: { launch: boolean }): Promise<OpenedResource> {
  const path = manifestPathFor(deps);
  const resource = findResource(await loadManifest(path), name);
  if (!resource) throw resourceNotFound(name, path);
  if (!resource.id) {
    throw new AgentprovError('RESOURCE_NOT_FOUND', `${name} is not provisioned yet, so there is nothing to open`, {
      details: { name, provider: resource.provider, service: resource.service },
      nextSteps: ['agentprov up'],
    });
  }
  const provider = await openProvider(deps, resource.provider);
  if (!provider.deepLink) {
    throw new AgentprovError('OPEN_NOT_SUPPORTED', `provider ${resource.provider} offers no link into its console, so agentprov cannot open ${name}`, {
      details: { name, provider: resource.provider, service: resource.service },
      nextSteps: [`agentprov catalog ${resource.provider}`],
    });
  }
  const link = await provider.deepLink(resource.id);
  if (link.secret) deps.io.redactor.add(link.url);
  assertOpenableLink(resource.provider, link);
  const warnings: string[] = [];
  // The fact of the issue, never the link: a link in the log would sign in whoever reads it.
  await audit(
    deps,
    {
      command: 'open',
      provider: resource.provider,
      resource: name,
      decision: 'link_issued',
      details: {
        service: resource.service,
        id: resource.id,
        kind: link.secret ? 'sign_in_link' : 'console_url',
        single_use: link.singleUse,
        expires_at: link.expiresAt?.toISOString() ?? null,
      },
    },
    warnings,
  );
  const opened = opts.launch && (await deps.browser.available()) && (await deps.browser.open(link.url));
  return { name, provider: resource.provider, service: resource.service, id: resource.id, link, opened, warnings };
}

/**
 * A link is shown to a human and opened in a browser: https (http only on
 * loopback), no user name or password in it. What is wrong is named; the
 * URL itself never is.
 */
export function assertOpenableLink(provider: string, link: DeepLink): void {
  const url = URL.parse(link.url);
  const why = !url
    ? 'is not a URL'
    : url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))
      ? 'is not https'
      : url.username || url.password
        ? 'carries a user name or password'
        : undefined;
  if (why) {
    throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `provider ${provider} answered with a link that ${why}; agentprov does not open it`, {
      details: { provider, field: 'url' },
    });
  }
}
