/**
 * The whole sandbox (identity provider, rail, providers) in the test
 * process, on random loopback ports, started before the suite's tests and
 * stopped after them. Use inside a `describe`.
 */
import { afterAll, beforeAll } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/index.js';

/** The sandbox identity provider's demo user (src/sandbox/idp/users.ts): the one with a payment method. */
export const DEMO_USER = { email: 'demo@agentprov.test', password: 'demo' };

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
