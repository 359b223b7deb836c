/**
 * Keychain tests need a real Secret Service (gnome-keyring under
 * dbus-run-session, as .ci/run provides). In CI they are mandatory: a missing
 * Secret Service fails them. On a developer machine without one they skip,
 * saying so.
 */
export const secretServiceAvailable = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
export const inCI = process.env.CI === 'true' || process.env.CI === '1';

export function requireSecretService(): boolean {
  if (secretServiceAvailable) return true;
  if (inCI) throw new Error('CI requires a Secret Service (DBUS_SESSION_BUS_ADDRESS is not set): run the tests under dbus-run-session with gnome-keyring');
  console.warn('[skip] no Secret Service (DBUS_SESSION_BUS_ADDRESS unset): keychain tests skipped on this machine');
  return false;
}
