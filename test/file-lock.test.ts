/**
 * The cross-process file lock (src/util/file-lock.ts) with real processes:
 * a holder killed with SIGKILL no longer stalls the next command for the
 * whole stale period, while a live holder is never taken over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentprovError } from '../src/core/errors.js';
import { withFileLock } from '../src/util/file-lock.js';
import { bundleFixture } from './helpers/bundle.js';
import { tempDir } from './helpers/cli.js';

let holderScript: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  holderScript = await bundleFixture('test/fixtures/lock-holder.ts');
}, 60_000);
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

function holdIn(path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [holderScript, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
    child.stdout!.once('data', () => resolve(child));
  });
}

const opts = { code: 'CONFIG_LOCKED' as const, what: 'the test file' };

describe('file lock', () => {
  it('a holder killed with SIGKILL is taken over within seconds, not after the 15 s stale period', async () => {
    const path = join(tempDir(), 'data.json');
    const holder = await holdIn(path);
    expect(readFileSync(`${path}.lock-owner`, 'utf8').split('\n')[0]).toBe(String(holder.pid));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const t0 = Date.now();
    const got = await withFileLock(path, opts, async () => 'mine');
    const waited = Date.now() - t0;
    expect(got).toBe('mine');
    expect(waited).toBeLessThan(5_000);
    expect(existsSync(`${path}.lock`)).toBe(false);
    expect(existsSync(`${path}.lock-owner`)).toBe(false);
  }, 30_000);

  it('a live holder is never taken over: the waiter gives up with its code', async () => {
    const path = join(tempDir(), 'data.json');
    const holder = await holdIn(path);
    const err = await withFileLock(path, { ...opts, retries: 25 }, async () => 'mine').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentprovError);
    expect((err as AgentprovError).code).toBe('CONFIG_LOCKED');
    expect(existsSync(`${path}.lock`)).toBe(true);
    expect(holder.exitCode).toBeNull();
    holder.kill('SIGKILL');
  }, 30_000);

  it('an owner on another host (a shared file system) is not judged from here', async () => {
    const path = join(tempDir(), 'data.json');
    mkdirSync(`${path}.lock`);
    writeFileSync(`${path}.lock-owner`, `999999\nanother-host.example\n`);
    const err = await withFileLock(path, { ...opts, retries: 15 }, async () => 'mine').catch((e: unknown) => e);
    expect((err as AgentprovError).code).toBe('CONFIG_LOCKED');
    expect(existsSync(`${path}.lock`)).toBe(true);
  }, 30_000);
});
