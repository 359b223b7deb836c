/**
 * What the keychain's failures say to the human, shared by the keychain
 * calls (keychain.ts) and the D-Bus liveness probe that runs before them
 * (dbus-liveness.ts).
 */
import { AgentprovError } from '../core/errors.js';

/** The one KEYCHAIN_TIMEOUT error, for a call that hung or a bus that never answered. */
export function keychainTimeout(backend: string, timeoutMs: number, why?: string): AgentprovError {
  return new AgentprovError('KEYCHAIN_TIMEOUT', `the keychain (${backend}) did not answer within ${timeoutMs} ms${why ? `: ${why}` : ''}`, {
    details: { reason: 'timeout', backend, timeout_ms: timeoutMs },
    nextSteps: ['restart your keyring daemon (or D-Bus session) and unlock it', ...keychainRemedies().slice(1)],
  });
}

export function keychainRemedies(): string[] {
  return [
    'start a Secret Service (e.g. gnome-keyring-daemon) and unlock it',
    'or use the passphrase file store: AGENTPROV_CREDENTIAL_STORE=file AGENTPROV_VAULT_PASSPHRASE=...',
  ];
}
