/**
 * Wire schema of the orchestrator descriptor, served by the orchestrator's
 * identity provider at `GET /.well-known/agent-orchestrator`. It tells the CLI
 * which issuer to sign in at, its client id there, where the payment rail is
 * and which provider descriptors (`/.well-known/agent-provisioning` URLs) the
 * orchestrator knows. Loose, so fields can be added without breaking clients.
 */
import * as z from 'zod';

const MAX_URL = 2048;
const httpUrl = z.url({ protocol: /^https?$/ }).max(MAX_URL);

export const ORCHESTRATOR_DESCRIPTOR_PATH = '/.well-known/agent-orchestrator';

export const OrchestratorDescriptor = z.looseObject({
  /** OIDC issuer (RFC 8414 / OpenID Discovery) the CLI signs the human in at. */
  issuer: httpUrl,
  /** The CLI's pre-registered public client id at that issuer. */
  client_id: z.string().min(1).max(255),
  /** Base URL of the orchestrator's payment rail. */
  payment_rail: httpUrl,
  /** Provider descriptor URLs (`…/.well-known/agent-provisioning`). */
  providers: z.array(httpUrl).max(100),
  /**
   * The orchestrator's OAuth client id at Cloudflare (a public client,
   * authorization code + PKCE) for `agentprov providers link cloudflare`.
   */
  cloudflare_client_id: z.string().min(1).max(255).optional(),
  /** Human-readable orchestrator name. */
  name: z.string().min(1).max(200),
  /** APP (docs/protocol.md §APP): the URL of agentprov's Client ID Metadata Document this orchestrator hosts. */
  app_client_id: httpUrl.optional(),
  /** APP: where the CLI polls for the code the provider redirected the human with (`?state=`). */
  app_code_relay: httpUrl.optional(),
  /**
   * Authorization servers on another origin than their provider's descriptor
   * that this orchestrator vouches for, by provider descriptor URL
   * (docs/protocol.md §0.1). Everything else must share the descriptor's origin.
   */
  provider_authorization_servers: z
    .record(httpUrl, z.array(httpUrl).min(1).max(4))
    .refine((r) => Object.keys(r).length <= 100, { message: 'at most 100 providers' })
    .optional(),
});
export type OrchestratorDescriptor = z.infer<typeof OrchestratorDescriptor>;
