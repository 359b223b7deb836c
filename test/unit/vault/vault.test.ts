/** What the vault teaches the output redactor (src/vault/vault.ts), on the passphrase file store. The keychain store and `vault status` are in test/e2e/vault.test.ts. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isolatedEnv, tempDir } from '../../helpers/cli.js';

describe('what the vault teaches the redactor', () => {
  it('masks bare secrets and secret-named fields, but not identifiers beside them', async () => {
    const { Redactor } = await import('../../../src/core/io.js');
    const home = tempDir();
    const env = isolatedEnv(home, { AGENTPROV_CREDENTIAL_STORE: 'file', AGENTPROV_VAULT_PASSPHRASE: 'pw' });
    const { openVault } = await import('../../../src/vault/vault.js');
    const writer = await openVault({ env, stateDir: join(home, 'state') });
    await writer.set('bare', 'bare-secret-value');
    await writer.set('grant', { refresh_token: 'refresh-secret-1', account_id: 'acct-localcloud-1', client_id: 'agentprov-cli', credentials: { password: 'nested-pass-1', other: 'nested-other-1' } });
    const redactor = new Redactor();
    const vault = await openVault({ env, stateDir: join(home, 'state'), redactor });
    await vault.names();
    const text = 'bare-secret-value refresh-secret-1 nested-pass-1 nested-other-1 acct-localcloud-1 agentprov-cli';
    expect(redactor.redact(text)).toBe('**** **** **** **** acct-localcloud-1 agentprov-cli');
  });
});
