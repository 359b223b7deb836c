/**
 * The layering of src/ (.dependency-cruiser.cjs, docs/architecture.md) holds,
 * and the check would catch a break: dependency-cruiser, run the way
 * `npm run check:layers` runs it, finds nothing in src/, and names the rules
 * an upward import breaks in a tiny tree made to break them.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/cli.js';

const run = promisify(execFile);
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
}
interface Cruise {
  summary: { violations: Violation[]; error: number; totalCruised: number };
}

/** dependency-cruiser on `src` under `cwd` (it reports paths relative to its working directory) with the repository's rules. */
async function cruise(cwd: string): Promise<Cruise> {
  const args = [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json'];
  // It exits with the number of errors it found: a violation is an answer, not a failure to run.
  const out = await run(process.execPath, args, { cwd, maxBuffer: 64 << 20 }).catch((e: { stdout?: string; stderr?: string; code?: number }) => {
    if (!e.stdout) throw new Error(`dependency-cruiser did not run (exit ${e.code}): ${e.stderr}`);
    return { stdout: e.stdout };
  });
  return JSON.parse(out.stdout) as Cruise;
}

describe('layers', () => {
  it('src/ breaks no rule of .dependency-cruiser.cjs', async () => {
    const { summary } = await cruise(ROOT);
    expect(summary.totalCruised).toBeGreaterThan(100);
    expect(summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
    expect(summary.error).toBe(0);
  });

  it('an import from src/util up into src/cli is reported as no-cli-below and layer-util', async () => {
    const root = tempDir('agentprov-layers-');
    mkdirSync(join(root, 'src', 'util'), { recursive: true });
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    writeFileSync(join(root, 'src', 'util', 'a.ts'), "import { b } from '../cli/b.js';\n\nexport const a = b + 1;\n");
    writeFileSync(join(root, 'src', 'cli', 'b.ts'), 'export const b = 1;\n');
    copyFileSync(join(ROOT, 'tsconfig.json'), join(root, 'tsconfig.json'));
    const { summary } = await cruise(root);
    expect(summary.totalCruised).toBe(2);
    const upward = summary.violations.filter((v) => v.from === 'src/util/a.ts' && v.to === 'src/cli/b.ts');
    expect(upward.map((v) => v.rule.name).sort()).toEqual(['layer-util', 'no-cli-below']);
    expect(upward.every((v) => v.rule.severity === 'error')).toBe(true);
    expect(summary.violations).toHaveLength(2);
    expect(summary.error).toBe(2);
  });
});
