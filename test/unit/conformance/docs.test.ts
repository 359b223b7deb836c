/**
 * docs/protocol.md §12 names every check id of both suites, with its level,
 * and no id that does not exist: the table provider teams read is the list
 * the checker runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentprovSuite } from '../../../src/conformance/agentprov/index.js';
import { appSuite } from '../../../src/conformance/app/index.js';

describe('docs/protocol.md §12 lists the checks', () => {
  it('every id with its level, and nothing else', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'protocol.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## 12. Conformance checks'), doc.indexOf('## APP. Speaking'));
    const listed = [...section.matchAll(/^\| `((?:agentprov|app)\.[a-z_.]+)` \| (MUST|SHOULD) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    const declared = [...agentprovSuite.checks, ...appSuite.checks].map((c) => `${c.id} ${c.level}`);
    expect(listed).toEqual(declared);
    expect(new Set(declared.map((d) => d.split(' ')[0])).size).toBe(declared.length);
  });
});
