/**
 * Issue 20's guidance for agents, through the bundled CLI: the skill init
 * writes (front matter, only commands that exist), AGENTS.md only when asked
 * and only inside agentprov's block, llm-context, and the compact catalog of
 * the 161 Stripe services within 4,000 tokens of a real BPE tokenizer.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countTokens } from 'gpt-tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../fixtures/catalog/convert.mjs';
import { startFarm, type Farm } from '../../fixtures/catalog/server.mjs';
import { compactPrice, needsPaidConfirmation } from '../../src/catalog/render.js';
import type { CatalogService } from '../../src/catalog/service.js';
import { upfrontPrice } from '../../src/payment/paid.js';
import { BLOCK_END, BLOCK_START } from '../../src/project/guidance.js';
import { ROOT, isolatedEnv, runCli, tempDir } from '../helpers/cli.js';

const STRIPE = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'stripe-projects-catalog.json'), 'utf8'));

function envWith(urls: string[] = []): NodeJS.ProcessEnv {
  const home = tempDir('agentprov-guidance-');
  mkdirSync(join(home, 'config'), { recursive: true });
  writeFileSync(join(home, 'config', 'config.json'), JSON.stringify({ providers: urls.map((url) => ({ url, source: 'user' })) }));
  return isolatedEnv(home, { AGENTPROV_BUILTIN_PROVIDERS: 'none', CI: 'true' });
}

/** `name: value` lines between the leading `---` fences. */
function frontMatter(text: string): Record<string, string> {
  const m = /^---\n([\s\S]*?)\n---\n/.exec(text);
  if (!m) throw new Error('no front matter');
  return Object.fromEntries(m[1]!.split('\n').map((l) => [l.slice(0, l.indexOf(':')).trim(), l.slice(l.indexOf(':') + 1).trim()]));
}

/** Every command a text names as `agentprov <command>` in code spans. */
function commandsNamed(text: string): string[] {
  return [...new Set([...text.matchAll(/`agentprov ([a-z][a-z-]*)/g)].map((m) => m[1]!))];
}

describe('agent guidance (init --skills-only, AGENTS.md, llm-context)', () => {
  it('init --skills-only writes a SKILL.md whose front matter parses and whose every command exists', async () => {
    const cwd = tempDir('agentprov-project-');
    const env = envWith();
    const r = await runCli(['init', '--skills-only', '--json'], { env, cwd });
    expect(r.code, r.stderr).toBe(0);
    const path = join(cwd, '.agents', 'skills', 'agentprov', 'SKILL.md');
    expect(r.json().data.guidance).toEqual([{ path, status: 'written' }]);
    const skill = readFileSync(path, 'utf8');
    const fm = frontMatter(skill);
    expect(fm.name).toBe('agentprov');
    expect(fm.description!.length).toBeGreaterThan(40);
    expect(skill).toMatch(/catalog[\s\S]*add[\s\S]*run/);
    expect(skill).toContain('exit code 3');
    expect(skill).toMatch(/Never read[^\n]*vault/);
    const named = commandsNamed(skill);
    expect(named.length).toBeGreaterThanOrEqual(10);
    for (const c of named) {
      const help = await runCli([c, '--help'], { env, cwd });
      expect(help.code, `agentprov ${c} --help: ${help.stderr}`).toBe(0);
    }
    // Not asked on a terminal and no flag: neither Claude's skill nor AGENTS.md.
    expect(existsSync(join(cwd, '.claude'))).toBe(false);
    expect(existsSync(join(cwd, 'AGENTS.md'))).toBe(false);
    const again = await runCli(['init', '--skills-only', '--json'], { env, cwd });
    expect(again.json().data.guidance[0].status).toBe('unchanged');
  });

  it('AGENTS.md: only with --agents-md, only inside its block, never the text around it; a foreign SKILL.md is kept', async () => {
    const cwd = tempDir('agentprov-project-');
    const env = envWith();
    const mine = '# My project\n\nUse pnpm. Do not touch the vault of the bank.\n';
    writeFileSync(join(cwd, 'AGENTS.md'), mine);
    mkdirSync(join(cwd, '.claude', 'skills', 'agentprov'), { recursive: true });
    writeFileSync(join(cwd, '.claude', 'skills', 'agentprov', 'SKILL.md'), '---\nname: agentprov\ndescription: mine\n---\nhand-written\n');
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['init', '--skills-only', '--agents-md', '--claude-skill', '--json'], { env, cwd });
      expect(r.code, r.stderr).toBe(0);
    }
    const text = readFileSync(join(cwd, 'AGENTS.md'), 'utf8');
    expect(text.startsWith(mine)).toBe(true);
    expect(text.split(BLOCK_START)).toHaveLength(2);
    expect(text.trimEnd().endsWith(BLOCK_END)).toBe(true);
    for (const c of commandsNamed(text)) expect((await runCli([c, '--help'], { env, cwd })).code, c).toBe(0);
    // The user edits inside and around the block: the next refresh restores the block, keeps the rest.
    writeFileSync(join(cwd, 'AGENTS.md'), text.replace('## agentprov', '## agentprov (edited)') + '\nMore notes.\n');
    await runCli(['init', '--skills-only', '--agents-md', '--json'], { env, cwd });
    const after = readFileSync(join(cwd, 'AGENTS.md'), 'utf8');
    expect(after).toBe(text + '\nMore notes.\n');
    expect(readFileSync(join(cwd, '.claude', 'skills', 'agentprov', 'SKILL.md'), 'utf8')).toContain('hand-written');
  });
});

describe('the compact catalog of the 161 Stripe services', () => {
  let farm: Farm;
  let env: NodeJS.ProcessEnv;
  let services: CatalogService[];
  beforeAll(async () => {
    const catalogs = convert(STRIPE);
    farm = await startFarm({ catalogs });
    env = envWith(farm.providers.map((p) => p.url));
    services = catalogs.flatMap((c) => (c.services as Omit<CatalogService, 'provider'>[]).map((s) => ({ ...s, provider: c.provider_id })));
  });
  afterAll(async () => farm?.close());

  it('fits in 4,000 tokens (gpt-tokenizer, o200k_base) with every id, its price and whether add needs the paid yes', async () => {
    expect(services).toHaveLength(161);
    const r = await runCli(['catalog', '--compact'], { env });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(161);
    const tokens = countTokens(r.stdout);
    expect(tokens).toBeLessThan(4000);
    expect(tokens).toBeGreaterThan(1000); // the listing is really there
    for (const s of services) {
      const line = lines.find((l) => l.startsWith(`${s.provider}/${s.id} | `));
      expect(line, `${s.provider}/${s.id}`).toBeDefined();
      const [, price] = line!.split(' | ');
      expect(price).toBe(`${compactPrice(s.pricing)}${needsPaidConfirmation(s.pricing) ? ', confirm' : ''}`);
      // The same rule as the add flow's.
      expect(needsPaidConfirmation(s.pricing)).toBe(upfrontPrice(s) !== undefined);
    }
    expect(lines.filter((l) => l.includes(', confirm |')).length).toBeGreaterThan(10);
  });

  it('llm-context prints the guidance and the same compact catalog; a provider argument narrows it', async () => {
    const all = await runCli(['llm-context', '--json'], { env });
    expect(all.code, all.stderr).toBe(0);
    const d = all.json().data;
    expect(d.count).toBe(161);
    expect(d.text).toContain('Exit 3 means a human must act');
    const compact = await runCli(['catalog', '--compact', '--json'], { env });
    expect(d.catalog).toBe(compact.json().data.compact);
    for (const c of commandsNamed(d.guidance)) expect((await runCli([c, '--help'], { env })).code, c).toBe(0);
    const one = await runCli(['llm-context', 'exa'], { env });
    expect(one.code).toBe(0);
    const lines = one.stdout.split('\n').filter((l) => l.includes(' | ') && !l.startsWith('#'));
    expect(lines.length).toBe(services.filter((s) => s.provider === 'exa').length);
    for (const l of lines) expect(l.startsWith('exa/'), l).toBe(true);
  });
});
