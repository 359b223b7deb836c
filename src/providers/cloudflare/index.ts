/**
 * The built-in Cloudflare provider (issue 9) as a `Provider`. Import this
 * module dynamically (src/providers/builtin.ts does): it loads the Cloudflare
 * SDK, which no other command should pay for at start-up. The catalog
 * (catalog.ts) is separate and loads nothing.
 */
import type { Deps } from '../../core/deps.js';
import type { Provider } from '../provider.js';
import { CloudflareProvider } from './provider.js';

export async function openCloudflareProvider(deps: Deps): Promise<Provider> {
  return new CloudflareProvider(deps);
}

export { CloudflareProvider };
export { linkCloudflare, readLink, LINK_ENTRY, type LinkOutcome, type LinkRequest } from './link.js';
