import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeytarCredentialStore } from '../../electron/engine/credentials/credential-store';
import { startSecretService, type SecretService } from '../helpers/secret-service';
import { tempDir } from '../helpers/temp';

// A real Secret Service (gnome-keyring on a private D-Bus): these tests never skip.
let service: SecretService;
beforeAll(async () => {
  service = await startSecretService();
});
afterAll(async () => {
  await service.stop();
});

describe('CredentialStore on keytar', () => {
  it('sets, gets, lists and deletes a secret in the OS keychain', async () => {
    const store = new KeytarCredentialStore();
    expect((await store.status()).state).toBe('available');
    const secret = `pw-${Date.now()}-Ünïcødé`;
    await store.set('pg:customer-db', secret);
    expect(await store.get('pg:customer-db')).toBe(secret);
    expect(await store.accounts()).toContain('pg:customer-db');
    expect(await store.delete('pg:customer-db')).toBe(true);
    expect(await store.get('pg:customer-db')).toBeNull();
    expect(await store.delete('pg:customer-db')).toBe(false);
  });

  it('refuses malformed references and empty secrets', async () => {
    const store = new KeytarCredentialStore();
    await expect(store.set('customer-db', 'x')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(store.set('pg:ok', '')).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});

describe('without a Secret Service', () => {
  it('reports the keychain as unavailable with what to do, instead of failing', () => {
    const home = tempDir();
    try {
      const r = spawnSync(process.execPath, [join(__dirname, '../../bin/lifeboat.cjs'), 'info', '--json'], {
        env: { ...process.env, LIFEBOAT_HOME: home.path, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' },
        encoding: 'utf8',
      });
      expect(r.status).toBe(0);
      const info = JSON.parse(r.stdout) as { keychain: { state: string; hint: string } };
      expect(info.keychain.state).toBe('unavailable');
      expect(info.keychain.hint).toMatch(/Secret Service/);
    } finally {
      home.cleanup();
    }
  });
});
