/** The exit classes of the error codes (src/core/errors.ts); the CLI's own contract is in test/e2e/cli.test.ts. */
import { describe, expect, it } from 'vitest';
import { AgentprovError, exitCodeFor } from '../../../src/core/errors.js';

describe('the CLI contract', () => {
  it('maps error codes to the exit classes of the design', () => {
    expect(exitCodeFor('USAGE')).toBe(2);
    expect(exitCodeFor('SERVICE_NOT_FOUND')).toBe(2);
    expect(exitCodeFor('NOT_SIGNED_IN')).toBe(3);
    expect(exitCodeFor('CONSENT_REQUIRED')).toBe(3);
    expect(exitCodeFor('CAP_EXCEEDED')).toBe(4);
    expect(exitCodeFor('PROVIDER_UNREACHABLE')).toBe(5);
    expect(exitCodeFor('INTERRUPTED')).toBe(130);
    expect(exitCodeFor('KEYCHAIN_UNAVAILABLE')).toBe(1);
    // The codes are a closed union: an unknown one does not compile (tsc checks this file), and would be exit 1 at run time.
    // @ts-expect-error SOMETHING_NEW is no ErrorCode
    expect(exitCodeFor('SOMETHING_NEW')).toBe(1);
    // @ts-expect-error nor can an error be built with it
    expect(new AgentprovError('SOMETHING_NEW', 'x').exitCode).toBe(1);
  });
});
