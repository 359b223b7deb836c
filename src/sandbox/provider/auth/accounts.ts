/**
 * The provider's accounts and the ID-JAG `jti`s it has redeemed, in one
 * JsonState document (`accounts.json`), so "is this jti fresh?", "does the
 * account exist?" and "create it" happen in one serialized step: two
 * concurrent requests with the same assertion can never both succeed, and a
 * refused request (terms, consent) changes nothing.
 *
 * An account is reachable two ways: by the (issuer, sub) an ID-JAG asserts,
 * and by the email of a person signing in at the provider itself (device
 * flow). Both lead to the same account when the emails match.
 */
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { JsonState } from '../../shared/json-state.js';
import { normalizeEmail } from './users.js';

const AccountSchema = z.object({
  id: z.string(),
  email: z.string(),
  createdAt: z.string(),
  termsVersion: z.string().optional(),
  issuer: z.string().optional(),
  sub: z.string().optional(),
  /** Client ids the account holder has granted access to. */
  consentedClients: z.array(z.string()),
});
export type Account = z.infer<typeof AccountSchema>;

const DocSchema = z.object({
  accounts: z.array(AccountSchema),
  /** `${iss} ${jti}` → exp (epoch s); dropped once expired. */
  usedJtis: z.record(z.string(), z.number()),
});
type Doc = z.infer<typeof DocSchema>;

export interface AccountSeed {
  issuer: string;
  sub: string;
  email: string;
  consented: boolean;
}

export type RedeemResult =
  | { kind: 'ok'; account: Account; created: boolean }
  | { kind: 'replayed' }
  | { kind: 'terms_required' }
  | { kind: 'consent_required'; account: Account };

export class AccountStore {
  readonly #state: JsonState<Doc>;
  readonly #seedClientId: string;

  private constructor(file: string | undefined, seedClientId: string) {
    this.#state = new JsonState<Doc>(file, () => ({ accounts: [], usedJtis: {} }), (raw) => DocSchema.parse(raw));
    this.#seedClientId = seedClientId;
  }

  /** `seedClientId`: the client a seeded `consented: true` account has consented to. */
  static async open(file: string | undefined, seeds: AccountSeed[], seedClientId: string): Promise<AccountStore> {
    const store = new AccountStore(file, seedClientId);
    if (seeds.length) await store.#seed(seeds);
    return store;
  }

  list(): readonly Account[] {
    return this.#state.data.accounts;
  }

  get(id: string): Account | undefined {
    return this.#state.data.accounts.find((a) => a.id === id);
  }

  /**
   * ID-JAG path (RFC 7523 grant): atomically refuse a replayed `jti`, find
   * the account for (iss, sub), create it when `acceptedTerms` equals the
   * current terms version, require consent for `clientId`, and only on
   * success remember the `jti` until it expires.
   */
  redeemAssertion(input: {
    iss: string;
    sub: string;
    email: string;
    jti: string;
    exp: number;
    clientId: string;
    acceptedTerms: string | undefined;
    currentTerms: string;
    /** Fault switch (conformance tests): skip the single-use check. */
    acceptReplayed?: boolean;
  }): Promise<RedeemResult> {
    return this.#state.update((doc): RedeemResult => {
      const now = Math.floor(Date.now() / 1000);
      for (const [key, exp] of Object.entries(doc.usedJtis)) if (exp < now) delete doc.usedJtis[key];
      const jtiKey = `${input.iss} ${input.jti}`;
      if (doc.usedJtis[jtiKey] !== undefined && input.acceptReplayed !== true) return { kind: 'replayed' };

      let account = doc.accounts.find((a) => a.issuer === input.iss && a.sub === input.sub);
      let created = false;
      if (!account) {
        // Same email, not linked to this identity: only the person signing in
        // at the provider (device flow) may link it, never an assertion alone.
        const byEmail = doc.accounts.find((a) => normalizeEmail(a.email) === normalizeEmail(input.email));
        if (byEmail) return { kind: 'consent_required', account: structuredClone(byEmail) };
        if (input.acceptedTerms !== input.currentTerms) return { kind: 'terms_required' };
        account = newAccount(input.email, input.currentTerms, input.iss, input.sub, [input.clientId]);
        doc.accounts.push(account);
        created = true;
      } else if (!account.consentedClients.includes(input.clientId)) {
        return { kind: 'consent_required', account: structuredClone(account) };
      }
      doc.usedJtis[jtiKey] = input.exp;
      return { kind: 'ok', account: structuredClone(account), created };
    });
  }

  /** The account a person signing in at the provider owns, if any (matched by email). */
  findForEmail(email: string): Account | undefined {
    const wanted = normalizeEmail(email);
    return this.#state.data.accounts.find((a) => normalizeEmail(a.email) === wanted);
  }

  /**
   * Device flow approval: mark the person's account consented for `clientId`,
   * creating it (terms accepted) when there is none. `link` ties a new or
   * unlinked account to the identity the trusted orchestrator uses for them.
   */
  approve(input: {
    email: string;
    clientId: string;
    termsVersion: string | undefined;
    link: { issuer: string; sub: string } | undefined;
  }): Promise<{ account: Account; created: boolean } | { kind: 'terms_required' }> {
    return this.#state.update((doc) => {
      const wanted = normalizeEmail(input.email);
      let account = doc.accounts.find((a) => normalizeEmail(a.email) === wanted);
      let created = false;
      if (!account) {
        if (!input.termsVersion) return { kind: 'terms_required' as const };
        account = newAccount(wanted, input.termsVersion, input.link?.issuer, input.link?.sub, []);
        doc.accounts.push(account);
        created = true;
      }
      if (input.link && account.issuer === undefined) Object.assign(account, input.link);
      if (!account.consentedClients.includes(input.clientId)) account.consentedClients.push(input.clientId);
      return { account: structuredClone(account), created };
    });
  }

  #seed(seeds: AccountSeed[]): Promise<void> {
    return this.#state.update((doc) => {
      for (const s of seeds) {
        if (doc.accounts.some((a) => a.issuer === s.issuer && a.sub === s.sub)) continue;
        const clients = s.consented ? [this.#seedClientId] : [];
        doc.accounts.push(newAccount(normalizeEmail(s.email), undefined, s.issuer, s.sub, clients));
      }
    });
  }
}

function newAccount(
  email: string,
  termsVersion: string | undefined,
  issuer: string | undefined,
  sub: string | undefined,
  consentedClients: string[],
): Account {
  return {
    id: `acct_${randomBytes(9).toString('base64url')}`,
    email,
    createdAt: new Date().toISOString(),
    ...(termsVersion !== undefined ? { termsVersion } : {}),
    ...(issuer !== undefined && sub !== undefined ? { issuer, sub } : {}),
    consentedClients,
  };
}
