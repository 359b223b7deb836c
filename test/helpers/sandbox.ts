/**
 * The whole sandbox (identity provider, rail, providers) in the test
 * process, on random loopback ports, started before the suite's tests and
 * stopped after them. Use inside a `describe`.
 */
import { afterAll, beforeAll } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/index.js';

export function useSandbox(options: SandboxOptions = {}): { readonly current: Sandbox } {
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    sandbox = await startSandbox(options);
  });
  afterAll(async () => {
    await sandbox?.stop();
  });
  return {
    get current(): Sandbox {
      if (!sandbox) throw new Error('the sandbox is not running (use useSandbox() inside describe and read .current in a test)');
      return sandbox;
    },
  };
}
