/**
 * The checks of agentprov's own protocol (docs/protocol.md, docs/protocol-auth.md),
 * in the order they run. docs/protocol.md §12 lists the same ids.
 */
import type { CheckSpec } from '../types.js';

export const AGENTPROV_CHECKS = [
  { id: 'agentprov.descriptor', level: 'MUST', title: 'the descriptor parses and names URLs on its own origin (§1, §0.1)' },
  { id: 'agentprov.catalog', level: 'MUST', title: 'the catalog parses and names the same provider (§2)' },
  { id: 'agentprov.catalog.etag', level: 'MUST', title: 'a strong ETag; If-None-Match with it gets 304 without a body (§2)' },
  { id: 'agentprov.catalog.cache_control', level: 'MUST', title: 'the catalog carries Cache-Control: max-age (§2)' },
  { id: 'agentprov.resource_metadata', level: 'MUST', title: 'RFC 9728 metadata names the resource and its authorization server (§3)' },
  { id: 'agentprov.challenge', level: 'MUST', title: 'no token → 401 with the RFC 9728 challenge; an unknown token → error="invalid_token" (§3)' },
  { id: 'agentprov.as_metadata', level: 'MUST', title: 'RFC 8414 metadata at the path-inserted URL, same issuer, token and revocation endpoints' },
  { id: 'agentprov.head', level: 'MUST', title: 'HEAD is answered wherever GET is, without a body (RFC 9110 §9.3.2)' },
  { id: 'agentprov.idjag.accept', level: 'MUST', title: "an ID-JAG from a trusted orchestrator gets tokens and account_id (auth §3)" },
  { id: 'agentprov.idjag.replay', level: 'MUST', title: 'the same ID-JAG again → invalid_grant (single-use jti)' },
  { id: 'agentprov.idjag.expired', level: 'MUST', title: 'an expired ID-JAG → invalid_grant' },
  { id: 'agentprov.idjag.audience', level: 'MUST', title: 'an ID-JAG for another audience → invalid_grant' },
  { id: 'agentprov.idjag.signature', level: 'MUST', title: "an ID-JAG signed by another key under the issuer's kid → invalid_grant" },
  { id: 'agentprov.idjag.alg_none', level: 'MUST', title: 'an unsigned ID-JAG (alg none) → invalid_grant' },
  { id: 'agentprov.refresh.rotation', level: 'MUST', title: 'a refresh gives a new refresh token; the old one is then refused (auth §5)' },
  { id: 'agentprov.errors.shape', level: 'MUST', title: 'errors have the documented body { error: { code, message, field? } } (§0, §8)' },
  { id: 'agentprov.idempotency.replay', level: 'MUST', title: 'the same Idempotency-Key and body → the same provision, not a second one (§4.2)' },
  { id: 'agentprov.idempotency.conflict', level: 'MUST', title: 'the same key with another body → 422 IDEMPOTENCY_KEY_REUSED (§4.2)' },
  { id: 'agentprov.revocation', level: 'MUST', title: 'a revoked access token (RFC 7009) is refused at once (auth §7)' },
  { id: 'agentprov.payment.over_maximum', level: 'MUST', title: "a token whose maximum is below the price → 402 PAYMENT_DECLINED, nothing created (§6)" },
  { id: 'agentprov.payment.second_redemption', level: 'MUST', title: 'a payment token used once already → 402 PAYMENT_DECLINED (§6)' },
  { id: 'agentprov.payment.other_provider', level: 'MUST', title: 'a payment token bound to another provider → 402 PAYMENT_DECLINED (§6)' },
] as const satisfies readonly CheckSpec[];

export type AgentprovCheckId = (typeof AGENTPROV_CHECKS)[number]['id'];
