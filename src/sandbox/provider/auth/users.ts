/**
 * The provider's own user table: the people who can sign in at the
 * provider's authorization server (device flow verification pages). They are
 * the same people as the sandbox identity provider's users, and carry that
 * IdP's `sub` so an account created here can be linked to the identity an
 * ID-JAG later asserts. Passwords are documented demo values, not secrets.
 */
import { secretMatches } from '../../shared/secret-compare.js';

export interface ProviderUser {
  readonly email: string;
  readonly name: string;
  /** The `sub` the sandbox identity provider uses for this person. */
  readonly sub: string;
  readonly password: string;
}

export const PROVIDER_USERS: readonly ProviderUser[] = [
  { email: 'demo@agentprov.test', name: 'Demo User', sub: 'user-demo', password: 'demo' },
  { email: 'second@agentprov.test', name: 'Second User', sub: 'user-second', password: 'second' },
];

/** The user that `autoApprove` acts for. */
export const DEMO_USER = PROVIDER_USERS[0] as ProviderUser;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function findUserByEmail(email: string): ProviderUser | undefined {
  const wanted = normalizeEmail(email);
  return PROVIDER_USERS.find((u) => u.email === wanted);
}

/** Email + password check, constant time in the password comparison. */
export function authenticateUser(email: string, password: string): ProviderUser | undefined {
  const user = findUserByEmail(email);
  return secretMatches(password, user?.password) ? user : undefined;
}
