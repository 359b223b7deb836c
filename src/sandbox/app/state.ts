/**
 * The sandbox APP provider's durable state and the rules on it: accounts by
 * email, registered clients (CIMD), single-use authorization codes bound to
 * a PKCE challenge, rotating single-use refresh tokens (the access token
 * they came with dies on refresh), and resources idempotent on
 * `project_id`, whose API key rotates. Tokens and codes are kept as SHA-256
 * hashes; API keys are kept as they are (the provider must hand them out
 * again on GET).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { JsonState } from '../shared/json-state.js';

export const CODE_TTL_S = 300;
export const ACCESS_TTL_S = 3600;
const CONSENT_TTL_S = 900;

export interface AppAccount {
  id: string;
  email: string;
  name?: string;
}
interface CodeRecord {
  account: string;
  client_id: string;
  challenge: string;
  expires_at: number;
  used: boolean;
}
interface RefreshRecord {
  account: string;
  client_id: string;
  used: boolean;
  /** The access token issued beside it (hash), revoked when this refresh token is used. */
  access: string;
}
interface AccessRecord {
  account: string;
  expires_at: number;
  revoked: boolean;
}
export interface ConsentRecord {
  id: string;
  account: string;
  client_id: string;
  challenge: string;
  state: string;
  expires_at: number;
  decided: boolean;
}
export interface ResourceRecord {
  id: string;
  account: string;
  project_id: string;
  service_id: string;
  api_key: string;
  removed: boolean;
  /** Keys given out before the current one: refused by the API. */
  retired: string[];
}
export interface AppStateData {
  accounts: Record<string, AppAccount>;
  clients: Record<string, { client_name: string; redirect_uris: string[] }>;
  codes: Record<string, CodeRecord>;
  refresh: Record<string, RefreshRecord>;
  access: Record<string, AccessRecord>;
  consents: Record<string, ConsentRecord>;
  resources: Record<string, ResourceRecord>;
  /** Account requests by id: a repeated id (a client's retry) is the same request, answered again. */
  requests?: Record<string, { account: string; client_id: string; created: boolean; times: number }>;
}

export const hash = (s: string): string => createHash('sha256').update(s).digest('base64url');
const token = (prefix: string): string => `${prefix}_${randomBytes(24).toString('base64url')}`;
const now = (): number => Math.floor(Date.now() / 1000);

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly envelope: 'app' | 'oauth' = 'app',
  ) {
    super(message);
  }
}

export class AppState {
  readonly #s: JsonState<AppStateData>;

  constructor(file: string | undefined) {
    this.#s = new JsonState<AppStateData>(file, () => ({ accounts: {}, clients: {}, codes: {}, refresh: {}, access: {}, consents: {}, resources: {} }));
  }

  get data(): Readonly<AppStateData> {
    return this.#s.data;
  }

  registerClient(clientId: string, meta: { client_name: string; redirect_uris: string[] }): Promise<void> {
    return this.#s.update((d) => void (d.clients[clientId] = meta));
  }

  /** A new account gets a code at once; an existing one needs the human's consent (the returned record). */
  accountRequest(req: { email: string; name?: string; client_id: string; challenge: string; state: string }): Promise<{ code: string } | { consent: ConsentRecord }> {
    return this.#s.update((d) => {
      const requests = (d.requests ??= {});
      const seen = requests[req.state];
      const existing = Object.values(d.accounts).find((a) => a.email.toLowerCase() === req.email.toLowerCase());
      if (seen && seen.client_id === req.client_id && existing?.id === seen.account) {
        seen.times += 1;
        // The retry of the request that created the account: a code again, bound to the retry's challenge.
        if (seen.created) return { code: issueCode(d, seen.account, req.client_id, req.challenge) };
      }
      if (!existing) {
        const account: AppAccount = { id: `acct_${randomBytes(8).toString('hex')}`, email: req.email, ...(req.name ? { name: req.name } : {}) };
        d.accounts[account.id] = account;
        requests[req.state] = { account: account.id, client_id: req.client_id, created: true, times: 1 };
        return { code: issueCode(d, account.id, req.client_id, req.challenge) };
      }
      requests[req.state] ??= { account: existing.id, client_id: req.client_id, created: false, times: 1 };
      const consent: ConsentRecord = { id: randomBytes(16).toString('base64url'), account: existing.id, client_id: req.client_id, challenge: req.challenge, state: req.state, expires_at: now() + CONSENT_TTL_S, decided: false };
      d.consents[consent.id] = consent;
      return { consent };
    });
  }

  /** The human's answer on the consent page: a code on yes; either way the consent is used up. */
  decide(consentId: string, approve: boolean): Promise<{ consent: ConsentRecord; code?: string }> {
    return this.#s.update((d) => {
      const c = d.consents[consentId];
      if (!c || c.decided || c.expires_at < now()) throw new AppError(404, 'not_found', 'no such consent (used, expired or unknown)');
      c.decided = true;
      return { consent: { ...c }, ...(approve ? { code: issueCode(d, c.account, c.client_id, c.challenge) } : {}) };
    });
  }

  /** authorization_code with PKCE S256: the code is single use. */
  exchangeCode(code: string, verifier: string): Promise<Tokens> {
    return this.#s.update((d) => {
      const rec = d.codes[hash(code)];
      if (!rec || rec.used || rec.expires_at < now()) throw new AppError(400, 'invalid_grant', 'the code is unknown, used or expired', 'oauth');
      rec.used = true;
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (!safeEqual(challenge, rec.challenge)) throw new AppError(400, 'invalid_grant', 'code_verifier does not match the code_challenge', 'oauth');
      return issueTokens(d, rec.account, rec.client_id);
    });
  }

  /** refresh_token: single use, rotates; the access token issued beside the old one dies. */
  refresh(refreshToken: string): Promise<Tokens> {
    return this.#s.update((d) => {
      const rec = d.refresh[hash(refreshToken)];
      if (!rec || rec.used) {
        // A replayed refresh token revokes everything issued from that account's grant to this client.
        if (rec) for (const r of Object.values(d.refresh)) if (r.account === rec.account && r.client_id === rec.client_id) r.used = true;
        throw new AppError(400, 'invalid_grant', 'the refresh token is unknown or was already used', 'oauth');
      }
      rec.used = true;
      const old = d.access[rec.access];
      if (old) old.revoked = true;
      return issueTokens(d, rec.account, rec.client_id);
    });
  }

  /** The account behind a live access token, or an unauthorized AppError. */
  bearer(accessToken: string | undefined): string {
    const rec = accessToken ? this.#s.data.access[hash(accessToken)] : undefined;
    if (!rec || rec.revoked || rec.expires_at < now()) throw new AppError(401, 'unauthorized', 'the access token is unknown, expired or revoked');
    return rec.account;
  }

  /** POST provisioning/resources: the same project_id gives the same resource. */
  createResource(account: string, projectId: string, serviceId: string): Promise<ResourceRecord> {
    return this.#s.update((d) => {
      const same = Object.values(d.resources).find((r) => r.account === account && r.project_id === projectId);
      if (same) {
        if (same.service_id !== serviceId) throw new AppError(409, 'project_id_conflict', 'this project_id already names a resource of another service');
        return { ...same };
      }
      const r: ResourceRecord = { id: `res_${randomBytes(8).toString('hex')}`, account, project_id: projectId, service_id: serviceId, api_key: token('phx'), removed: false, retired: [] };
      d.resources[r.id] = r;
      return { ...r };
    });
  }

  resource(account: string, id: string): ResourceRecord {
    const r = this.#s.data.resources[id];
    if (!r || r.account !== account || r.removed) throw new AppError(404, 'not_found', 'no such resource');
    return { ...r };
  }

  rotate(account: string, id: string): Promise<ResourceRecord> {
    return this.#s.update((d) => {
      const r = d.resources[id];
      if (!r || r.account !== account || r.removed) throw new AppError(404, 'not_found', 'no such resource');
      r.retired.push(hash(r.api_key));
      r.api_key = token('phx');
      return { ...r };
    });
  }

  /** update_service: the resource moves to another service (the caller checked allowed_updates); its key stays. */
  updateService(account: string, id: string, serviceId: string): Promise<ResourceRecord> {
    return this.#s.update((d) => {
      const r = d.resources[id];
      if (!r || r.account !== account || r.removed) throw new AppError(404, 'not_found', 'no such resource');
      r.service_id = serviceId;
      return { ...r };
    });
  }

  remove(account: string, id: string): Promise<void> {
    return this.#s.update((d) => {
      const r = d.resources[id];
      if (!r || r.account !== account) throw new AppError(404, 'not_found', 'no such resource');
      r.removed = true;
    });
  }

  /** The resource an API key belongs to (the small API the credentials work against). */
  byApiKey(key: string): ResourceRecord | undefined {
    return Object.values(this.#s.data.resources).find((r) => !r.removed && safeEqual(r.api_key, key));
  }
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  account: string;
}

function issueCode(d: AppStateData, account: string, clientId: string, challenge: string): string {
  const code = token('code');
  d.codes[hash(code)] = { account, client_id: clientId, challenge, expires_at: now() + CODE_TTL_S, used: false };
  return code;
}

function issueTokens(d: AppStateData, account: string, clientId: string): Tokens {
  const access = token('at');
  const refresh = token('rt');
  d.access[hash(access)] = { account, expires_at: now() + ACCESS_TTL_S, revoked: false };
  d.refresh[hash(refresh)] = { account, client_id: clientId, used: false, access: hash(access) };
  return { access_token: access, refresh_token: refresh, expires_in: ACCESS_TTL_S, account };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
