/** The pieces of the add flow that need no counterpart: journal, config validation, close matches. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CatalogService } from '../src/catalog/validate.js';
import { checkConfig, parseConfigInput } from '../src/provision/config.js';
import { sameConfig } from '../src/provision/add.js';
import { advanceJournal, isUnfinished, journalSlot, listJournal, newIdempotencyKey, readJournal, writeJournal, type JournalEntry } from '../src/provision/journal.js';
import { closeMatches, parseQualified } from '../src/provision/providers.js';
import { tempDir } from './helpers/cli.js';

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
