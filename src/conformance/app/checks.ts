/**
 * The checks of APP 0.1d (docs/protocol.md §APP), in the order they run.
 * docs/protocol.md §12 lists the same ids.
 */
import type { CheckSpec } from '../types.js';

export const APP_CHECKS = [
  { id: 'app.health', level: 'MUST', title: 'provisioning/health answers status ok and lists 0.1d' },
  { id: 'app.api_version', level: 'MUST', title: 'a request without API-Version, or with an unknown one, → 400 invalid_api_version' },
  { id: 'app.services', level: 'SHOULD', title: 'provisioning/services parses (the partner surface may have dropped it)' },
  { id: 'app.cimd_registration', level: 'MUST', title: "client_registration accepts the checker's Client ID Metadata Document" },
  { id: 'app.account_request', level: 'MUST', title: 'an account request for a new email → oauth.code, its id echoed' },
  { id: 'app.account_request.expired', level: 'MUST', title: 'an account request whose expires_at is past is refused, no code' },
  { id: 'app.token.pkce', level: 'MUST', title: 'a code with the wrong code_verifier → invalid_grant' },
  { id: 'app.token.code_single_use', level: 'MUST', title: 'a code gives tokens once; the second use → invalid_grant' },
  { id: 'app.refresh.rotation', level: 'MUST', title: 'refresh rotates: the old refresh token and the old access token are refused' },
  { id: 'app.resources.idempotent', level: 'MUST', title: 'the same project_id twice → the same resource' },
  { id: 'app.resources.rotate', level: 'MUST', title: 'rotate_credentials changes the access_configuration' },
  { id: 'app.resources.remove', level: 'MUST', title: 'remove → status removed; the resource is then not found' },
  { id: 'app.errors.envelope', level: 'MUST', title: 'errors come in the documented envelopes ({error:{code,message}}, RFC 6749 at the token endpoint)' },
  { id: 'app.rate_limit', level: 'SHOULD', title: 'a burst that is limited gets 429 with Retry-After' },
  { id: 'app.stripe.signed', level: 'MUST', title: 'a request signed as Stripe signs is accepted (with --stripe-signing-secret-stdin)' },
  { id: 'app.stripe.stale_timestamp', level: 'MUST', title: 'a signature with a timestamp 10 minutes old → 401' },
  { id: 'app.stripe.wrong_signature', level: 'MUST', title: 'a signature made with another secret → 401' },
  { id: 'app.stripe.missing_signature', level: 'MUST', title: 'no Stripe-Signature → 401' },
] as const satisfies readonly CheckSpec[];
