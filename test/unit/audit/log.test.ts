/**
 * The audit log in process: what it refuses to write and what it masks in
 * the arguments it records. The hash chain, its verification by the CLI and
 * concurrent writers are in test/e2e/audit.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendAudit, auditPath, verifyAudit, type AuditDeps } from '../../../src/audit/log.js';
import { MASK, Redactor } from '../../../src/core/io.js';
import { filesUnder, tempDir } from '../../helpers/cli.js';

const CANARY = `canary-${Math.random().toString(36).slice(2)}-secret-value`;

function depsFor(home: string, redactor = new Redactor()): AuditDeps {
  let t = Date.parse('2026-11-22T10:00:00Z');
  return { paths: { state: join(home, 'state') }, clock: { now: () => new Date((t += 1000)) }, io: { redactor } };
}

function readLines(log: string): string[] {
  return readFileSync(log, 'utf8').split('\n').slice(0, -1);
}

describe('the audit log', () => {
  it('refuses to write a line containing a secret the redactor knows; masks one in argv', async () => {
    const home = tempDir();
    const redactor = new Redactor();
    redactor.add(CANARY);
    const deps = depsFor(home, redactor);
    await appendAudit(deps, { command: 'add', decision: 'provisioned' }, { argv: ['add', 'x'] });

    for (const record of [
      { command: 'add', decision: 'provisioned', details: { note: `token is ${CANARY}` } },
      { command: 'add', decision: 'provisioned', resource: CANARY },
    ]) {
      const err = await appendAudit(deps, record).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'INTERNAL' });
      expect(String((err as Error).message)).not.toContain(CANARY);
      expect(JSON.stringify((err as { details: unknown }).details)).not.toContain(CANARY);
    }

    const masked = await appendAudit(deps, { command: 'run', decision: 'credential_minted' }, { argv: ['run', '--api-token', 'plain-token-value', `X=${CANARY}`, 'MY_SECRET=hunter2hunter2', '--', 'curl', '-H', 'Authorization: Bearer abcdefghijkl'] });
    expect(masked.argv).toEqual(['run', '--api-token', '****', 'X=****', 'MY_SECRET=****', '--', 'curl', '-H', 'Authorization: Bearer ****']);

    expect(readLines(auditPath(join(home, 'state')))).toHaveLength(2);
    for (const f of filesUnder(home)) expect(f.content, f.path).not.toContain(CANARY);
    expect(await verifyAudit(auditPath(join(home, 'state')))).toMatchObject({ ok: true, lines: 2 });
  });
});

describe('arguments recorded in the audit log', () => {
  it('mask secret flags, assignments, bearer values, URL passwords and secret JSON keys', async () => {
    const { sanitizeArgs } = await import('../../../src/audit/context.js');
    const out = sanitizeArgs(
      [
        '--token',
        'tok-CANARY-1',
        'API_KEY=key-CANARY-2',
        'Authorization: Bearer bearer-CANARY-3',
        'postgres://app:pw-CANARY-4@db.example:5432/app',
        '{"domain":"me.test","api_token":"json-CANARY-5","client_secret": "json-CANARY-6"}',
        'https://example.com/path?x=1',
      ],
      undefined,
    );
    expect(out.join(' ')).not.toMatch(/CANARY/);
    // What is not secret stays readable.
    expect(out[4]).toBe(`postgres://app:${MASK}@db.example:5432/app`);
    expect(out[5]).toContain('"domain":"me.test"');
    expect(out[6]).toBe('https://example.com/path?x=1');
  });
});
