/**
 * The one error type every layer throws, and the one table that turns an
 * error code into an exit code (docs/architecture.md, "Errors"). Nothing
 * else decides exit codes.
 *
 * The codes are a closed union: `AgentprovError` takes an `ErrorCode`, so
 * the compiler refuses a code that has no exit class. A code that belongs to
 * one provider (the `CLOUDFLARE_*` ones) is declared and registered by that
 * provider's module (`registerErrorCodes` plus a `ProviderErrorCodes`
 * augmentation), not listed here.
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

export type ExitClass = (typeof EXIT)[keyof typeof EXIT];

const CODE_CLASS = {
  USAGE: EXIT.USAGE,
  SERVICE_NOT_FOUND: EXIT.USAGE,
  INVALID_CONFIG: EXIT.USAGE,
  PROVIDER_NOT_FOUND: EXIT.USAGE,
  RESOURCE_NOT_FOUND: EXIT.USAGE,
  INVALID_MANIFEST: EXIT.USAGE,
  NO_PENDING_AUTHORIZATION: EXIT.USAGE,
  NAME_IN_USE: EXIT.USAGE,
  // `update` to a service the current one's `allowed_updates` does not name (issue 21).
  UPDATE_NOT_ALLOWED: EXIT.USAGE,
  // `update` while another update of the same resource is unfinished: finish that one first.
  UPDATE_IN_PROGRESS: EXIT.USAGE,
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
  // A cap raise waits for the human's approval of that change at the identity provider (docs/protocol-auth.md §10).
  CAP_RAISE_APPROVAL_REQUIRED: EXIT.HUMAN_ACTION,
  // The cap keeper refused the approval presented (not for this change, replayed, forged): the cap is unchanged.
  CAP_APPROVAL_INVALID: EXIT.HUMAN_ACTION,
  CONFIRMATION_REQUIRED: EXIT.HUMAN_ACTION,
  AUTHORIZATION_DENIED: EXIT.HUMAN_ACTION,
  AUTHORIZATION_EXPIRED: EXIT.HUMAN_ACTION,
  AUTHORIZATION_TIMEOUT: EXIT.HUMAN_ACTION,
  // No (longer a) grant at a provider: `agentprov add` authorizes again.
  PROVIDER_NOT_AUTHORIZED: EXIT.HUMAN_ACTION,
  // A provider named only by a cloned agentprov.json: `up --trust-manifest-providers` or `providers add`.
  PROVIDER_NOT_TRUSTED: EXIT.HUMAN_ACTION,

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

  // A built-in provider (Cloudflare) the human has not linked yet: `agentprov providers link`.
  PROVIDER_NOT_LINKED: EXIT.HUMAN_ACTION,
  // The registrar will not register this domain (taken, premium, extension not supported via the API).
  DOMAIN_UNAVAILABLE: EXIT.USAGE,
  // The provider cannot do this at all (e.g. unregister a domain).
  UNSUPPORTED_OPERATION: EXIT.USAGE,
  // `open`: the resource's provider offers no way for the human into its account (no deep link operation).
  OPEN_NOT_SUPPORTED: EXIT.USAGE,

  // agentprov's own spending ledger (src/payment/ledger.ts), for providers billed outside the rail.
  LEDGER_CORRUPT: EXIT.OTHER,
  LEDGER_LOCKED: EXIT.OTHER,
  // Another agentprov process held a lock for too long.
  CONFIG_LOCKED: EXIT.OTHER,
  AUDIT_LOCKED: EXIT.OTHER,
  SESSION_LOCKED: EXIT.OTHER,
  MANIFEST_LOCKED: EXIT.OTHER,
  VAULT_LOCKED: EXIT.OTHER,
  LEDGER_FULL: EXIT.OTHER,
  LEDGER_NO_HOLD: EXIT.OTHER,
  LEDGER_CHARGE_CONFLICT: EXIT.OTHER,
  LEDGER_CHARGE_ABOVE_HOLD: EXIT.OTHER,
  // A quote in another currency than the caps are kept in (USD): nothing held, nothing sent.
  CURRENCY_UNSUPPORTED: EXIT.MONEY_REFUSED,

  // Failures of this machine's own state: "other failure".
  INTERNAL: EXIT.OTHER,
  KEYCHAIN_UNAVAILABLE: EXIT.OTHER,
  KEYCHAIN_LOCKED: EXIT.OTHER,
  KEYCHAIN_TIMEOUT: EXIT.OTHER,
  VAULT_CORRUPT: EXIT.OTHER,
  // The vault file exists but its key is not in the keychain, or the file was written with the other store.
  VAULT_KEY_MISSING: EXIT.OTHER,
  VAULT_STORE_MISMATCH: EXIT.OTHER,
  VAULT_PASSPHRASE_REQUIRED: EXIT.OTHER,
  VAULT_PASSPHRASE_INVALID: EXIT.OTHER,
  AUDIT_TAMPERED: EXIT.OTHER,
  // The sign-in redirect came back with another `state` than the one sent.
  AUTHORIZATION_STATE_MISMATCH: EXIT.OTHER,
  // A journal entry's Idempotency-Key was offered for another request body.
  IDEMPOTENCY_KEY_REUSED: EXIT.OTHER,
} as const satisfies Record<string, ExitClass>;

/**
 * Codes a provider module adds (module augmentation), e.g.
 * `declare module '../../core/errors.js' { interface ProviderErrorCodes { MY_CODE: true } }`,
 * together with `registerErrorCodes({ MY_CODE: EXIT.USAGE })` at its top level.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ProviderErrorCodes {}

export type ErrorCode = keyof typeof CODE_CLASS | keyof ProviderErrorCodes;

const registered = new Map<string, ExitClass>(Object.entries(CODE_CLASS));

/** A provider module's own codes and their exit classes; a code already taken with another class is a programming error. */
export function registerErrorCodes<C extends keyof ProviderErrorCodes>(codes: Record<C, ExitClass>): void {
  for (const [code, exit] of Object.entries(codes) as Array<[string, ExitClass]>) {
    const had = registered.get(code);
    if (had !== undefined && had !== exit) throw new Error(`error code ${code} is already registered with exit ${had}`);
    registered.set(code, exit);
  }
}

/** Exit code for an error code. */
export function exitCodeFor(code: ErrorCode): number {
  return registered.get(code) ?? EXIT.OTHER;
}

export interface ErrorInit {
  details?: Record<string, unknown>;
  nextSteps?: string[];
  cause?: unknown;
}

export class AgentprovError extends Error {
  override readonly name = 'AgentprovError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly nextSteps: string[];

  constructor(code: ErrorCode, message: string, init: ErrorInit = {}) {
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
