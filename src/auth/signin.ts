/**
 * Signing the human in at the orchestrator's issuer, chosen for the
 * environment (README, "Signing in"):
 *
 * - a human at a terminal with a browser: authorization code + PKCE;
 * - a terminal without a browser (SSH, container) or `--device`: the device
 *   flow, showing the code and waiting;
 * - an agent (`--json`, `--no-input`, `CI=true`, no TTY): the device flow is
 *   started, its device code kept in the vault, and the command exits 3
 *   with AUTHORIZATION_PENDING; `login --complete` finishes it.
 *
 * `--browser` forces PKCE whenever a human might be there (not with --json
 * or --no-input): the URL is printed on stderr as `sign-in URL: <url>`.
 */
import type * as oidc from 'openid-client';
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import type { SecretVault } from '../core/deps.js';
import { authorizationCodeFlow } from './browser-flow.js';
import { deviceCodeExpired, pollDeviceAuthorization, startDeviceAuthorization } from './device.js';
import { describeSession } from './describe.js';
import { writeIdentity } from './identity.js';
import { discoverIssuer, SCOPES } from './issuer.js';
import { PENDING_ENTRY, pendingDetails, pendingEntry, readPending, SESSION_ENTRY, withSessionLock, type PendingSignIn, type StoredSession } from './store.js';
import { rememberSecrets, storedSessionFrom } from './tokens.js';

export type SignInMethod = 'browser' | 'device';

export interface SignInOptions {
  issuer: string;
  clientId: string;
  /** The issuer's configuration when the caller has already discovered it (init does, to check the issuer before writing). */
  config?: oidc.Configuration;
  /** --device / --browser; undefined chooses by environment. */
  method?: SignInMethod;
  /** False with --no-browser: print URLs, open nothing. */
  openBrowser: boolean;
  /** Upper bound for waiting on the human (browser callback). */
  timeoutSeconds: number;
}

const now = (deps: Deps): number => Math.floor(deps.clock.now().getTime() / 1000);

export async function chooseMethod(deps: Deps, requested: SignInMethod | undefined): Promise<SignInMethod> {
  if (requested === 'browser') {
    if (deps.globals.json || !deps.globals.input) {
      throw new AgentprovError('USAGE', '--browser needs a human at this run: it cannot be combined with --json or --no-input', {
        nextSteps: ['agentprov login --json   (device flow for agents)'],
      });
    }
    return 'browser';
  }
  if (requested === 'device' || !deps.canPrompt()) return 'device';
  return (await deps.browser.available()) ? 'browser' : 'device';
}

export async function signIn(deps: Deps, opts: SignInOptions): Promise<StoredSession> {
  const method = await chooseMethod(deps, opts.method);
  const config = opts.config ?? (await discoverIssuer(opts.issuer, opts.clientId));
  const vault = await deps.vault();

  if (method === 'browser') {
    const tokens = await authorizationCodeFlow(config, {
      timeoutMs: opts.timeoutSeconds * 1000,
      present: async (url) => {
        deps.io.err(`sign-in URL: ${url}\n`);
        const opened = opts.openBrowser && (await deps.browser.open(url));
        deps.io.err(opened ? 'Opened your browser; finish signing in there.\n' : 'Open the URL above in a browser to sign in.\n');
      },
    });
    return saveSession(deps, vault, storedSessionFrom(tokens, now(deps)));
  }

  const pending = await startDeviceAuthorization(config, now(deps), SCOPES);
  deps.io.redactor.add(pending.device_code);
  if (!deps.canPrompt()) {
    await vault.set(PENDING_ENTRY, pendingEntry(pending));
    throw pendingError(pending);
  }
  return waitForDevice(deps, config, vault, pending, opts.openBrowser);
}

/** `login --complete [--wait]`: one poll (or up to `waitSeconds`) of the stored device authorization. */
export async function completePending(deps: Deps, waitSeconds: number): Promise<StoredSession | undefined> {
  const vault = await deps.vault();
  const pending = await readPending(vault);
  if (!pending) return undefined;
  // Expired already: say so without asking the issuer.
  if (pending.expires_at <= now(deps)) {
    await vault.delete(PENDING_ENTRY);
    throw deviceCodeExpired(pending.issuer);
  }
  const config = await discoverIssuer(pending.issuer, pending.client_id);
  try {
    const outcome = await pollDeviceAuthorization(config, pending, now(deps), waitSeconds);
    if (outcome.kind === 'pending') throw pendingError(pending);
    return await saveSession(deps, vault, storedSessionFrom(outcome.tokens, now(deps)));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'AUTHORIZATION_DENIED' || code === 'AUTHORIZATION_EXPIRED') await vault.delete(PENDING_ENTRY);
    throw err;
  }
}

async function waitForDevice(deps: Deps, config: oidc.Configuration, vault: SecretVault, pending: PendingSignIn, openBrowser: boolean): Promise<StoredSession> {
  const target = pending.verification_uri_complete ?? pending.verification_uri;
  deps.io.err(`To sign in, open ${pending.verification_uri} and enter the code ${pending.user_code}\n`);
  if (openBrowser && (await deps.browser.open(target))) deps.io.err('Opened your browser.\n');
  const spinner = deps.io.stderrIsTTY
    ? (await import('ora')).default({ text: 'Waiting for the sign-in to be approved…', stream: deps.io.stderr }).start()
    : undefined;
  try {
    const outcome = await pollDeviceAuthorization(config, pending, now(deps), pending.expires_at - now(deps));
    if (outcome.kind === 'pending') throw pendingError(pending);
    spinner?.succeed('Signed in.');
    return await saveSession(deps, vault, storedSessionFrom(outcome.tokens, now(deps)));
  } catch (err) {
    spinner?.fail('Sign-in did not complete.');
    throw err;
  }
}

function pendingError(p: PendingSignIn): AgentprovError {
  return new AgentprovError('AUTHORIZATION_PENDING', `a human must approve the sign-in: open ${p.verification_uri} and enter the code ${p.user_code}`, {
    details: {
      ...pendingDetails(p),
      issuer: p.issuer,
    },
    nextSteps: ['agentprov login --complete'],
  });
}

/**
 * Writes the new session (and drops any pending device sign-in) under the
 * session lock, and the identity file `whoami` reads (identity.ts).
 */
async function saveSession(deps: Deps, vault: SecretVault, session: StoredSession): Promise<StoredSession> {
  rememberSecrets(deps.io.redactor, session);
  await withSessionLock(deps.paths.state, async () => {
    await vault.update((entries) => {
      entries[SESSION_ENTRY] = session;
      delete entries[PENDING_ENTRY];
    });
    await writeIdentity(deps.paths.state, describeSession(session, vault), vault.fingerprint);
  });
  return session;
}
