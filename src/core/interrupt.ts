/**
 * Who handles Ctrl-C. By default the program ends at once with INTERRUPTED
 * (exit 130). A long-running command (sandbox, run) registers its own
 * handler to shut down in its own way. This is an explicit registration:
 * counting SIGINT listeners does not work, because dependencies (signal-exit)
 * add listeners of their own.
 */
let handler: (() => void) | undefined;

/** Handle the next Ctrl-C with `fn`; returns the function that unregisters it. */
export function handleInterruptWith(fn: () => void): () => void {
  handler = fn;
  return () => {
    if (handler === fn) handler = undefined;
  };
}

/** Called by the entry on SIGINT: true when a command took it. */
export function dispatchInterrupt(): boolean {
  const fn = handler;
  handler = undefined;
  fn?.();
  return fn !== undefined;
}
