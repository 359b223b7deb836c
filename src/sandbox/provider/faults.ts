/**
 * Deterministic fault injection for the catalog and provisioning routes, so
 * tests can prove the client's retry and timeout behaviour: "fail the next N
 * matching requests", fixed latency, dropped connections, slow bodies.
 */
import { ApiError, type Exchange } from './http.js';
import type { FaultSwitches } from './types.js';

/** The routes faults may hit, before the `paths` filter narrows them. */
const ELIGIBLE = /^\/(catalog$|v1\/provisions(\/|$))/;

export class Faults {
  #f: FaultSwitches = {};

  constructor(initial?: FaultSwitches) {
    this.set(initial ?? {});
  }

  /** Replace every switch at once (`{}` turns them all off). */
  set(f: FaultSwitches): void {
    for (const k of ['latencyMs', 'status5xx', 'dropConnection', 'slowBodyBytesPerSec'] as const) {
      const v = f[k];
      if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw new RangeError(`fault ${k} must be a number >= 0`);
    }
    this.#f = { ...f };
  }

  /** The protocol faults (all off unless set). */
  get protocol(): Readonly<FaultSwitches> {
    return this.#f;
  }

  /** The quote multiplier (1 when off). */
  get quoteFactor(): number {
    return this.#f.quoteFactor ?? 1;
  }

  #matches(pathname: string): boolean {
    if (!ELIGIBLE.test(pathname)) return false;
    const p = this.#f.paths;
    if (p === undefined) return true;
    return typeof p === 'string' ? pathname.startsWith(p) : p.test(pathname);
  }

  /**
   * Apply the switches to one request. Returns false when the connection was
   * dropped (the caller must not answer). Throws ApiError for an injected 503.
   * The counters are taken synchronously on arrival, so with N set exactly the
   * next N matching requests fail, whatever their timing.
   */
  async apply(ex: Exchange): Promise<boolean> {
    if (!this.#matches(ex.url.pathname)) return true;
    const f = this.#f;
    let drop = false;
    let fail = false;
    if (f.dropConnection && f.dropConnection > 0) {
      f.dropConnection -= 1;
      drop = true;
    } else if (f.status5xx && f.status5xx > 0) {
      f.status5xx -= 1;
      fail = true;
    }
    if (f.latencyMs) await new Promise((r) => setTimeout(r, f.latencyMs));
    if (drop) {
      ex.req.socket.destroy();
      return false;
    }
    if (fail) {
      throw new ApiError(503, 'SERVICE_UNAVAILABLE', 'injected fault: service unavailable', { headers: { 'Retry-After': '1' } });
    }
    if (f.slowBodyBytesPerSec) ex.slowBytesPerSec = f.slowBodyBytesPerSec;
    return true;
  }
}
