/**
 * The checker's runner (src/conformance/run.ts) with small suites of its
 * own: outcomes in declared order, the first outcome wins, a check never
 * reported is skipped (never passed), a group that throws fails its first
 * open check, cleanup runs in reverse whatever happened, the summary counts
 * only failed MUSTs against conformance, and an unreachable provider is
 * PROVIDER_UNREACHABLE. Details are masked and trimmed.
 */
import { describe, expect, it } from 'vitest';
import { AgentprovError } from '../../../src/core/errors.js';
import { Redactor } from '../../../src/core/io.js';
import { ConformanceHttp } from '../../../src/conformance/http.js';
import { guard, Recorder, runConformance, summarize } from '../../../src/conformance/run.js';
import type { Suite } from '../../../src/conformance/types.js';

const SPECS = [
  { id: 'x.one', level: 'MUST', title: '' },
  { id: 'x.two', level: 'SHOULD', title: '' },
  { id: 'x.three', level: 'MUST', title: '' },
] as const;

describe('Recorder and summarize', () => {
  it('keeps declared order, the first outcome, skips the unreported, masks and trims details', () => {
    const redactor = new Redactor();
    redactor.add('super-secret-token-123');
    const r = new Recorder(SPECS, new ConformanceHttp(redactor));
    r.fail('x.two', `sent super-secret-token-123 and ${'y'.repeat(1000)}`);
    r.pass('x.two', 'a later pass does not overwrite');
    r.pass('x.one', 'ok');
    expect(() => r.pass('x.undeclared', '')).toThrow(/undeclared/);
    const results = r.results();
    expect(results.map((c) => [c.id, c.status, c.ok])).toEqual([['x.one', 'pass', true], ['x.two', 'fail', false], ['x.three', 'skip', false]]);
    expect(results[1]!.detail).not.toContain('super-secret-token-123');
    expect(results[1]!.detail).toContain('****');
    expect(results[1]!.detail.length).toBeLessThanOrEqual(300);
    expect(results[2]!.detail).toMatch(/not reached/);
    expect(summarize(results)).toEqual({ total: 3, passed: 1, failed: 1, skipped: 1, must_failed: 0, should_failed: 1, conformant: true });
  });

  it('a failed MUST makes the run not conformant; skipped ones are counted apart', () => {
    const s = summarize([
      { id: 'a', level: 'MUST', ok: false, status: 'fail', detail: '' },
      { id: 'b', level: 'MUST', ok: false, status: 'skip', detail: '' },
    ]);
    expect(s).toMatchObject({ must_failed: 1, skipped: 1, conformant: false });
  });

  it('guard fails the first open check of a group that throws, and leaves the rest open', async () => {
    const r = new Recorder(SPECS, new ConformanceHttp(new Redactor()));
    r.pass('x.one', 'ok');
    await guard(r, ['x.one', 'x.two', 'x.three'], async () => {
      throw new Error('socket hang up');
    });
    expect(r.results().map((c) => c.status)).toEqual(['pass', 'fail', 'skip']);
    expect(r.results()[1]!.detail).toContain('socket hang up');
  });
});

describe('runConformance', () => {
  const suite = (run: Suite['run']): Suite => ({ protocol: 'agentprov', checks: SPECS, detect: async () => true, run });

  it('runs the detected suite, then its cleanups in reverse even when the suite throws', async () => {
    const order: string[] = [];
    const report = await runConformance({
      url: 'http://127.0.0.1:9/',
      suites: [
        suite(async (ctx) => {
          ctx.onCleanup(async () => void order.push('first'));
          ctx.onCleanup(async () => void order.push('second'));
          ctx.report.pass('x.one', 'fine');
          expect(ctx.issuer.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
          throw new Error('boom');
        }),
      ],
      redactor: new Redactor(),
      allowPaid: false,
      issuerPort: 0,
    }).catch((err: Error) => err);
    expect(report).toBeInstanceOf(Error);
    expect(order).toEqual(['second', 'first']);
  });

  it('an unreachable provider is PROVIDER_UNREACHABLE', async () => {
    const real: Suite = {
      protocol: 'agentprov',
      checks: SPECS,
      detect: async ({ http, url }) => (await http.send('GET', url)).status === 200,
      run: async () => undefined,
    };
    const err = await runConformance({ url: 'http://127.0.0.1:9/', suites: [real], redactor: new Redactor(), allowPaid: false, issuerPort: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentprovError);
    expect((err as AgentprovError).code).toBe('PROVIDER_UNREACHABLE');
  });
});
