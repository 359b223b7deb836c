/**
 * The catalog against real loopback providers: good ones from the fixture
 * farm, and one bad provider per case of issue 5's "Bad input" list. Every
 * case runs the built CLI as an agent would and checks that the command
 * neither crashes nor hangs past the deadline, names the provider in a
 * warning, and never prints an escape sequence.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFarm, stripeCatalogs, syntheticCatalog, type Farm } from '../../fixtures/catalog/server.mjs';
import { readRegistryIndex, registryFingerprint } from '../../src/catalog/registry-index.js';
import { resolvePaths } from '../../src/core/paths.js';
import type { CatalogService } from '../../src/catalog/service.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';

const DEADLINE_MS = 1500;

interface BadProvider {
  url: string;
  base: string;
  hits: { catalog: number; notModified: number };
  close(): Promise<void>;
}

type CatalogHandler = (req: IncomingMessage, res: ServerResponse, ctx: { base: string; hits: BadProvider['hits'] }) => void;

const servers: Server[] = [];

/** A provider with a valid descriptor whose catalog endpoint does whatever `handler` does. */
async function provider(id: string, handler: CatalogHandler): Promise<BadProvider> {
  const hits = { catalog: 0, notModified: 0 };
  let base = '';
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/.well-known/agent-provisioning') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          provider_id: id,
          name: `Provider ${id}`,
          terms_url: `${base}/terms`,
          terms_version: '1',
          catalog_url: `${base}/catalog`,
          provisioning_endpoint: `${base}/v1/provisions`,
          resource: base,
        }),
      );
      return;
    }
    hits.catalog++;
    handler(req, res, { base, hits });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  servers.push(server);
  return {
    url: `${base}/.well-known/agent-provisioning`,
    base,
    hits,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

const json = (res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

function service(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: `Service ${id}`,
    description: 'A test service.',
    categories: ['testing'],
    pricing: { type: 'free' },
    config_schema: { type: 'object', properties: {} },
    scopes: ['provision'],
    env: { TEST_TOKEN: 'access_token' },
    kind: 'resource',
    async: false,
    ...extra,
  };
}

/**
 * A fresh AGENTPROV_HOME whose config lists these descriptor URLs. These
 * tests are about fetched catalogs, so the built-in providers (Cloudflare)
 * are hidden; they are listed beside fetched ones in the sandbox test below.
 */
function home(urls: string[], extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const dir = tempDir('agentprov-catalog-');
  mkdirSync(join(dir, 'config'), { recursive: true });
  writeFileSync(join(dir, 'config', 'config.json'), JSON.stringify({ providers: urls.map((url) => ({ url, source: 'user' })) }));
  return isolatedEnv(dir, { AGENTPROV_CATALOG_DEADLINE_MS: String(DEADLINE_MS), AGENTPROV_BUILTIN_PROVIDERS: 'none', ...extra });
}

const ESC_OR_BIDI = /[\u001b\u009b\u0007\u202a-\u202e\u2066-\u2069\u200e\u200f]/;

let good: Farm;
let goodUrl: string;

beforeAll(async () => {
  good = await startFarm({ catalogs: [syntheticCatalog('goodcloud', 3)] });
  goodUrl = good.providers[0]!.url;
});

afterAll(async () => {
  await good.close();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

/** Run `catalog --json` with the good provider and `bad`; the good one's services must be there. */
async function catalogWith(bad: BadProvider, args: string[] = ['catalog', '--json']) {
  const env = home([goodUrl, bad.url]);
  const started = Date.now();
  const r = await runCli(args, { env, timeoutMs: 20_000 });
  const elapsed = Date.now() - started;
  expect(r.code).toBe(0);
  expect(r.stdout).not.toMatch(ESC_OR_BIDI);
  const out = r.json();
  expect(out.ok).toBe(true);
  expect(out.data.services.filter((s: { provider: string }) => s.provider === 'goodcloud')).toHaveLength(3);
  return { out, elapsed, env };
}

describe('bad input: one bad provider never breaks the others', () => {
  it('malformed JSON', async () => {
    const bad = await provider('badjson', (_req, res) => json(res, '{"provider_id": "badjson", "services": [ {'));
    const { out } = await catalogWith(bad);
    expect(out.warnings.join('\n')).toMatch(/badjson.*not valid JSON/);
  });

  it('wrong types: the invalid service is dropped, naming provider, service and field', async () => {
    const bad = await provider('wrongtypes', (_req, res) =>
      json(res, { provider_id: 'wrongtypes', services: [service('kv:ok'), service('kv:bad', { pricing: { type: 'one_time', amount: '12', currency: 'USD' } }), 42] }),
    );
    const { out } = await catalogWith(bad);
    const w = out.warnings.join('\n');
    expect(w).toMatch(/provider wrongtypes: service "kv:bad" dropped: field "pricing.amount"/);
    expect(w).toMatch(/provider wrongtypes: service "#2" dropped/);
    expect(out.data.services.map((s: { id: string }) => s.id)).toContain('kv:ok');
  });

  it('a config_schema nested 10,000 levels deep: that service alone is dropped, naming provider, service and field; add says INVALID_PROVIDER_RESPONSE', async () => {
    const N = 10_000;
    const deep = '{"type":"object","properties":{"a":'.repeat(N) + '{}' + '}}'.repeat(N);
    const bad = await provider('deepcloud', (_req, res) =>
      json(res, JSON.stringify({ provider_id: 'deepcloud', services: [service('kv:ok'), service('kv:deep', { config_schema: '@DEEP@' })] }).replace('"@DEEP@"', deep)),
    );
    const { out, env } = await catalogWith(bad);
    expect(out.warnings.join('\n')).toMatch(/provider deepcloud: service "kv:deep" dropped: field "config_schema\.properties\.a\.properties…": nested deeper than \d+ levels/);
    expect(out.data.services.filter((s: { provider: string }) => s.provider === 'deepcloud').map((s: { id: string }) => s.id)).toEqual(['kv:ok']);
    expect(JSON.stringify(out)).not.toMatch(/call stack/i);

    const add = await runCli(['add', 'deepcloud/kv:deep', '--json'], { env });
    expect(add.code, add.stdout + add.stderr).toBe(5);
    const e = add.json().error;
    expect(e.code).toBe('INVALID_PROVIDER_RESPONSE');
    expect(e.details).toMatchObject({ provider: 'deepcloud', service: 'kv:deep' });
    expect(e.message).toMatch(/deepcloud.*field "config_schema\.properties/);
  });

  it('a catalog nested 10,000 levels deep as a whole is an invalid document, never a stack overflow', async () => {
    const N = 10_000;
    const bad = await provider('deepdoc', (_req, res) =>
      json(res, `{"provider_id":"deepdoc","services":[],"extra":${'['.repeat(N)}${']'.repeat(N)}}`),
    );
    const { out } = await catalogWith(bad);
    const w = out.warnings.join('\n');
    expect(w).toMatch(/provider deepdoc .*failed: invalid catalog: field "extra\.0\.0\.0…": nested deeper than 32 levels/);
    expect(w).not.toMatch(/call stack/i);
  });

  it('a 100 MB body is cut off at the size limit', async () => {
    const bad = await provider('hugebody', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const pump = (): void => {
        while (sent < 100 && res.write(chunk)) sent++;
        if (sent < 100 && !res.destroyed) res.once('drain', pump);
        else res.end();
      };
      res.write('{"provider_id":"hugebody","services":[');
      pump();
    });
    const { out, elapsed } = await catalogWith(bad);
    expect(out.warnings.join('\n')).toMatch(/hugebody.*exceeds the \d+-byte limit/);
    expect(elapsed).toBeLessThan(DEADLINE_MS + 5000);
  });

  it('a body that trickles one byte per second hits the deadline', async () => {
    const bad = await provider('trickle', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), 1000);
      res.on('close', () => clearInterval(timer));
    });
    const { out, elapsed } = await catalogWith(bad);
    expect(out.warnings.join('\n')).toMatch(/trickle.*deadline exceeded/);
    expect(elapsed).toBeLessThan(DEADLINE_MS + 3000);
  });

  it('a redirect loop is refused', async () => {
    const bad = await provider('loopy', (req, res, { base }) => {
      const next = req.url === '/catalog' ? '/catalog-2' : '/catalog';
      res.writeHead(302, { location: `${base}${next}` });
      res.end();
    });
    const { out } = await catalogWith(bad);
    expect(out.warnings.join('\n')).toMatch(/loopy.*redirect loop/);
    expect(bad.hits.catalog).toBeLessThanOrEqual(4);
  });

  it('a redirect from loopback to another host is refused before any connection', async () => {
    const bad = await provider('escaper', (_req, res) => {
      res.writeHead(307, { location: 'http://203.0.113.7/catalog' });
      res.end();
    });
    const { out } = await catalogWith(bad);
    expect(out.warnings.join('\n')).toMatch(/escaper.*refusing redirect from http:\/\/127\.0\.0\.1:\d+ to another origin \(http:\/\/203\.0\.113\.7\)/);
  });

  it('ANSI/OSC escapes and bidi controls never reach stdout, in JSON or piped text', async () => {
    const evil = 'Evil\u001b[31mRED\u001b]8;;http://x.test\u0007link\u001b]8;;\u0007 \u202eReversed\u2066 \u009b2J';
    const bad = await provider('evilcloud', (_req, res) =>
      json(res, {
        provider_id: 'evilcloud',
        services: [service('kv:evil', { name: evil, description: `desc ${evil}`, categories: [`cat\u001b[2J`], config_schema: { type: 'object', description: evil } })],
      }),
    );
    const { out, env } = await catalogWith(bad);
    const evilService = out.data.services.find((s: { provider: string }) => s.provider === 'evilcloud');
    expect(evilService.name).toBe('EvilREDlink Reversed');
    const raw = JSON.stringify(out);
    expect(raw).not.toMatch(/\\u001b|\\u0007|\\u009b/);

    for (const args of [['catalog'], ['catalog', 'evilcloud/kv:evil'], ['search', 'evil'], ['catalog', '--compact']]) {
      const r = await runCli(args, { env });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('evilcloud');
      expect(r.stdout).not.toMatch(ESC_OR_BIDI);
      expect(r.stderr).not.toMatch(ESC_OR_BIDI);
    }
  });

  it('duplicate service ids: the first is kept, the second named in a warning', async () => {
    const bad = await provider('dupes', (_req, res) =>
      json(res, { provider_id: 'dupes', services: [service('kv:same', { name: 'First' }), service('kv:same', { name: 'Second' })] }),
    );
    const { out } = await catalogWith(bad);
    const mine = out.data.services.filter((s: { provider: string }) => s.provider === 'dupes');
    expect(mine.map((s: { name: string }) => s.name)).toEqual(['First']);
    expect(out.warnings.join('\n')).toMatch(/provider dupes: service "kv:same" dropped: duplicate id/);
  });

  it('a provider id that collides with another provider is skipped, and `providers add` refuses it', async () => {
    const impostor = await provider('goodcloud', (_req, res) => json(res, { provider_id: 'goodcloud', services: [service('kv:fake')] }));
    const { out, env } = await catalogWith(impostor);
    expect(out.data.services.some((s: { id: string }) => s.id === 'kv:fake')).toBe(false);
    expect(out.warnings.join('\n')).toMatch(/provider goodcloud \(http:\/\/127\.0\.0\.1:\d+.*collides/);

    const fresh = home([goodUrl]);
    expect((await runCli(['catalog', '--json'], { env: fresh })).code).toBe(0);
    const add = await runCli(['providers', 'add', impostor.base, '--json'], { env: fresh });
    expect(add.code).toBe(2);
    expect(add.json().error.details.reason).toBe('PROVIDER_ID_COLLISION');
    void env;
  });

  it('a catalog that changes between calls is revalidated with its ETag', async () => {
    let version = 1;
    const body = () => JSON.stringify({ provider_id: 'shifty', services: [service(`kv:v${version}`)] });
    const bad = await provider('shifty', (req, res, { hits }) => {
      const etag = `"v${version}"`;
      if (req.headers['if-none-match'] === etag) {
        hits.notModified++;
        res.writeHead(304, { etag, 'cache-control': 'max-age=0' });
        res.end();
        return;
      }
      json(res, body(), { etag, 'cache-control': 'max-age=0' });
    });
    const env = home([goodUrl, bad.url]);
    const ids = async () => {
      const r = await runCli(['catalog', 'shifty', '--json'], { env });
      expect(r.code).toBe(0);
      return r.json().data.services.map((s: { id: string }) => s.id);
    };
    expect(await ids()).toEqual(['kv:v1']);
    expect(await ids()).toEqual(['kv:v1']);
    expect(bad.hits.notModified).toBe(1);
    version = 2;
    expect(await ids()).toEqual(['kv:v2']);
  });
});

describe('cache, failure and output', () => {
  it('serves a stale cache with its age when the provider is gone, and exits 5 only when all fail', async () => {
    const farm = await startFarm({ catalogs: [syntheticCatalog('fleeting', 2)], maxAge: 0 });
    const env = home([farm.providers[0]!.url]);
    expect((await runCli(['catalog', '--json'], { env })).code).toBe(0);
    await farm.close();
    const stale = await runCli(['catalog', '--json'], { env });
    expect(stale.code).toBe(0);
    expect(stale.json().data.services).toHaveLength(2);
    expect(stale.json().warnings.join('\n')).toMatch(/fleeting .*unreachable.*cached \d+ seconds? ago/);

    const gone = home([farm.providers[0]!.url]);
    const r = await runCli(['catalog', '--json'], { env: gone });
    expect(r.code).toBe(5);
    expect(r.json().error.code).toBe('PROVIDER_UNREACHABLE');
  });

  it('a warm, fresh cache needs no network; --refresh goes to the network again', async () => {
    const farm = await startFarm({ catalogs: [syntheticCatalog('warmcloud', 2)] });
    const env = home([farm.providers[0]!.url]);
    expect((await runCli(['catalog', '--json'], { env })).code).toBe(0);
    const before = farm.stats.requests;
    expect((await runCli(['catalog', '--json'], { env })).code).toBe(0);
    expect(farm.stats.requests).toBe(before);
    expect((await runCli(['catalog', '--refresh', '--json'], { env })).code).toBe(0);
    expect(farm.stats.notModified).toBe(1);
    await farm.close();
  });

  it('a descriptor is remembered for its max-age: a gone catalog is fetched alone; --refresh or a corrupt copy asks for both', async () => {
    const farm = await startFarm({ catalogs: [syntheticCatalog('longlived', 2)] });
    const env = home([farm.providers[0]!.url]);
    const catalogDir = join(env.AGENTPROV_HOME!, 'cache', 'catalog');
    const dropCatalogs = () => {
      for (const f of readdirSync(catalogDir)) if (!f.startsWith('registry-')) rmSync(join(catalogDir, f));
    };
    const listed = async (args: string[] = []) => {
      const r = await runCli(['catalog', ...args, '--json'], { env });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.json().data.services.filter((x: { provider: string }) => x.provider === 'longlived')).toHaveLength(2);
    };
    await listed();
    expect(farm.stats.requests).toBe(2); // descriptor and catalog
    dropCatalogs();
    await listed();
    expect(farm.stats.requests).toBe(3); // the catalog alone
    await listed(['--refresh']);
    expect(farm.stats.requests).toBe(5);
    dropCatalogs();
    const [remembered] = readdirSync(join(env.AGENTPROV_HOME!, 'cache', 'descriptors'));
    const file = join(env.AGENTPROV_HOME!, 'cache', 'descriptors', remembered!);
    const entry = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...entry, descriptor: { ...entry.descriptor, catalog_url: 42 } }));
    await listed();
    expect(farm.stats.requests).toBe(7); // the invalid copy was not trusted
    await farm.close();
  });

  it('a descriptor naming another origin is refused by the origin rule before any request goes there, and is not remembered', async () => {
    // The other origin: another loopback port, which must never see a request (https → loopback probing, off-origin catalogs).
    const otherHits: string[] = [];
    const other = createServer((req, res) => {
      otherHits.push(req.url ?? '');
      json(res, { provider_id: 'leaky', services: [] });
    });
    await new Promise<void>((ok) => other.listen(0, '127.0.0.1', ok));
    servers.push(other);
    const otherBase = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
    let base = '';
    let field: 'catalog_url' | 'provisioning_endpoint' | 'resource' = 'catalog_url';
    const server = createServer((_req, res) => {
      const d: Record<string, string> = { provider_id: 'leaky', name: 'Leaky', terms_url: `${base}/terms`, terms_version: '1', catalog_url: `${base}/c`, provisioning_endpoint: `${base}/p`, resource: base };
      d[field] = field === 'resource' ? otherBase : `${otherBase}/x`;
      json(res, d, { 'cache-control': 'max-age=3600' });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    servers.push(server);
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    for (const f of ['catalog_url', 'provisioning_endpoint', 'resource'] as const) {
      field = f;
      const env = home([`${base}/.well-known/agent-provisioning`]);
      const r = await runCli(['catalog', '--json'], { env });
      expect(r.code).toBe(5);
      const warnings = JSON.stringify(r.json().error.details.warnings);
      expect(warnings).toContain(`its ${f} is on ${otherBase}, not on the descriptor's origin ${base}`);
      expect(existsSync(join(env.AGENTPROV_HOME!, 'cache', 'descriptors'))).toBe(false);
    }
    expect(otherHits).toEqual([]);
  });

  it('a corrupt cache file is treated as absent, never a crash, and the catalog is fetched again', async () => {
    const farm = await startFarm({ catalogs: [syntheticCatalog('sturdy', 2)] });
    const env = home([farm.providers[0]!.url]);
    expect((await runCli(['catalog', '--json'], { env })).code).toBe(0);
    const dir = join(env.AGENTPROV_HOME!, 'cache', 'catalog');
    const file = join(dir, readdirSync(dir).find((f) => !f.startsWith('registry-'))!);
    // The cache file: a header line, then the services array (src/catalog/cache.ts).
    const text = readFileSync(file, 'utf8');
    const header = JSON.parse(text.slice(0, text.indexOf('\n')));
    const services = JSON.parse(text.slice(text.indexOf('\n') + 1));
    /** A file whose header vouches for `list` (right length and CRC): only the narrowing can catch what is wrong in it. */
    const vouched = (list: unknown, h: Record<string, unknown> = header): string => {
      const json = JSON.stringify(list);
      const { length: _l, crc32: _c, ...fields } = h;
      return `${JSON.stringify({ ...fields, length: json.length, crc32: crc32(json, crc32(JSON.stringify(fields))) })}\n${json}`;
    };
    const corruptions: string[] = [
      '{"v":2,"url":',
      text.slice(0, -20), // truncated
      text.replace('"Service 0', '"Service X'), // same length, CRC mismatch
      text.replace('"count":2', '"count":3'),
      vouched(services, { ...header, max_age: 1e12 }),
      vouched('nope'),
    ];
    for (const bad of corruptions) {
      writeFileSync(file, bad);
      const before = farm.stats.requests;
      const r = await runCli(['catalog', '--json'], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().data.services).toHaveLength(2);
      expect(farm.stats.requests).toBeGreaterThan(before);
    }
    // Services that do not narrow under a header that vouches for them can only
    // be written by hand: whatever parses them (table, TSV, search) drops them
    // instead of crashing; `catalog --json` copies the vouched text as it is.
    for (const bad of [
      vouched([{ ...services[0], pricing: { type: 'recurring', amount: { x: 1 }, currency: 'USD', interval: 'month' } }, services[1]]),
      vouched([{ ...services[0], env: { ['K'.repeat(100)]: 'access_token' } }, services[1]]),
    ]) {
      writeFileSync(file, bad);
      const piped = await runCli(['catalog'], { env });
      expect(piped.code, piped.stderr).toBe(0);
      expect(piped.stdout.trim()).toBe('');
      const found = await runCli(['search', 'service', '--json'], { env });
      expect(found.code, found.stderr).toBe(0);
      expect(found.json().data.services).toEqual([]);
    }
    await farm.close();
  });

  it('an unwritable cache does not fail the command: the fetched catalog is still shown', async () => {
    const farm = await startFarm({ catalogs: [syntheticCatalog('nocache', 2)] });
    const env = home([farm.providers[0]!.url]);
    writeFileSync(join(env.AGENTPROV_HOME!, 'cache'), 'a file where the cache directory should be');
    const r = await runCli(['catalog', '--json'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json().data.services).toHaveLength(2);
    expect(r.json().data.providers[0].status).toBe('fetched');
    await farm.close();
  });

  it('the registry index notices a manifest rewritten in place with the same size and mtime', async () => {
    const a = await startFarm({ catalogs: [syntheticCatalog('first', 1)] });
    const b = await startFarm({ catalogs: [syntheticCatalog('second', 1)] });
    const urlA = a.providers[0]!.url;
    const urlB = b.providers[0]!.url;
    expect(urlB).toHaveLength(urlA.length);
    const project = tempDir('agentprov-project-');
    const manifest = join(project, 'agentprov.json');
    const archived = new Date('2026-01-01T00:00:00Z'); // whole seconds, as tar and `cp -p` from an archive set it
    writeFileSync(manifest, JSON.stringify({ version: 1, providers: [{ url: urlA }] }));
    utimesSync(manifest, archived, archived);
    const env = home([]);
    const providersIn = async () => {
      const r = await runCli(['catalog', '--json'], { env, cwd: project });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      return r.json().data.providers.map((p: { id: string }) => p.id);
    };
    expect(await providersIn()).toEqual(['first']);
    const before = statSync(manifest);
    writeFileSync(manifest, JSON.stringify({ version: 1, providers: [{ url: urlB }] })); // same inode, same size
    utimesSync(manifest, archived, archived);
    const after = statSync(manifest);
    expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);
    expect(await providersIn()).toEqual(['second']);
    await a.close();
    await b.close();
  });

  it('a listing far larger than a pipe buffer arrives whole, and the warm copy from the cache equals the fetched one', async () => {
    const farm = await startFarm({ catalogs: Array.from({ length: 10 }, (_, i) => syntheticCatalog(`big-${i}`, 300)) });
    const env = home(farm.providers.map((p) => p.url));
    const cold = await runCli(['catalog', '--json'], { env });
    expect(cold.code, cold.stderr).toBe(0);
    expect(cold.stdout.length).toBeGreaterThan(1_000_000);
    const requests = farm.stats.requests;
    const warm = await runCli(['catalog', '--json'], { env });
    expect(warm.code, warm.stderr).toBe(0);
    expect(farm.stats.requests).toBe(requests);
    const [c, w] = [cold.json(), warm.json()];
    expect(c.data.services.filter((x: CatalogService) => x.provider.startsWith('big-'))).toHaveLength(3000);
    expect(w.data.services).toEqual(c.data.services);
    expect(w.data.providers.map((p: { status: string }) => p.status)).toContain('cached');
    await farm.close();
  });

  it('--compact lists the 161 Stripe services in at most 16,000 characters; piped output is TSV', async () => {
    const farm = await startFarm({ catalogs: stripeCatalogs() });
    const env = home(farm.providers.map((p) => p.url));
    const j = await runCli(['catalog', '--json'], { env });
    expect(j.json().data.services).toHaveLength(161);
    for (const s of j.json().data.services) for (const k of ['provider', 'id', 'name', 'description', 'categories', 'pricing', 'config_schema', 'env']) expect(s).toHaveProperty(k);
    const compact = await runCli(['catalog', '--compact'], { env });
    expect(compact.stdout.trim().split('\n')).toHaveLength(161);
    expect(compact.stdout.length).toBeLessThanOrEqual(16_000);
    const tsv = await runCli(['catalog', 'database'], { env });
    for (const line of tsv.stdout.trim().split('\n')) expect(line.split('\t')).toHaveLength(4);
    await farm.close();
  });
});

describe('providers and the sandbox', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it('localcloud (written from docs/protocol.md) shows in catalog, search and catalog localcloud/registrar:domain', async () => {
    const env = isolatedEnv(tempDir('agentprov-catalog-'));
    for (const p of sandbox.providers) {
      const add = await runCli(['providers', 'add', p.url, '--json'], { env });
      expect(add.code, add.stdout + add.stderr).toBe(0);
      expect(add.json().data.provider.id).toBe(p.id);
    }
    const list = await runCli(['providers', 'list', '--json'], { env });
    expect(list.json().data.providers.map((p: { id: string; source: string }) => `${p.id}:${p.source}`)).toEqual(['localcloud:user', 'othercloud:user', 'cloudflare:builtin']);
    expect(list.json().data.providers[2]).toMatchObject({ url: 'builtin:cloudflare', services: 5, linked: null });

    // `providers add` remembers each descriptor's catalog URL, so a cold fetch can ask for it beside the descriptor...
    const configPath = join(env.AGENTPROV_HOME!, 'config', 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    expect(config.providers.map((p: { catalog_url?: string }) => p.catalog_url)).toEqual(sandbox.providers.map((p) => `${p.url}/catalog`));
    // ...and indexes the registry it wrote, so the next catalog sends its requests without parsing the config first.
    const { fingerprint, file } = registryFingerprint(resolvePaths(env), tempDir('agentprov-cwd-'));
    expect(readRegistryIndex(file, fingerprint)?.entries.map((e) => [e.id, e.catalogUrl])).toEqual(sandbox.providers.map((p) => [p.id, `${p.url}/catalog`]));
    // ...and a remembered URL the descriptor no longer names is not trusted: the descriptor's own is fetched.
    config.providers[0].catalog_url = `${sandbox.providers[0]!.url}/not-the-catalog`;
    writeFileSync(configPath, JSON.stringify(config));
    rmSync(join(env.AGENTPROV_HOME!, 'cache'), { recursive: true, force: true });
    const cold = await runCli(['catalog', '--json'], { env });
    expect(cold.code, cold.stdout + cold.stderr).toBe(0);
    expect(cold.json().data.services.filter((s: { provider: string }) => s.provider === sandbox.providers[0]!.id).length).toBeGreaterThan(0);
    expect(cold.json().warnings).toEqual([]);

    const cat = await runCli(['catalog', '--json'], { env });
    expect(cat.code).toBe(0);
    const ids = cat.json().data.services.map((s: { provider: string; id: string }) => `${s.provider}/${s.id}`);
    expect(ids).toContain('localcloud/registrar:domain');
    expect(ids).toContain('othercloud/storage:bucket');

    const search = await runCli(['search', 'domain', '--json'], { env });
    // Two registrars now: localcloud's and the built-in Cloudflare one, both ahead of anything else.
    expect(search.json().data.services.slice(0, 2).map((s: { provider: string; id: string }) => `${s.provider}/${s.id}`).sort()).toEqual(['cloudflare/registrar:domain', 'localcloud/registrar:domain']);

    const one = await runCli(['catalog', 'localcloud/registrar:domain', '--json'], { env });
    expect(one.code).toBe(0);
    const svc = one.json().data.service;
    expect(svc.pricing).toMatchObject({ type: 'one_time', amount: 1200, currency: 'USD' });
    expect(svc.config_schema.required).toEqual(['domain']);
    expect(svc.env).toEqual({ LOCALCLOUD_DOMAIN: 'resource.domain' });

    const missing = await runCli(['catalog', 'localcloud/nope:nope', '--json'], { env });
    expect(missing.code).toBe(2);
    expect(missing.json().error.code).toBe('SERVICE_NOT_FOUND');

    const rm = await runCli(['providers', 'remove', 'othercloud', '--json'], { env });
    expect(rm.code).toBe(0);
    const indexed = registryFingerprint(resolvePaths(env), tempDir('agentprov-cwd-'));
    expect(readRegistryIndex(indexed.file, indexed.fingerprint)?.entries.map((e) => e.id)).toEqual(['localcloud']);
    const after = await runCli(['catalog', '--json'], { env });
    expect(new Set(after.json().data.services.map((s: { provider: string }) => s.provider))).toEqual(new Set(['localcloud', 'cloudflare']));
  });
});
