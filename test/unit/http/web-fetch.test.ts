/**
 * src/http/web-fetch.ts: Node's fetch for the libraries that need it, with
 * WebAssembly's optimising tier off for the process (so an exiting CLI does
 * not wait for it to compile llhttp). It must answer like fetch, and stay
 * the one way agentprov's code reaches the global fetch.
 */
import { createServer } from 'node:http';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { webFetch } from '../../../src/http/web-fetch.js';

const SRC = join(import.meta.dirname, '..', '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('webFetch', () => {
  it('answers as fetch does, twice (the flag is set once)', async () => {
    const server = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      for (const path of ['/a', '/b']) {
        const res = await webFetch(`http://127.0.0.1:${port}${path}`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ path });
      }
    } finally {
      server.close();
    }
  });

  it('is the only caller of the global fetch outside the sandbox', () => {
    const callers = sources(SRC)
      .filter((f) => !f.includes(`${join('src', 'sandbox')}`) && !f.endsWith(join('http', 'web-fetch.ts')))
      .filter((f) => readFileSync(f, 'utf8').split('\n').some((line) => /(^|[^.\w])fetch\(/.test(line) && !/^\s*(\/\/|\/\*|\*)/.test(line) && !line.includes('async fetch()')))
      .map((f) => relative(SRC, f));
    expect(callers).toEqual([]);
  });
});
