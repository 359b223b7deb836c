/**
 * The audit log through the bundled CLI: the hash chain `audit --verify`
 * checks, every kind of tampering it names, the views of `audit`, and 20
 * processes appending at once. In-process cases: test/unit/audit/log.test.ts.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, auditPath, verifyAudit, type AuditDeps } from '../../src/audit/log.js';
import { Redactor, type IO } from '../../src/core/io.js';
import { main } from '../../src/cli/main.js';
import { bundleFixture } from '../helpers/bundle.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';

const exec = promisify(execFile);

function depsFor(home: string, redactor = new Redactor()): AuditDeps {
  let t = Date.parse('2026-11-22T10:00:00Z');
  return { paths: { state: join(home, 'state') }, clock: { now: () => new Date((t += 1000)) }, io: { redactor } };
}

/** A log of `n` lines in a fresh AGENTPROV_HOME. */
async function seeded(n: number): Promise<{ home: string; log: string; lines: string[] }> {
  const home = tempDir();
  const deps = depsFor(home);
  for (let i = 1; i <= n; i++) {
    await appendAudit(deps, { command: 'add', provider: 'localcloud', resource: `kv-${i}`, decision: 'provisioned', details: { i, paid: false } }, { argv: ['add', `localcloud/kv:namespace`, '--name', `kv-${i}`] });
  }
  const log = auditPath(join(home, 'state'));
  return { home, log, lines: readLines(log) };
}

function readLines(log: string): string[] {
  return readFileSync(log, 'utf8').split('\n').slice(0, -1);
}

function writeLines(log: string, lines: string[]): void {
  writeFileSync(log, lines.map((l) => l + '\n').join(''));
}

async function verifyCli(home: string): Promise<{ code: number | null; doc: any }> {
  const r = await runCli(['audit', '--verify', '--json'], { env: isolatedEnv(home) });
  expect(r.stdout.trim().split('\n')).toHaveLength(1);
  return { code: r.code, doc: r.json() };
}

async function expectTampered(home: string, line: number, reason: string): Promise<void> {
  const { code, doc } = await verifyCli(home);
  expect(code).toBe(1);
  expect(doc.ok).toBe(false);
  expect(doc.error.code).toBe('AUDIT_TAMPERED');
  expect(doc.error.details).toMatchObject({ line, reason });
  expect(doc.error.message).toContain(`line ${line}`);
}

function bufferIO(tty: boolean): IO & { stdoutText(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  const redactor = new Redactor();
  return {
    stdout,
    stderr,
    stdin: new PassThrough(),
    stdoutIsTTY: tty,
    stderrIsTTY: tty,
    stdinIsTTY: false,
    columns: 160,
    color: false,
    redactor,
    out: (t) => void (out += redactor.redact(t)),
    err: () => {},
    stdoutText: () => out,
  };
}

describe('the audit log', () => {
  it('a fresh chain verifies: seq, prev and hash link every line, and the CLI says intact', async () => {
    const { home, log, lines } = await seeded(5);
    const entries = lines.map((l) => JSON.parse(l));
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(entries[0].prev).toBe('0'.repeat(64));
    for (let i = 1; i < entries.length; i++) expect(entries[i].prev).toBe(entries[i - 1].hash);
    expect(entries[0]).toMatchObject({ v: 1, command: 'add', provider: 'localcloud', resource: 'kv-1', decision: 'provisioned', details: { i: 1, paid: false }, pid: process.pid, ppid: process.ppid });
    expect(entries[0].time).toBe('2026-11-22T10:00:01.000Z');
    expect(entries[0].argv).toEqual(['add', 'localcloud/kv:namespace', '--name', 'kv-1']);
    if (process.platform === 'linux') expect(entries[0].parent_cmdline).toEqual(expect.any(String));

    expect(await verifyAudit(log)).toMatchObject({ ok: true, lines: 5, head: entries[4].hash });
    const { code, doc } = await verifyCli(home);
    expect(code).toBe(0);
    expect(doc).toMatchObject({ ok: true, command: 'audit', data: { intact: true, lines: 5, head: entries[4].hash } });
  });

  it('shows the log: JSONL when piped, the envelope with --json, a table on a terminal, --limit', async () => {
    const { home, lines } = await seeded(4);
    const env = isolatedEnv(home);
    const piped = await runCli(['audit'], { env });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe(lines.join('\n') + '\n');

    const limited = await runCli(['audit', '--limit', '2', '--json'], { env });
    expect(limited.json()).toMatchObject({ ok: true, data: { intact: true, total: 4, shown: 2 } });
    expect(limited.json().data.entries.map((e: any) => e.seq)).toEqual([3, 4]);

    const bad = await runCli(['audit', '--limit', '0', '--json'], { env });
    expect(bad.code).toBe(2);
    expect(bad.json().error.code).toBe('USAGE');

    const io = bufferIO(true);
    expect(await main(['audit'], { io, env })).toBe(0);
    const table = io.stdoutText().split('\n');
    expect(table[0]).toMatch(/^SEQ\s+TIME\s+COMMAND\s+DECISION\s+TARGET\s+PID\s+PARENT/);
    expect(table[4]).toMatch(/^4\s+2026-11-22T10:00:04Z\s+add\s+provisioned\s+localcloud\/kv-4/);

    const empty = await runCli(['audit', '--json'], { env: isolatedEnv(tempDir()) });
    expect(empty.json()).toMatchObject({ ok: true, data: { intact: true, total: 0, entries: [] } });
    const emptyVerify = await verifyCli(tempDir());
    expect(emptyVerify).toMatchObject({ code: 0, doc: { data: { intact: true, lines: 0 } } });
  });

  it('editing a field → AUDIT_TAMPERED naming that line', async () => {
    const { home, log, lines } = await seeded(5);
    lines[2] = lines[2]!.replace('"decision":"provisioned"', '"decision":"refused"');
    writeLines(log, lines);
    await expectTampered(home, 3, 'hash_mismatch');
  });

  it('editing a field and recomputing its hash → AUDIT_TAMPERED naming the next line', async () => {
    const { home, log, lines } = await seeded(5);
    const { canonicalJson, lineHash } = await import('../../src/audit/canonical.js');
    const forged = { ...JSON.parse(lines[2]!), resource: 'kv-forged' };
    forged.hash = lineHash(forged);
    lines[2] = canonicalJson(forged);
    writeLines(log, lines);
    await expectTampered(home, 4, 'chain_broken');
  });

  it('deleting a line → AUDIT_TAMPERED naming the line after the gap', async () => {
    const { home, log, lines } = await seeded(5);
    writeLines(log, [...lines.slice(0, 2), ...lines.slice(3)]);
    await expectTampered(home, 3, 'chain_broken');

    const first = await seeded(3);
    writeLines(first.log, first.lines.slice(1));
    await expectTampered(first.home, 1, 'chain_broken');
  });

  it('swapping two lines → AUDIT_TAMPERED naming the first moved line', async () => {
    const { home, log, lines } = await seeded(5);
    [lines[1], lines[3]] = [lines[3]!, lines[1]!];
    writeLines(log, lines);
    await expectTampered(home, 2, 'chain_broken');
  });

  it('truncating: a cut last line, or whole lines cut off the end → AUDIT_TAMPERED naming the line', async () => {
    const cut = await seeded(5);
    const text = readFileSync(cut.log, 'utf8');
    writeFileSync(cut.log, text.slice(0, text.length - 20));
    await expectTampered(cut.home, 5, 'truncated');

    const whole = await seeded(5);
    writeLines(whole.log, whole.lines.slice(0, 3));
    await expectTampered(whole.home, 4, 'truncated');

    const emptied = await seeded(2);
    writeFileSync(emptied.log, '');
    await expectTampered(emptied.home, 1, 'truncated');
  });

  it('refuses to append to a log whose tail does not verify, so the evidence stays', async () => {
    const { home, log, lines } = await seeded(4);
    writeLines(log, lines.slice(0, 2));
    await expect(appendAudit(depsFor(home), { command: 'add', decision: 'provisioned' })).rejects.toMatchObject({ code: 'AUDIT_TAMPERED' });
    expect(readLines(log)).toEqual(lines.slice(0, 2));
    await expectTampered(home, 3, 'truncated');
  });

  it('20 concurrent processes appending: every line present, chain intact', async () => {
    const writer = await bundleFixture('test/fixtures/audit-writer.ts');
    const home = tempDir();
    const env = isolatedEnv(home);
    const perWriter = 5;
    await Promise.all(Array.from({ length: 20 }, (_, w) => exec(process.execPath, [writer, String(w), String(perWriter)], { env })));
    const entries = readLines(auditPath(join(home, 'state'))).map((l) => JSON.parse(l));
    expect(entries).toHaveLength(20 * perWriter);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 * perWriter }, (_, i) => i + 1));
    const seen = new Set(entries.map((e) => `${e.details.writer}/${e.details.i}`));
    expect(seen.size).toBe(20 * perWriter);
    expect(new Set(entries.map((e) => e.pid)).size).toBe(20);
    const { code, doc } = await verifyCli(home);
    expect(code).toBe(0);
    expect(doc.data).toMatchObject({ intact: true, lines: 20 * perWriter });
  });
});
