/**
 * What agentprov needs from a provider, whatever its wire protocol. The
 * agentprov provider protocol client (src/providers/agentprov/) is one
 * implementation; a provider with its own REST API (Cloudflare, issue 9) is
 * another. Commands talk only to this interface.
 *
 * Errors are AgentprovErrors with the stable codes of src/core/errors.ts:
 * TERMS_ACCEPTANCE_REQUIRED, CONSENT_REQUIRED, AUTHORIZATION_PENDING,
 * PAYMENT_REQUIRED_QUOTE (402 with a quote; paid services, issue 7),
 * PROVIDER_UNREACHABLE, PROVIDER_ERROR, INVALID_PROVIDER_RESPONSE, ...
 */
import type { Provision, Service } from '../wire/provider.js';

export interface AuthorizeOptions {
  /** The human accepted this provider's current terms (--accept-tos or a prompt answered yes). */
  acceptTerms: boolean;
  /** A human can be asked and waited for right now (TTY); otherwise consent exits 3 with CONSENT_REQUIRED. */
  interactive: boolean;
  /** Resume a consent started earlier (`add ... --complete`), waiting up to this many seconds. */
  completeWaitSeconds?: number;
  /**
   * `add --preflight`: only find out what authorization would need. Never
   * create an account, start a device authorization or store a grant; throw
   * TERMS_ACCEPTANCE_REQUIRED / CONSENT_REQUIRED / NOT_SIGNED_IN as a real
   * call would.
   */
  preflight?: boolean;
  /**
   * The add's journal Idempotency-Key, written before this call: a provider
   * that names its authorization requests (APP's account request `id`) uses
   * it, so a re-run of an interrupted add presents the same request.
   * Providers without such a request ignore it.
   */
  requestKey?: string;
}

export interface Authorization {
  accountId: string;
  /** True when this call created the account at the provider. */
  accountCreated: boolean;
  /** How: an existing stored grant, the attested path (ID-JAG), or device-flow consent. */
  via: 'stored_grant' | 'attested' | 'consent';
  /** The provider's terms version the human accepted, when this call accepted it. */
  termsVersion?: string;
}

export interface ProvisionInput {
  service: string;
  name: string;
  config: Record<string, unknown>;
  /** Written to the local journal before the request is sent; the same key resumes the same attempt. */
  idempotencyKey: string;
  /** Single-use payment token (issue 7). Never logged or stored. */
  paymentToken?: string;
}

export interface ShortLivedCredential {
  token: string;
  expiresAt: Date;
  /** The credential's id at the provider (jti), for the audit log. */
  id?: string;
  /** False for providers that can only hand out their static key (issue 8 §3). */
  shortLived: boolean;
}

export interface Provider {
  readonly id: string;
  /** The provider's services (from the catalog layer). */
  services(): Promise<Service[]>;
  /** Make sure agentprov holds a grant for the signed-in user at this provider. */
  authorize(opts: AuthorizeOptions): Promise<Authorization>;
  /** POST a provision (201 active or 202 pending). The same idempotencyKey never creates twice. */
  provision(input: ProvisionInput): Promise<Provision>;
  /**
   * Current state of a provision (polling a 202). `name` is agentprov's name
   * for it, which every caller holds (journal, manifest, the first answer): a
   * provider that does not know agentprov's names (Cloudflare) answers with it.
   */
  get(provisionId: string, name: string): Promise<Provision>;
  /** Deprovision. Resolves when the provider says it is deleted (or it was already gone). */
  remove(provisionId: string): Promise<void>;
  /** New long-lived credentials for this provider (APP: for the resource `provisionId`); the old ones are revoked. */
  rotate(provisionId?: string): Promise<void>;
  /** A short-lived, optionally down-scoped access token minted from the stored grant. */
  mint(opts: { ttlSeconds: number; scopes?: string[] }): Promise<ShortLivedCredential>;
  /** Revoke a credential minted by `mint` (RFC 7009 for the protocol client). */
  revoke(credential: ShortLivedCredential): Promise<void>;
  /**
   * Optional (issue 8 §3): a provider-native credential for one wrapped
   * command (e.g. a Cloudflare API token with `expires_on`), for providers
   * whose `mint` can only hand out their static key. When present, `run`
   * asks it instead of `mint`; `revoke` gives it back.
   */
  childCredential?(opts: { ttlSeconds: number; scopes?: string[] }): Promise<ShortLivedCredential>;
  /**
   * Who takes the money (issue 9 §3). `rail` (the default): the provider
   * answers 402 with a quote and is paid with a single-use payment token.
   * `external`: the provider charges a payment method of its own (Cloudflare
   * bills the account's card); agentprov's ledger (src/payment/ledger.ts)
   * then holds the cap, and `quote` says the price before anything is sent.
   */
  readonly billing?: 'rail' | 'external';
  /**
   * What a resource's credentials are (shown by `list`/`status`):
   * `short-lived` (the default) when agentprov mints them per use from a
   * grant; `long-lived` when they are the provider's own static keys kept in
   * the vault (APP's `access_configuration`).
   */
  readonly credentialLifetime?: 'short-lived' | 'long-lived';
  /**
   * Optional: every credential member the provider holds for a resource,
   * with the env name `run` gives it when the catalog's env map does not
   * name that member (APP: each `access_configuration` member as
   * `<PROVIDER_ID>_<KEY>`). `run` masks every value.
   */
  credentialEnv?(provisionId: string): Promise<CredentialMember[]>;
  /**
   * External billing: what this provision would cost right now (e.g. the
   * registrar's availability check), or undefined when it is free. Throws
   * a clear AgentprovError when it cannot be provisioned at all (domain
   * taken, premium, extension not supported).
   */
  quote?(input: { service: string; name: string; config: Record<string, unknown> }): Promise<ExternalQuote | undefined>;
  // open (issue 21)
  /**
   * Optional: a link that takes the human into the account agentprov
   * created, at the resource `provisionId` (agentprov protocol §4.5 deep
   * link, APP `deep_links`, Cloudflare's dashboard URL). A provider without
   * it gets OPEN_NOT_SUPPORTED from `open`. A `secret` link signs whoever
   * holds it in: the implementation adds it to the redactor at once, and it
   * never reaches an error, a log or a file.
   */
  deepLink?(provisionId: string): Promise<DeepLink>;

  // update (issue 21)
  /**
   * Optional: move a provision to another service the catalog's
   * `allowed_updates` names, or change its config in place
   * (docs/protocol.md §4.4; APP `update_service`). The same idempotencyKey
   * makes one change and one charge. Without it, `update` is refused.
   */
  update?(input: UpdateInput): Promise<Provision>;

  // revoke (issue 21)
  /**
   * Optional: the grant agentprov holds at this provider (refresh token,
   * OAuth link, consent under way, keys kept for resources), or undefined
   * when it holds nothing here. Reads the vault only, never the network.
   * `agentprov revoke` ends it at the provider (`revoke`, retried by the
   * caller) and then always deletes it here (`forget`).
   */
  heldGrant?(): Promise<HeldGrant | undefined>;
}

/** A way in for the human (issue 21): a sign-in link (single use, short-lived, a secret) or a plain console URL. */
export interface DeepLink {
  url: string;
  /** When a single-use link stops working; undefined for a plain console URL. */
  expiresAt?: Date;
  /** True when the URL itself signs the human in (it must be treated as a secret until used or expired). */
  secret: boolean;
  /** True when a second use is refused. */
  singleUse: boolean;
}

/** An update of one provision (issue 21): where it goes, with what config, under the journal's key. */
export interface UpdateInput {
  provisionId: string;
  /** agentprov's name for it. */
  name: string;
  /** The target service (the provision's own for a config change). */
  service: string;
  config: Record<string, unknown>;
  /** Written to the local journal before the request is sent. */
  idempotencyKey: string;
  /** Single-use payment token for a paid target (issue 7). Never logged or stored. */
  paymentToken?: string;
}

/** One credential member of a resource: its name at the provider, its env name, its value (a secret). */
export interface CredentialMember {
  member: string;
  name: string;
  value: string;
}

/** A price quoted by an externally billed provider, minor units. */
export interface ExternalQuote {
  amount: number;
  currency: string;
  interval?: string;
  /** What is bought, for the confirmation prompt (e.g. "example.com for 1 year"). */
  description: string;
}

// revoke (issue 21)
/** A grant agentprov holds at one provider, as `agentprov revoke` ends it. */
export interface HeldGrant {
  /** What is held, for the output (e.g. "OAuth refresh token"). */
  what: string;
  /** A grant that authorizes requests is among it (not only a consent under way or resource keys). */
  authorizes: boolean;
  /**
   * Ends the grant at the provider (RFC 7009 where the protocol has it).
   * Absent when the provider offers no way to: `remedy` then says what the
   * human can do there, and only the local copy is deleted.
   */
  revoke?(): Promise<void>;
  /** What the human can do at the provider when `revoke` is absent or failed. */
  remedy: string;
  /** Deletes every local copy (grant, consent under way, resource keys). True when something was deleted. */
  forget(): Promise<boolean>;
}
