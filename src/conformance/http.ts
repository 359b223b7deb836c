/**
 * The checker's HTTP: every request through the one bounded client
 * (src/http/fetch.ts: 256 KiB, 15 s, redirects on one origin for GET
 * only), every answer kept with its status and headers so a check can say
 * what was sent and what came back. Every secret the checker sends or
 * receives goes to the redactor first, so `describe` never shows one.
 */
import type { Redactor } from '../core/io.js';
import { createFetcher, header, type Fetcher } from '../http/fetch.js';
import { tooDeepAt } from '../util/json-depth.js';
import { sanitizeLine, truncate } from '../util/sanitize.js';

export const MAX_ANSWER_BYTES = 256 * 1024;
export const REQUEST_DEADLINE_MS = 15_000;
const DETAIL_CHARS = 300;

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

export interface Answer {
  method: Method;
  url: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON (depth-bounded), or undefined when it is not JSON. */
  json: unknown;
  header(name: string): string | undefined;
}

export interface SendOptions {
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
}

export class ConformanceHttp {
  readonly #fetcher: Fetcher;

  constructor(readonly redactor: Redactor, fetcher?: Fetcher) {
    this.#fetcher = fetcher ?? createFetcher({ headersTimeoutMs: REQUEST_DEADLINE_MS, bodyTimeoutMs: REQUEST_DEADLINE_MS });
  }

  /** Remember a secret so no detail shows it. */
  secret(value: string | undefined | null): void {
    this.redactor.add(value);
  }

  async send(method: Method, url: string, opts: SendOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...opts.headers };
    // Whatever the checker sends or gets under a secret-named field is masked in every detail, parsed or not.
    this.redactor.addSecretFields(opts.json ?? opts.form);
    let body: string | undefined;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] ??= 'application/json';
    } else if (opts.form) {
      body = new URLSearchParams(opts.form).toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    }
    const res = await this.#fetcher.request(url, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
      maxBytes: MAX_ANSWER_BYTES,
    });
    const text = res.body.toString('utf8');
    let json: unknown;
    try {
      const parsed: unknown = text ? JSON.parse(text) : undefined;
      json = tooDeepAt(parsed) === undefined ? parsed : undefined;
      this.redactor.addSecretFields(json);
    } catch {
      json = undefined;
    }
    return { method, url: res.url, status: res.status, headers: res.headers, text, json, header: (n) => header(res.headers, n) };
  }

  /** `POST /v1/provisions → 201 {"id":…}`: one line, control characters stripped, secrets masked, trimmed. */
  describe(a: Answer, note?: string): string {
    const path = new URL(a.url).pathname;
    const body = a.text ? ` ${a.text.replace(/\s+/g, ' ')}` : '';
    return this.line(`${note ? `${note}: ` : ''}${a.method} ${path} → ${a.status}${body}`);
  }

  /** Any text made fit for a detail: one line, masked, trimmed. */
  line(text: string): string {
    return truncate(sanitizeLine(this.redactor.redact(text)), DETAIL_CHARS);
  }

  close(): Promise<void> {
    return this.#fetcher.close();
  }
}
