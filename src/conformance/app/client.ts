/**
 * APP requests as the checker sends them: paths relative to the base URL,
 * `API-Version: 0.1d` unless a check leaves it out, bearer tokens and every
 * token or code received remembered as secrets.
 */
import { APP_VERSION, AppErrorBody } from '../../wire/app.js';
import type { Answer, ConformanceHttp, Method, SendOptions } from '../http.js';

export interface AppClient {
  base: string;
  http: ConformanceHttp;
  send(method: Method, rel: string, opts?: SendOptions & { version?: string | null; bearer?: string }): Promise<Answer>;
}

export function appClient(http: ConformanceHttp, base: string): AppClient {
  const root = base.endsWith('/') ? base : `${base}/`;
  return {
    base: root,
    http,
    send(method, rel, opts = {}) {
      const { version = APP_VERSION, bearer, ...rest } = opts;
      const headers: Record<string, string> = { ...rest.headers };
      if (version !== null) headers['api-version'] = version;
      if (bearer) headers.authorization = `Bearer ${bearer}`;
      return http.send(method, new URL(rel, root).href, { ...rest, headers });
    },
  };
}

/** The APP error code of an answer, from any of its envelopes. */
export function errorCode(a: Answer): string | undefined {
  const e = AppErrorBody.safeParse(a.json);
  if (!e.success) return undefined;
  return typeof e.data.error === 'string' ? e.data.error : e.data.error.code;
}
