/**
 * The WHATWG `fetch` of Node, for the libraries that speak only it
 * (openid-client, Cloudflare's SDK). Its HTTP parser is llhttp compiled to
 * WebAssembly, which V8 compiles twice: at once with its baseline compiler
 * (Liftoff), then again, optimised (TurboFan), on a background thread. A
 * process that exits waits for that second compile: about 40 ms after a
 * `run -- true` had finished (README "Where the time goes"). A CLI process
 * makes a handful of requests, for which the baseline code is the right
 * one, so before the first request the optimising tier is switched off for
 * this process. The flag concerns WebAssembly only; the sandbox, a server
 * that would want the optimised parser, does not use this module.
 */
import { createRequire } from 'node:module';

let baselineOnly = false;

export function webFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  if (!baselineOnly) {
    baselineOnly = true;
    // node:v8 through require(): no ESM facade of it on any other path.
    (createRequire(import.meta.url)('node:v8') as typeof import('node:v8')).setFlagsFromString('--liftoff-only');
  }
  return fetch(input, init);
}
