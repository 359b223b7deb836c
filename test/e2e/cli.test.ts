import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isolatedEnv, ROOT, runCli, tempDir } from '../helpers/cli.js';

const env = isolatedEnv(tempDir(), { AGENTPROV_CREDENTIAL_STORE: 'file', AGENTPROV_VAULT_PASSPHRASE: 'pw' });

describe('the CLI contract', () => {
  it('--version prints the package version', async () => {
    const r = await runCli(['--version'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('--help lists the registered commands and the global flags', async () => {
    const r = await runCli(['--help'], { env });
    expect(r.code).toBe(0);
    for (const s of ['--json', '--no-input', '--verbose', 'vault', 'sandbox']) expect(r.stdout).toContain(s);
  });

  it('an unknown command exits 2: usage on stderr, or exactly one envelope with --json', async () => {
    const plain = await runCli(['frobnicate'], { env });
    expect(plain.code).toBe(2);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toMatch(/unknown command/);

    const json = await runCli(['frobnicate', '--json'], { env });
    expect(json.code).toBe(2);
    const doc = json.json();
    expect(doc).toMatchObject({ ok: false, error: { code: 'USAGE' } });
    expect(doc.next_steps).toContain('agentprov --help');
    expect(json.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('declares only the command asked for, and all of them otherwise: help and suggestions are unchanged', async () => {
    const { specsFor } = await import('../../src/cli/main.js');
    const { COMMANDS } = await import('../../src/cli/program.js');
    const paths = (argv: string[]): string[] => specsFor(argv).map((s) => s.path.join(' '));
    expect(paths(['whoami', '--json'])).toEqual(['whoami']);
    expect(paths(['--json', 'vault', 'status'])).toEqual(['vault status']);
    expect(paths(['run', '--provider', 'x', '--', 'catalog'])).toEqual(['run']);
    for (const argv of [[], ['--help'], ['help', 'whoami'], ['whoamii'], ['--', 'whoami']]) expect(specsFor(argv)).toHaveLength(COMMANDS.length);

    const misspelt = await runCli(['whoamii'], { env });
    expect(misspelt.code).toBe(2);
    expect(misspelt.stderr).toMatch(/Did you mean whoami\?/);
    const sub = await runCli(['vault', 'statsu'], { env });
    expect(sub.stderr).toMatch(/Did you mean status\?/);
    // A refused `--flag=value` may carry a secret: the error names the flag, masks the value, and says it once.
    for (const args of [['whoami', '--api-token=CANARY-flag-value'], ['whoami', '--api-token=CANARY-flag-value', '--json']]) {
      const refused = await runCli(args, { env });
      expect(refused.code).toBe(2);
      expect(refused.stdout + refused.stderr).toContain("'--api-token=");
      expect(refused.stdout + refused.stderr).not.toContain('CANARY');
      expect((refused.stdout + refused.stderr).match(/unknown option/g)).toHaveLength(1);
    }
    const help = await runCli(['help', 'whoami'], { env });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: agentprov whoami/);
  });

  it('a --json after `--` belongs to the wrapped command: agentprov still speaks to a human on stderr', async () => {
    const r = await runCli(['run', '--resource', 'nope', '--', 'echo', '--json'], { env });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error \[/m);
    const json = await runCli(['--json', 'run', '--resource', 'nope', '--', 'echo'], { env });
    expect(JSON.parse(json.stdout).ok).toBe(false);
  });

  it('an unknown flag exits 2 with the envelope', async () => {
    const r = await runCli(['vault', 'status', '--json', '--frob'], { env });
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('USAGE');
    expect(r.json().error.message).toMatch(/--frob/);
  });

  it('a success is exactly one envelope with ok, command, data, warnings, next_steps, version, meta', async () => {
    const r = await runCli(['vault', 'status', '--json'], { env });
    expect(r.code).toBe(0);
    expect(Object.keys(r.json()).sort()).toEqual(['command', 'data', 'meta', 'next_steps', 'ok', 'version', 'warnings']);
    expect(r.json().command).toBe('vault status');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(r.json().version).toBe(pkg.version);
    expect(r.json().meta).toEqual({ signed_in: false, project: null });
    // The warm catalog path (its envelope written from cached JSON) says the same, and finds the project upward.
    const project = tempDir('agentprov-project-');
    writeFileSync(join(project, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
    mkdirSync(join(project, 'sub'));
    const c = await runCli(['catalog', '--json'], { env: { ...env, AGENTPROV_BUILTIN_PROVIDERS: 'none' }, cwd: join(project, 'sub') });
    expect(c.json()).toMatchObject({ ok: true, version: pkg.version, meta: { signed_in: false, project: join(project, 'agentprov.json') } });
    const e = await runCli(['nosuchcommand', '--json'], { env });
    expect(e.json()).toMatchObject({ ok: false, version: pkg.version, meta: { signed_in: false } });
  });
});
