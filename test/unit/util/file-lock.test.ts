/**
 * The cross-process file lock (src/util/file-lock.ts) with real processes:
 * a holder killed with SIGKILL no longer stalls the next command for the
 * whole stale period, while a live holder is never taken over, whatever the
 * waiter's clock says.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AgentprovError } from '../../../src/core/errors.js';
import { withFileLock } from '../../../src/util/file-lock.js';
import { bundleFixture } from '../../helpers/bundle.js';
import { tempDir } from '../../helpers/cli.js';

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
const HOUR = 3600_000;

/** The holder's record, inside the lock directory. */
const recordOf = (path: string): { pid: number; host: string; nonce: string } => JSON.parse(readFileSync(join(`${path}.lock`, 'owner.json'), 'utf8'));

/** A lock as another agentprov process leaves it: the directory with its holder's record inside. */
function fakeLock(path: string, record: { pid: number; host: string } | undefined, ageMs = 0): void {
  mkdirSync(`${path}.lock`);
  if (record) writeFileSync(join(`${path}.lock`, 'owner.json'), JSON.stringify({ v: 1, ...record, nonce: 'ab'.repeat(16) }));
  const t = new Date(Date.now() - ageMs);
  utimesSync(`${path}.lock`, t, t);
}

/** The waiter's wall clock an hour ahead (Date.now only: timers and the monotonic clock run as they do). */
function clockJumpsAnHour(): void {
  const real = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => real() + HOUR);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('file lock', () => {
  it('a holder killed with SIGKILL is taken over within seconds, not after the 15 s stale period', async () => {
    const path = join(tempDir(), 'data.json');
    const holder = await holdIn(path);
    expect(recordOf(path)).toMatchObject({ pid: holder.pid, host: hostname() });
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const t0 = Date.now();
    const got = await withFileLock(path, opts, async () => 'mine');
    const waited = Date.now() - t0;
    expect(got).toBe('mine');
    expect(waited).toBeLessThan(5_000);
    expect(existsSync(`${path}.lock`)).toBe(false);
  }, 30_000);

  it('a holder that exits while holding the lock (Ctrl-C: process.exit) removes it', async () => {
    const path = join(tempDir(), 'data.json');
    const holder = await holdIn(path);
    expect(existsSync(`${path}.lock`)).toBe(true);
    holder.kill('SIGINT');
    const code = await new Promise((r) => holder.once('exit', r));
    expect(code).toBe(130);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

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

  it('a live holder is never taken over when the waiter\'s clock jumps an hour ahead: the waiter gives up, the lock stays the holder\'s', async () => {
    const path = join(tempDir(), 'data.json');
    const holder = await holdIn(path);
    const before = { record: recordOf(path), ino: statSync(`${path}.lock`).ino };
    clockJumpsAnHour();
    expect(Math.abs(Date.now() - HOUR - (performance.timeOrigin + performance.now()))).toBeLessThan(1000);
    const err = await withFileLock(path, { ...opts, staleMs: 2000, retries: 25 }, async () => 'mine').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentprovError);
    expect((err as AgentprovError).code).toBe('CONFIG_LOCKED');
    expect((err as AgentprovError).message).toContain(`pid ${holder.pid}`);
    // Not compromised: the same directory, with the same holder's record in it, and the holder still running.
    expect(statSync(`${path}.lock`).ino).toBe(before.ino);
    expect(recordOf(path)).toEqual(before.record);
    expect(holder.exitCode).toBeNull();
    // Once the holder is gone, the same waiter (clock still an hour ahead) gets the lock.
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(await withFileLock(path, { ...opts, retries: 40 }, async () => 'mine')).toBe('mine');
  }, 30_000);

  it('a holder whose lock was taken from it while it held it fails loudly with the lock\'s code, never returns as if nothing happened', async () => {
    const path = join(tempDir(), 'data.json');
    const err = await withFileLock(path, opts, async () => {
      // What a waiter that judged this holder dead would do: take its record out and remove the lock.
      renameSync(join(`${path}.lock`, 'owner.json'), `${path}.claimed`);
      rmdirSync(`${path}.lock`);
      return 'written';
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentprovError);
    expect((err as AgentprovError).code).toBe('CONFIG_LOCKED');
    expect((err as AgentprovError).message).toMatch(/was taken from this process/);
  });

  it('a holder on another host (a shared file system) whose lock keeps moving is never taken over, however old the clock says it is', async () => {
    const path = join(tempDir(), 'data.json');
    fakeLock(path, { pid: 999999, host: 'another-host.example' }, 2 * HOUR);
    // The remote holder refreshes its lock; by this waiter's wall clock (an hour ahead) it is always more than an hour old.
    const refresher = setInterval(() => {
      const t = new Date(Date.now() - 2 * HOUR);
      utimesSync(`${path}.lock`, t, t);
    }, 300);
    clockJumpsAnHour();
    try {
      const err = await withFileLock(path, { ...opts, staleMs: 2000, retries: 25 }, async () => 'mine').catch((e: unknown) => e);
      expect((err as AgentprovError).code).toBe('CONFIG_LOCKED');
      expect(recordOf(path).host).toBe('another-host.example');
    } finally {
      clearInterval(refresher);
    }
  }, 30_000);

  it('a holder on another host is taken over only once its lock is minutes old and stands still', async () => {
    const young = join(tempDir(), 'data.json');
    fakeLock(young, { pid: 999999, host: 'another-host.example' }, 10_000);
    const err = await withFileLock(young, { ...opts, staleMs: 2000, retries: 30 }, async () => 'mine').catch((e: unknown) => e);
    expect((err as AgentprovError).code).toBe('CONFIG_LOCKED');
    expect(recordOf(young).host).toBe('another-host.example');

    const old = join(tempDir(), 'data.json');
    fakeLock(old, { pid: 999999, host: 'another-host.example' }, 10 * 60_000);
    const t0 = performance.now();
    expect(await withFileLock(old, { ...opts, staleMs: 2000, retries: 60 }, async () => 'mine')).toBe('mine');
    // Not before it was seen standing still for staleMs (the waiter's monotonic clock).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2000);
    expect(existsSync(`${old}.lock`)).toBe(false);
  }, 30_000);

  it('a lock without a record is taken over only after it stood still for the stale period, never while it moves', async () => {
    const moving = join(tempDir(), 'data.json');
    fakeLock(moving, undefined);
    const refresher = setInterval(() => {
      const t = new Date();
      utimesSync(`${moving}.lock`, t, t);
    }, 300);
    clockJumpsAnHour();
    try {
      const err = await withFileLock(moving, { ...opts, staleMs: 2000, retries: 25 }, async () => 'mine').catch((e: unknown) => e);
      expect((err as AgentprovError).code).toBe('CONFIG_LOCKED');
      expect(existsSync(`${moving}.lock`)).toBe(true);
    } finally {
      clearInterval(refresher);
    }

    const still = join(tempDir(), 'data.json');
    fakeLock(still, undefined);
    const t0 = performance.now();
    expect(await withFileLock(still, { ...opts, staleMs: 2000, retries: 60 }, async () => 'mine')).toBe('mine');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2000);
  }, 30_000);
});

describe('file lock on a file system that refuses the write', () => {
  it('a file where the directory should be: STATE_NOT_WRITABLE naming the path and the errno, never a held lock', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'state'), 'not a directory');
    const path = join(dir, 'state', 'vault.json.enc');
    const err = await withFileLock(path, opts, async () => 'mine').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentprovError);
    const e = err as AgentprovError;
    expect(e.code).toBe('STATE_NOT_WRITABLE');
    expect(e.exitCode).toBe(1);
    expect(e.message).toContain(`${path}.lock`);
    expect(e.message).not.toMatch(/another agentprov process/);
    expect(['ENOTDIR', 'EEXIST']).toContain(e.details.errno);
    expect(e.nextSteps.join(' ')).toContain('writable');
  });

  const mounted: string[] = [];
  afterAll(() => {
    for (const m of mounted) execFileSync('umount', [m]);
  });
  /** A read-only tmpfs holding `inside` (mount needs root; undefined where it cannot be done). */
  function readOnlyDir(): string | undefined {
    const dir = tempDir();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    } catch {
      return undefined;
    }
    mounted.push(dir);
    return dir;
  }

  it('a read-only file system: STATE_NOT_WRITABLE with EROFS, at once', async (ctx) => {
    const dir = readOnlyDir();
    if (!dir) ctx.skip();
    const path = join(dir!, 'vault.json.enc');
    const t0 = Date.now();
    const err = await withFileLock(path, opts, async () => 'mine').catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(2000);
    const e = err as AgentprovError;
    expect(e.code).toBe('STATE_NOT_WRITABLE');
    expect(e.details).toMatchObject({ path: `${path}.lock`, errno: 'EROFS' });
    expect(e.message).toContain('EROFS');
  });
});
