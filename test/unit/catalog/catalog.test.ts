/**
 * Catalog pieces in process: the remembered descriptors and the origin rule
 * on them, the validators' priming sample, the terminal table. The catalog
 * command against real loopback providers is in test/e2e/catalog.test.ts.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTable } from '../../../src/catalog/render.js';
import { forgetDescriptor, peekCatalogUrl, readRememberedDescriptor, recallDescriptor, rememberDescriptor, validRemembered } from '../../../src/catalog/descriptor-cache.js';
import { parseDescriptorValue, primeValidators } from '../../../src/catalog/validate.js';
import type { CatalogService } from '../../../src/catalog/service.js';
import { tempDir } from '../../helpers/cli.js';

describe('cache, failure and output', () => {
  it('descriptor memory: kept for its max-age, forgotten by an answer without one, and used only on its own origin', () => {
    const root = tempDir();
    const url = 'https://p.example/.well-known/agent-provisioning';
    const descriptor = { provider_id: 'p', name: 'P', terms_url: 'https://p.example/terms', terms_version: '1', catalog_url: 'https://p.example/catalog', provisioning_endpoint: 'https://p.example/v1', resource: 'https://p.example' };
    rememberDescriptor(root, url, url, descriptor, 60, 1_000_000);
    expect(recallDescriptor(root, url, 1_000_000 + 59_000, parseDescriptorValue)?.provider_id).toBe('p');
    expect(recallDescriptor(root, url, 1_000_000 + 60_000, parseDescriptorValue)).toBeUndefined(); // max-age ran out
    rememberDescriptor(root, url, url, descriptor, 0, 1_000_000); // an answer with no max-age
    expect(readRememberedDescriptor(root, url, 1_000_000)).toBeUndefined();
    // A descriptor naming another origin (where a token would go), or fetched from elsewhere, is not even written...
    rememberDescriptor(root, url, url, { ...descriptor, provisioning_endpoint: 'https://attacker.example/v1' }, 60, 1_000_000);
    expect(readRememberedDescriptor(root, url, 1_000_000)).toBeUndefined();
    rememberDescriptor(root, url, 'https://elsewhere.example/d', descriptor, 60, 1_000_000);
    expect(readRememberedDescriptor(root, url, 1_000_000)).toBeUndefined();
    // ...and a forged file saying so is not used, nor does it steer an early request.
    rememberDescriptor(root, url, url, descriptor, 60, 1_000_000);
    const [file] = readdirSync(join(root, 'descriptors'));
    const forge = (changes: Record<string, unknown>, top: Record<string, unknown> = {}) => {
      const entry = JSON.parse(readFileSync(join(root, 'descriptors', file!), 'utf8'));
      writeFileSync(join(root, 'descriptors', file!), JSON.stringify({ ...entry, ...top, descriptor: { ...descriptor, ...changes } }));
    };
    forge({ provisioning_endpoint: 'https://attacker.example/v1' });
    const offOrigin = readRememberedDescriptor(root, url, 1_000_000)!;
    expect(peekCatalogUrl(offOrigin, url)).toBe('https://p.example/catalog');
    expect(validRemembered(offOrigin, url, parseDescriptorValue)).toBeUndefined();
    forge({}, { final_url: 'https://elsewhere.example/d' });
    expect(readRememberedDescriptor(root, url, 1_000_000)).toBeUndefined();
    forge({ catalog_url: 'https://attacker.example/c' }, { final_url: url });
    expect(peekCatalogUrl(readRememberedDescriptor(root, url, 1_000_000)!, url)).toBeUndefined(); // no early request there either
    forgetDescriptor(root, url);
    expect(readRememberedDescriptor(root, url, 1_000_000)).toBeUndefined();
  });

  it('the sample the validators are primed on is valid, so priming runs the whole service schema', () => {
    const primed = primeValidators();
    expect(primed.warnings).toEqual([]);
    expect(primed.services.map((s) => `${s.provider}/${s.id}`)).toEqual(['sample/kv:namespace']);
  });

  it('the TTY table is cut to the terminal width', () => {
    const s: CatalogService = {
      provider: 'p',
      id: 'a:b',
      name: 'N'.repeat(100),
      description: 'D'.repeat(500),
      categories: [],
      pricing: { type: 'free' },
      config_schema: {},
      env: {},
      scopes: [],
      kind: 'resource',
      async: false,
    };
    for (const width of [60, 100, 200]) for (const line of renderTable([s], width).split('\n')) expect(Array.from(line).length).toBeLessThanOrEqual(width);
  });
});
