/**
 * The sandbox identity provider's fixed users. `demo` has a payment method on
 * file at the rail; `second` has none (consent and PAYMENT_METHOD_REQUIRED
 * paths). Passwords are documented demo values, not secrets.
 */
import { secretMatches } from '../shared/secret-compare.js';

export interface SandboxUser {
  readonly sub: string;
  readonly email: string;
  readonly name: string;
  readonly password: string;
  readonly hasPaymentMethod: boolean;
}

/** What other sandbox components get to see: no password. */
export type PublicSandboxUser = Omit<SandboxUser, 'password'>;

export const DEMO_USER: SandboxUser = {
  sub: 'user-demo',
  email: 'demo@agentprov.test',
  name: 'Demo User',
  password: 'demo',
  hasPaymentMethod: true,
};

export const SECOND_USER: SandboxUser = {
  sub: 'user-second',
  email: 'second@agentprov.test',
  name: 'Second User',
  password: 'second',
  hasPaymentMethod: false,
};

export const SANDBOX_USERS: readonly SandboxUser[] = [DEMO_USER, SECOND_USER];

export function findUserBySub(sub: string): SandboxUser | undefined {
  return SANDBOX_USERS.find((u) => u.sub === sub);
}

/** Email + password check; constant time in the password comparison. */
export function authenticate(email: string, password: string): SandboxUser | undefined {
  const user = SANDBOX_USERS.find((u) => u.email === email.trim().toLowerCase());
  return secretMatches(password, user?.password) ? user : undefined;
}

export function publicUsers(): PublicSandboxUser[] {
  return SANDBOX_USERS.map(({ password: _password, ...rest }) => ({ ...rest }));
}
