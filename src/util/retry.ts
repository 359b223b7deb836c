/**
 * Asking again after a pause: `fn` at most `attempts` times, while
 * `retryIf` says the failure is worth another try, waiting `delaysMs[i]`
 * after the i-th failure (the last delay repeats). How many attempts were
 * made is readable whether `value` resolves or rejects.
 */
export interface RetryOptions {
  attempts: number;
  delaysMs: readonly number[];
  /** Default: every failure is retried. */
  retryIf?: (err: unknown) => boolean;
  /** Injected in tests; real pauses otherwise. */
  sleep?: (ms: number) => Promise<void>;
}

export function retrying<T>(fn: () => Promise<T>, opts: RetryOptions): { value: Promise<T>; attempts: () => number } {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let attempts = 0;
  const value = (async () => {
    for (;;) {
      attempts++;
      try {
        return await fn();
      } catch (err) {
        if (attempts >= opts.attempts || !(opts.retryIf?.(err) ?? true)) throw err;
        await sleep(opts.delaysMs[Math.min(attempts - 1, opts.delaysMs.length - 1)] ?? 0);
      }
    }
  })();
  return { value, attempts: () => attempts };
}
