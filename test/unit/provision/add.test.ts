/** The pieces of the add flow that need no counterpart: journal, config validation, close matches. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CatalogService } from '../../../src/catalog/service.js';
import { readConfigFile, updateConfig } from '../../../src/config/settings.js';
import { resolvePaths } from '../../../src/core/paths.js';
import { addUserProvider } from '../../../src/catalog/manage.js';
import { loadRegistry } from '../../../src/catalog/registry.js';
import { checkConfig, parseConfigInput } from '../../../src/provision/service-config.js';
import { sameConfig } from '../../../src/provision/add.js';
import { advanceJournal, isUnfinished, journalSlot, listJournal, newIdempotencyKey, readJournal, writeJournal, type JournalEntry } from '../../../src/provision/journal.js';
import { closeMatches, parseQualified } from '../../../src/provision/providers.js';
import { tempDir } from '../../helpers/cli.js';
import { rejection } from '../../helpers/errors.js';

const script: CatalogService = {
  provider: 'localcloud',
  id: 'workers:script',
  name: 'Worker script',
  description: '',
  categories: [],
  pricing: { type: 'free' },
  config_schema: { type: 'object', properties: { name: { type: 'string', pattern: '^[a-z]+$' }, size: { type: 'integer', minimum: 1 } }, required: ['name'], additionalProperties: false },
  env: {},
  scopes: [],
  kind: 'resource',
  async: false,
};

describe('journal', () => {
  it('is one atomic file per slot, keyed stably, holding the Idempotency-Key and the state', async () => {
    const state = tempDir();
    const slot = journalSlot('/p/agentprov.json', 'localcloud', 'kv:namespace', 'cache');
    expect(slot).toBe(journalSlot('/p/agentprov.json', 'localcloud', 'kv:namespace', 'cache'));
    expect(slot).not.toBe(journalSlot('/q/agentprov.json', 'localcloud', 'kv:namespace', 'cache'));
    const now = new Date();
    const entry: JournalEntry = { v: 1, slot, manifest: '/p/agentprov.json', provider: 'localcloud', service: 'kv:namespace', name: 'cache', config: {}, idempotency_key: newIdempotencyKey(), state: 'intended', created_at: now.toISOString(), updated_at: now.toISOString() };
    await writeJournal(state, entry);
    expect(readdirSync(join(state, 'journal'))).toEqual([`${slot}.json`]);
    const sent = await advanceJournal(state, entry, { state: 'sent' }, now);
    expect(await readJournal(state, slot)).toEqual(sent);
    expect(isUnfinished(sent)).toBe(true);
    expect(JSON.parse(readFileSync(join(state, 'journal', `${slot}.json`), 'utf8')).idempotency_key).toBe(entry.idempotency_key);
    expect(await listJournal(state)).toHaveLength(1);
  });

  it('treats an unreadable entry as absent', async () => {
    const state = tempDir();
    const slot = journalSlot('/p', 'a', 'b:c', 'd');
    await writeJournal(state, { v: 1, slot, manifest: '/p', provider: 'a', service: 'b:c', name: 'd', config: {}, idempotency_key: 'k', state: 'sent', created_at: '', updated_at: '' });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(state, 'journal', `${slot}.json`), '{"v":1,');
    expect(await readJournal(state, slot)).toBeUndefined();
  });
});

describe('config', () => {
  it('--config must be a JSON object; --param is key=value and coerced to the schema', () => {
    expect(() => parseConfigInput({ config: '[1]' })).toThrow(/JSON object/);
    expect(() => parseConfigInput({ config: '{' })).toThrow(/not valid JSON/);
    expect(() => parseConfigInput({ param: ['novalue'] })).toThrow(/key=value/);
    const input = parseConfigInput({ param: ['name=abc', 'size=3'] });
    expect(checkConfig(script, input.config, input.fromParams)).toEqual([]);
    expect(input.config).toEqual({ name: 'abc', size: 3 });
  });

  it('names every offending field as config.<path>', () => {
    expect(checkConfig(script, {}, false).map((i) => i.field)).toEqual(['config.name']);
    expect(checkConfig(script, { name: 'X1', extra: 1 }, false).map((i) => i.field).sort()).toEqual(['config.extra', 'config.name']);
    expect(checkConfig(script, { name: 'abc', size: '3' }, false).map((i) => i.field)).toEqual(['config.size']);
  });

  it('compares configs regardless of key order', () => {
    expect(sameConfig({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 })).toBe(true);
    expect(sameConfig({ a: 1 }, { a: 2 })).toBe(false);
  });
});

describe('the config file', () => {
  it('changes made at the same time are all kept: updateConfig holds a lock from read to write', async () => {
    const dir = tempDir();
    const slow = (id: string) =>
      updateConfig(dir, async (c) => {
        await new Promise((r) => setTimeout(r, 40)); // a wide window between read and write
        c.providers.push({ id, url: `https://${id}.example/.well-known/agent-provisioning`, source: 'user' });
      });
    await Promise.all(['a', 'b', 'c'].map(slow));
    expect(readConfigFile(join(dir, 'config.json')).providers.map((p) => p.id).sort()).toEqual(['a', 'b', 'c']);
  });

  it('providers add checks the id again under the lock: one taken since the registry was read is refused', async () => {
    const paths = resolvePaths({ AGENTPROV_HOME: tempDir() });
    const first = 'https://first.example/.well-known/agent-provisioning';
    const registry = await loadRegistry({ paths, cwd: tempDir() }); // read before the other add lands
    await updateConfig(paths.config, (c) => void c.providers.push({ id: 'same', url: first, source: 'user' }));
    await expect(addUserProvider(paths, registry, 'https://second.example/.well-known/agent-provisioning', 'same')).rejects.toMatchObject({
      code: 'USAGE',
      details: { reason: 'PROVIDER_ID_COLLISION', existing: { url: first } },
    });
    expect(readConfigFile(join(paths.config, 'config.json')).providers.map((p) => p.url)).toEqual([first]);
  });

  it('a change that throws writes nothing', async () => {
    const dir = tempDir();
    await updateConfig(dir, (c) => void c.providers.push({ id: 'kept', url: 'https://kept.example/.well-known/agent-provisioning', source: 'user' }));
    await expect(updateConfig(dir, (c) => {
      c.providers = [];
      throw new Error('changed my mind');
    })).rejects.toThrow('changed my mind');
    expect(readConfigFile(join(dir, 'config.json')).providers.map((p) => p.id)).toEqual(['kept']);
  });
});

describe('service names', () => {
  it('parses <provider>/<service> and suggests close matches', () => {
    expect(parseQualified('localcloud/kv:namespace')).toEqual({ provider: 'localcloud', service: 'kv:namespace' });
    expect(() => parseQualified('kv:namespace')).toThrow(/not <provider>\/<service>/);
    const all = ['localcloud/kv:namespace', 'localcloud/registrar:domain', 'othercloud/storage:bucket', 'othercloud/queue:basic'];
    expect(closeMatches('localcloud/kv:namespaec', all)[0]).toBe('localcloud/kv:namespace');
    expect(closeMatches('othercloud/kv:namespace', all)[0]).toBe('localcloud/kv:namespace');
    expect(closeMatches('localcloud/storage:bucket', all)[0]).toBe('othercloud/storage:bucket');
    expect(closeMatches('zzz/qqqqqqqq:wwwwwww', all)).toEqual([]);
  });
});

// ---- Externally billed providers (issue 9 §3): agentprov's ledger instead of the rail ----

import { existsSync } from 'node:fs';
import { createDeps, type Deps } from '../../../src/cli/deps.js';
import { AgentprovError } from '../../../src/core/errors.js';
import { bufferIO } from '../../helpers/io.js';
import { provisionOne, type AddRequest } from '../../../src/provision/add.js';
import { openLedger } from '../../../src/payment/ledger.js';
import { testApprover } from '../../helpers/cap-approval.js';
import type { Provision } from '../../../src/wire/provider.js';
import type { Authorization, ExternalQuote, Provider, ProvisionInput, ShortLivedCredential } from '../../../src/providers/provider.js';

/** A test double of the Provider interface that bills its own payment method (like Cloudflare). */
class ExternalBiller implements Provider {
  readonly id = 'extcloud';
  readonly billing = 'external' as const;
  quoteAnswer: ExternalQuote | undefined = { amount: 3000, currency: 'USD', description: 'example.test for 1 year' };
  /** What provision does: answer, or throw. */
  outcome: 'active' | 'pending' | 'failed' | 'refuse' | 'unreachable' = 'active';
  /** What the provider says it charged (active). */
  reportedCharge: number | undefined;
  onAuthorize: () => Promise<void> = async () => undefined;
  quotes = 0;
  calls: ProvisionInput[] = [];
  /** Provisions by Idempotency-Key: the same key answers the same provision. */
  made = new Map<string, Provision>();

  async services() {
    return [];
  }
  async authorize(): Promise<Authorization> {
    await this.onAuthorize();
    return { accountId: 'acct-1', accountCreated: false, via: 'stored_grant' };
  }
  async quote(): Promise<ExternalQuote | undefined> {
    this.quotes++;
    return this.quoteAnswer;
  }
  async provision(input: ProvisionInput): Promise<Provision> {
    this.calls.push(input);
    expect(input.paymentToken).toBeUndefined();
    if (this.outcome === 'refuse') throw new AgentprovError('PAYMENT_METHOD_REQUIRED', 'no billing profile on the account', { details: { url: 'https://dash.example.test/billing' } });
    if (this.outcome === 'unreachable') throw new AgentprovError('PROVIDER_UNREACHABLE', 'connection reset', { details: { retryable: true } });
    const earlier = this.made.get(input.idempotencyKey);
    const p: Provision = earlier ?? {
      id: `prov-${this.made.size + 1}`,
      service: input.service,
      name: input.name,
      status: this.outcome === 'pending' ? 'pending' : this.outcome === 'failed' ? 'failed' : 'active',
      created_at: new Date().toISOString(),
      resource: {},
    };
    if (this.outcome === 'active') {
      p.status = 'active';
      if (this.reportedCharge !== undefined) p.charge = { amount: this.reportedCharge, currency: 'USD' };
    }
    this.made.set(input.idempotencyKey, p);
    return { ...p };
  }
  async get(id: string): Promise<Provision> {
    const p = [...this.made.values()].find((x) => x.id === id)!;
    if (this.outcome === 'active') p.status = 'active';
    return { ...p };
  }
  async remove(): Promise<void> {}
  async rotate(): Promise<void> {}
  async mint(): Promise<ShortLivedCredential> {
    throw new Error('not used');
  }
  async revoke(): Promise<void> {}
}

const domainService: CatalogService = {
  provider: 'extcloud',
  id: 'registrar:domain',
  name: 'Domain',
  description: '',
  categories: [],
  // Indicative only: the price is the provider's quote at add time (lower here, so the rail's quote-above-catalog rule would refuse).
  pricing: { type: 'one_time', amount: 1000, currency: 'USD' },
  config_schema: { type: 'object' },
  env: {},
  scopes: [],
  kind: 'resource',
  async: false,
};

function externalHome(): { deps: Deps; home: string; manifest: string; audit: () => string; ledger: ReturnType<typeof openLedger> } {
  const home = tempDir();
  const cwd = tempDir('agentprov-project-');
  const io = bufferIO({ columns: 80 });
  // No orchestrator, no payment rail, no session: an externally billed add needs none of them.
  const deps = { ...createDeps({ json: true, input: false, verbose: false }, { AGENTPROV_HOME: home, PATH: process.env.PATH }, io, []), cwd };
  return {
    deps,
    home,
    manifest: join(cwd, 'agentprov.json'),
    audit: () => {
      try {
        return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8');
      } catch {
        return '';
      }
    },
    ledger: openLedger(deps),
  };
}

const addReq = (manifest: string, name: string, payment: AddRequest['payment'] = { confirmed: true }): AddRequest => ({
  command: 'add',
  service: domainService,
  name,
  config: { domain: `${name}.test` },
  manifestPath: manifest,
  acceptTos: true,
  waitSeconds: 0,
  resume: `agentprov add extcloud/registrar:domain --name ${name}`,
  payment,
});

const refused = rejection;

const ledgerRow = async (l: ReturnType<typeof openLedger>) => (await l.spend()).providers.find((p) => p.provider === 'extcloud') ?? { spent: 0, held: 0 };
const journalOf = async (deps: Deps, manifest: string, name: string) => readJournal(deps.paths.state, journalSlot(manifest, 'extcloud', 'registrar:domain', name));

describe('add, billed by the provider itself (ledger)', () => {
  it('a quote above --max-price is refused before anything is held or sent (the catalog price is only indicative)', async () => {
    const h = externalHome();
    const p = new ExternalBiller();
    const e = await refused(provisionOne(h.deps, p, addReq(h.manifest, 'pricey', { confirmed: true, maxPrice: 2999 })));
    expect(e.code).toBe('PRICE_ABOVE_LIMIT');
    expect(e.exitCode).toBe(4);
    expect(e.details).toMatchObject({ amount: 3000, max_price: 2999, source: 'quote' });
    expect(p.quotes).toBe(1);
    expect(p.calls).toHaveLength(0);
    expect(existsSync(join(h.home, 'state', 'ledger.json'))).toBe(false);
    expect(await journalOf(h.deps, h.manifest, 'pricey')).toBeUndefined();
    expect(h.audit()).toContain('payment_refused');
    // at the limit (and above the catalog's indicative 10.00) it goes through
    const ok = await provisionOne(h.deps, p, addReq(h.manifest, 'pricey', { confirmed: true, maxPrice: 3000 }));
    expect(ok.charge).toEqual({ amount: 3000, currency: 'USD' });
  });

  it('an agent without --confirm-paid-service gets PAID_CONFIRMATION_REQUIRED with the quote and what remains; nothing held', async () => {
    const h = externalHome();
    const p = new ExternalBiller();
    const e = await refused(provisionOne(h.deps, p, addReq(h.manifest, 'ask', { confirmed: false })));
    expect(e.code).toBe('PAID_CONFIRMATION_REQUIRED');
    expect(e.exitCode).toBe(3);
    expect(e.details).toMatchObject({ provider: 'extcloud', amount: 3000, currency: 'USD', cap_remaining: 10_000, description: 'example.test for 1 year', billed_by: 'provider' });
    expect(e.message).toContain('example.test for 1 year');
    expect(e.nextSteps[0]).toContain('--confirm-paid-service');
    expect(p.calls).toHaveLength(0);
    expect(await ledgerRow(h.ledger)).toMatchObject({ held: 0, spent: 0 });
  });

  it('free (no quote): nothing held, nothing asked', async () => {
    const h = externalHome();
    const p = new ExternalBiller();
    p.quoteAnswer = undefined;
    const out = await provisionOne(h.deps, p, addReq(h.manifest, 'free', { confirmed: false }));
    expect(out.status).toBe('active');
    expect(out.charge).toBeUndefined();
    expect(existsSync(join(h.home, 'state', 'ledger.json'))).toBe(false);
  });

  it('cap exceeded: CAP_EXCEEDED exit 4 from the ledger, the provision is never sent; the hold is the authority when the early view passed', async () => {
    const h = externalHome();
    const p = new ExternalBiller();
    await h.ledger.setCap('extcloud', 5000, { subject: async () => 'user-demo' }); // lowering: immediate
    await provisionOne(h.deps, p, addReq(h.manifest, 'one'));
    expect(await ledgerRow(h.ledger)).toMatchObject({ spent: 3000, held: 0 });

    const early = await refused(provisionOne(h.deps, p, addReq(h.manifest, 'two')));
    expect(early.code).toBe('CAP_EXCEEDED');
    expect(early.exitCode).toBe(4);
    expect(early.details).toMatchObject({ cap: 5000, spent: 3000, held: 0, needed: 3000, source: 'ledger' });
    expect(early.nextSteps[0]).toContain('agentprov budget set extcloud 60.00');
    expect(p.calls).toHaveLength(1);

    // Another process takes the room between our early check and our hold: the hold refuses, nothing is sent.
    await (await testApprover()).raiseLedger(h.ledger, 'extcloud', 10_000); // the human approved this raise
    p.onAuthorize = async () => {
      p.onAuthorize = async () => undefined;
      await h.ledger.hold({ key: 'agentprov-other-process', provider: 'extcloud', service: 'registrar:domain', resource: 'other', description: 'x', amount: 5000, currency: 'USD' });
    };
    const late = await refused(provisionOne(h.deps, p, addReq(h.manifest, 'three')));
    expect(late.code).toBe('CAP_EXCEEDED');
    expect(late.details).toMatchObject({ spent: 3000, held: 5000, needed: 3000, source: 'ledger' });
    expect(p.calls).toHaveLength(1);
    expect((await journalOf(h.deps, h.manifest, 'three'))?.state).toBe('failed');
    expect(await ledgerRow(h.ledger)).toMatchObject({ spent: 3000, held: 5000 });
  });

  it('holds before sending, then charges on success (the lower reported charge), recorded in the manifest, journal and audit', async () => {
    const h = externalHome();
    const p = new ExternalBiller();
    p.reportedCharge = 2500;
    let heldWhenSent: unknown;
    const provision = p.provision.bind(p);
    p.provision = async (input) => {
      heldWhenSent = await h.ledger.get(input.idempotencyKey);
      return provision(input);
    };
    const out = await provisionOne(h.deps, p, addReq(h.manifest, 'site'));
    expect(heldWhenSent).toMatchObject({ state: 'held', amount: 3000, provider: 'extcloud', resource: 'site', description: 'example.test for 1 year' });
    expect(out).toMatchObject({ status: 'active', charge: { amount: 2500, currency: 'USD' } });
    const key = p.calls[0]!.idempotencyKey;
    expect(await h.ledger.get(key)).toMatchObject({ state: 'charged', amount: 2500, held_amount: 3000 });
    expect(await ledgerRow(h.ledger)).toMatchObject({ spent: 2500, held: 0 });
    const j = await journalOf(h.deps, h.manifest, 'site');
    expect(j).toMatchObject({ state: 'active', idempotency_key: key, ledger_hold: { amount: 3000, currency: 'USD' }, charge: { amount: 2500, currency: 'USD' } });
    expect(JSON.parse(readFileSync(h.manifest, 'utf8')).resources[0]).toMatchObject({ name: 'site', status: 'active', charge: { amount: 2500, currency: 'USD' } });
    const audit = h.audit();
    expect(audit).toContain('"ledger_hold"');
    expect(audit).toContain('"ledger_charged"');
    expect(audit).not.toContain('payment_token');
  });

  it('a charge reported above the hold: the ledger records the approved amount and the add warns', async () => {
    const h = externalHome();
    const p = new ExternalBiller();
    p.reportedCharge = 3500;
    const out = await provisionOne(h.deps, p, addReq(h.manifest, 'dearer'));
    expect(out.charge).toEqual({ amount: 3000, currency: 'USD' });
    expect(out.warnings.join('\n')).toMatch(/reports charging 35\.00 USD .* more than the 30\.00 USD quoted and held/);
    expect(await ledgerRow(h.ledger)).toMatchObject({ spent: 3000, held: 0 });
    expect(h.audit()).toContain('ledger_charge_above_hold');
  });

  it('a definite refusal (no billing profile, exit 3) releases the hold and fails the journal entry', async () => {
    const h = externalHome();
    const p = new ExternalBiller();
    p.outcome = 'refuse';
    const e = await refused(provisionOne(h.deps, p, addReq(h.manifest, 'nobill')));
    expect(e.code).toBe('PAYMENT_METHOD_REQUIRED');
    expect(p.calls).toHaveLength(1);
    expect(await h.ledger.get(p.calls[0]!.idempotencyKey)).toMatchObject({ state: 'released', released_reason: 'PAYMENT_METHOD_REQUIRED' });
    expect(await ledgerRow(h.ledger)).toMatchObject({ spent: 0, held: 0 });
    expect((await journalOf(h.deps, h.manifest, 'nobill'))?.state).toBe('failed');
    expect(h.audit()).toContain('"ledger_released"');
  });

  it('a provision that fails releases the hold', async () => {
    const h = externalHome();
    const p = new ExternalBiller();
    p.outcome = 'failed';
    expect((await refused(provisionOne(h.deps, p, addReq(h.manifest, 'broken')))).code).toBe('PROVISION_FAILED');
    expect(await ledgerRow(h.ledger)).toMatchObject({ spent: 0, held: 0 });
  });

  it('an uncertain failure keeps the hold; the re-run adopts it (no second quote, hold or charge) and charges once', async () => {
    const h = externalHome();
    const p = new ExternalBiller();
    p.outcome = 'unreachable';
    const e = await refused(provisionOne(h.deps, p, addReq(h.manifest, 'flaky')));
    expect(e.code).toBe('PROVIDER_UNREACHABLE');
    expect(e.nextSteps[0]).toBe('agentprov add extcloud/registrar:domain --name flaky');
    const key = p.calls[0]!.idempotencyKey;
    expect(p.calls.every((c) => c.idempotencyKey === key)).toBe(true);
    expect(await h.ledger.get(key)).toMatchObject({ state: 'held', amount: 3000 });
    expect(await journalOf(h.deps, h.manifest, 'flaky')).toMatchObject({ state: 'sent', ledger_hold: { amount: 3000 } });

    // The quote would now differ (and a registrar would call the domain taken): the re-run must not ask again.
    p.outcome = 'active';
    p.quoteAnswer = { amount: 4000, currency: 'USD', description: 'changed' };
    const out = await provisionOne(h.deps, p, addReq(h.manifest, 'flaky', { confirmed: false }));
    expect(out).toMatchObject({ status: 'active', resumed: true, charge: { amount: 3000, currency: 'USD' } });
    expect(p.quotes).toBe(1);
    expect(p.calls.at(-1)!.idempotencyKey).toBe(key);
    expect(p.made.size).toBe(1);
    const doc = JSON.parse(readFileSync(join(h.home, 'state', 'ledger.json'), 'utf8'));
    expect(Object.keys(doc.entries)).toEqual([key]);
    expect(await ledgerRow(h.ledger)).toMatchObject({ spent: 3000, held: 0 });

    // and once more: already provisioned, nothing more charged
    const again = await provisionOne(h.deps, p, addReq(h.manifest, 'flaky'));
    expect(again.already_provisioned).toBe(true);
    expect(await ledgerRow(h.ledger)).toMatchObject({ spent: 3000, held: 0 });
  }, 30_000);

  it('still pending: the hold stays; the re-run that sees it active charges it', async () => {
    const h = externalHome();
    const p = new ExternalBiller();
    p.outcome = 'pending';
    const first = await provisionOne(h.deps, p, addReq(h.manifest, 'slow'));
    expect(first.status).toBe('pending');
    expect(first.charge).toBeUndefined();
    expect(await ledgerRow(h.ledger)).toMatchObject({ spent: 0, held: 3000 });
    p.outcome = 'active';
    const done = await provisionOne(h.deps, p, addReq(h.manifest, 'slow'));
    expect(done).toMatchObject({ status: 'active', charge: { amount: 3000, currency: 'USD' } });
    expect(p.calls).toHaveLength(1);
    expect(p.quotes).toBe(1);
    expect(await ledgerRow(h.ledger)).toMatchObject({ spent: 3000, held: 0 });
  });
});
