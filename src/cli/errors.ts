/**
 * The one error type every command throws, and the one table that turns an
 * error code into an exit code (DESIGN §4). Nothing else decides exit codes.
 */

export const EXIT = {
  OK: 0,
  OTHER: 1,
  USAGE: 2,
  HUMAN_ACTION: 3,
  MONEY_REFUSED: 4,
  PROVIDER_FAILED: 5,
  INTERRUPTED: 130,
} as const;

const CODE_CLASS: Record<string, number> = {
  USAGE: EXIT.USAGE,
  SERVICE_NOT_FOUND: EXIT.USAGE,
  INVALID_CONFIG: EXIT.USAGE,
  PROVIDER_NOT_FOUND: EXIT.USAGE,
  RESOURCE_NOT_FOUND: EXIT.USAGE,
  INVALID_MANIFEST: EXIT.USAGE,
  NO_PENDING_AUTHORIZATION: EXIT.USAGE,
  NAME_IN_USE: EXIT.USAGE,
  // The orchestrator publishes no payment rail: `agentprov init` against one that does.
  PAYMENT_RAIL_NOT_CONFIGURED: EXIT.USAGE,
  // `run` inside another `agentprov run` without --nested.
  NESTED_RUN: EXIT.USAGE,
  // `token` for a provider that only has a static (long-lived) key: use `run`.
  SHORT_LIVED_UNSUPPORTED: EXIT.USAGE,

  NOT_SIGNED_IN: EXIT.HUMAN_ACTION,
  AUTHORIZATION_PENDING: EXIT.HUMAN_ACTION,
  CONSENT_REQUIRED: EXIT.HUMAN_ACTION,
  TERMS_ACCEPTANCE_REQUIRED: EXIT.HUMAN_ACTION,
  PAID_CONFIRMATION_REQUIRED: EXIT.HUMAN_ACTION,
  PAYMENT_METHOD_REQUIRED: EXIT.HUMAN_ACTION,
  FRESH_SIGN_IN_REQUIRED: EXIT.HUMAN_ACTION,
  CONFIRMATION_REQUIRED: EXIT.HUMAN_ACTION,
  AUTHORIZATION_DENIED: EXIT.HUMAN_ACTION,
  AUTHORIZATION_EXPIRED: EXIT.HUMAN_ACTION,
  AUTHORIZATION_TIMEOUT: EXIT.HUMAN_ACTION,
  // No (longer a) grant at a provider: `agentprov add` authorizes again.
  PROVIDER_NOT_AUTHORIZED: EXIT.HUMAN_ACTION,

  CAP_EXCEEDED: EXIT.MONEY_REFUSED,
  PAYMENT_DECLINED: EXIT.MONEY_REFUSED,
  PRICE_ABOVE_LIMIT: EXIT.MONEY_REFUSED,
  // A provider's 402 with a quote: the paid flow (issue 7) turns it into a payment token.
  PAYMENT_REQUIRED_QUOTE: EXIT.MONEY_REFUSED,

  PROVIDER_UNREACHABLE: EXIT.PROVIDER_FAILED,
  PROVIDER_ERROR: EXIT.PROVIDER_FAILED,
  INVALID_PROVIDER_RESPONSE: EXIT.PROVIDER_FAILED,
  PROVISION_FAILED: EXIT.PROVIDER_FAILED,
  // A provider's 401 named RFC 9728 metadata off its own origin.
  PROVIDER_UNTRUSTED_METADATA: EXIT.PROVIDER_FAILED,
  // The orchestrator's identity provider is a remote counterpart too.
  ISSUER_UNREACHABLE: EXIT.PROVIDER_FAILED,
  ISSUER_METADATA_INVALID: EXIT.PROVIDER_FAILED,
  ISSUER_MISMATCH: EXIT.PROVIDER_FAILED,
  ISSUER_ERROR: EXIT.PROVIDER_FAILED,
  INVALID_AUTHORIZATION_RESPONSE: EXIT.PROVIDER_FAILED,
  UNTRUSTED_VERIFICATION_URI: EXIT.PROVIDER_FAILED,
  ORCHESTRATOR_UNREACHABLE: EXIT.PROVIDER_FAILED,
  // The orchestrator's payment rail is a remote counterpart too.
  PAYMENT_RAIL_UNREACHABLE: EXIT.PROVIDER_FAILED,
  PAYMENT_RAIL_ERROR: EXIT.PROVIDER_FAILED,
  INVALID_ORCHESTRATOR_DESCRIPTOR: EXIT.PROVIDER_FAILED,

  INTERRUPTED: EXIT.INTERRUPTED,

  // `run` could not start the command (not found, not executable).
  SPAWN_FAILED: EXIT.OTHER,
  // The file system refused a write of agentprov's own files (read-only, permissions, full disk): src/util/not-writable.ts.
  STATE_NOT_WRITABLE: EXIT.OTHER,

  // Cloudflare (issue 9). A human links the account once, with a parent API token.
  PROVIDER_NOT_LINKED: EXIT.HUMAN_ACTION,
  // The linked (or offered) parent token is invalid, expired or disabled: link again.
  CLOUDFLARE_LINK_INVALID: EXIT.HUMAN_ACTION,
  // The parent token lacks a permission a call needs (Cloudflare error 9109).
  CLOUDFLARE_PERMISSION_DENIED: EXIT.HUMAN_ACTION,
  // The parent token may not create (or delete) API tokens: agentprov could never hand out child tokens.
  CLOUDFLARE_TOKEN_CANNOT_CREATE_TOKENS: EXIT.HUMAN_ACTION,
  // Registration needs the account's default registrant contact (address book), set in the dashboard.
  CLOUDFLARE_REGISTRANT_CONTACT_REQUIRED: EXIT.HUMAN_ACTION,
  // The registrar will not register this domain (taken, premium, extension not supported via the API).
  DOMAIN_UNAVAILABLE: EXIT.USAGE,
  // The provider cannot do this at all (e.g. unregister a domain).
  UNSUPPORTED_OPERATION: EXIT.USAGE,

  // agentprov's own spending ledger (src/payment/ledger.ts), for providers billed outside the rail.
  LEDGER_CORRUPT: EXIT.OTHER,
  LEDGER_LOCKED: EXIT.OTHER,
  // Another agentprov process held the config file's lock for too long.
  CONFIG_LOCKED: EXIT.OTHER,
  LEDGER_FULL: EXIT.OTHER,
  LEDGER_NO_HOLD: EXIT.OTHER,
  LEDGER_CHARGE_CONFLICT: EXIT.OTHER,
  LEDGER_CHARGE_ABOVE_HOLD: EXIT.OTHER,
  // A quote in another currency than the caps are kept in (USD): nothing held, nothing sent.
  CURRENCY_UNSUPPORTED: EXIT.MONEY_REFUSED,
};

/** Exit code for an error code; anything unlisted is "other failure" (1). */
export function exitCodeFor(code: string): number {
  return CODE_CLASS[code] ?? EXIT.OTHER;
}

export interface ErrorInit {
  details?: Record<string, unknown>;
  nextSteps?: string[];
  cause?: unknown;
}

export class AgentprovError extends Error {
  override readonly name = 'AgentprovError';
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly nextSteps: string[];

  constructor(code: string, message: string, init: ErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.details = init.details ?? {};
    this.nextSteps = init.nextSteps ?? [];
  }

  get exitCode(): number {
    return exitCodeFor(this.code);
  }
}

export function isAgentprovError(err: unknown): err is AgentprovError {
  return err instanceof AgentprovError;
}
