/**
 * Keychain tests need a real Secret Service: a gnome-keyring that owns
 * org.freedesktop.secrets on the D-Bus session bus, unlocked.
 * scripts/with-keyring.sh runs a command with a private, throwaway one, as
 * .ci/run does. In CI (CI=true) a missing Secret Service fails every suite
 * that needs one (and the integration and e2e runs up front), naming what is
 * missing; on a developer machine without one those suites skip, saying so.
 */
import { spawnSync } from 'node:child_process';
import { inCI } from './ci.js';

export { inCI } from './ci.js';

export const SECRET_SERVICE_HELP =
  'run the tests under scripts/with-keyring.sh (a private D-Bus session with an unlocked, throwaway gnome-keyring), which needs the Debian packages gnome-keyring and dbus (apt-get install gnome-keyring dbus; .ci/run installs them)';

/** Why no Secret Service is reachable with `env`, or undefined when one is. */
export function secretServiceMissing(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const address = env.DBUS_SESSION_BUS_ADDRESS;
  if (!address) return 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)';
  const r = spawnSync(
    'dbus-send',
    ['--session', '--print-reply', '--reply-timeout=3000', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets'],
    { env, encoding: 'utf8', timeout: 5_000 },
  );
  // Without dbus-send (the Debian package dbus) nothing can be asked: the address is all there is.
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
  if (r.status !== 0) return `the D-Bus session bus ${address} does not answer (${(r.stderr || String(r.error ?? r.signal)).trim().slice(0, 200)})`;
  if (!/boolean true/.test(r.stdout)) return `nothing owns org.freedesktop.secrets on the D-Bus session bus ${address} (no gnome-keyring-daemon running there)`;
  return undefined;
}

const missing = secretServiceMissing();
export const secretServiceAvailable = missing === undefined;

/** The error CI fails with when the Secret Service is missing. */
export function noSecretServiceError(why: string): Error {
  return new Error(`CI requires a Secret Service, and there is none: ${why}. To get one, ${SECRET_SERVICE_HELP}.`);
}

/**
 * Call at the top of a suite that needs the keychain: true when a Secret
 * Service is reachable; in CI, throws (the suite fails) when none is;
 * elsewhere warns and returns false (the suite skips).
 */
export function requireSecretService(): boolean {
  if (!missing) return true;
  if (inCI) throw noSecretServiceError(missing);
  console.warn(`[skip] no Secret Service (${missing}): keychain tests skipped on this machine. To run them, ${SECRET_SERVICE_HELP}.`);
  return false;
}
