import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { liveMysqlTarget } from '../../electron/engine/runbooks/actions/restore-mysql';

describe('the password of a MySQL restore target', () => {
  const saved = process.env.MYSQL_PWD;
  afterEach(() => {
    if (saved === undefined) delete process.env.MYSQL_PWD;
    else process.env.MYSQL_PWD = saved;
  });

  it(
    'comes from the keychain reference when one is given, else MYSQL_PWD; never from the URL',
    { timeout: 5_000 },
    async () => {
      const store = new MemoryCredentialStore();
      await store.set('mysql:shop', 'from-keychain');
      process.env.MYSQL_PWD = 'from-env';
      const url = 'mysql://restorer@db1:3306/shop';
      expect(await liveMysqlTarget(store, url, 'shop_new', 'mysql:shop')).toMatchObject({
        user: 'restorer',
        host: 'db1',
        database: 'shop_new',
        password: 'from-keychain',
      });
      expect((await liveMysqlTarget(store, url, 'shop_new', undefined)).password).toBe('from-env');
      delete process.env.MYSQL_PWD;
      expect((await liveMysqlTarget(store, url, 'shop_new', undefined)).password).toBeNull();
    },
  );

  it(
    'a reference with nothing stored is refused by name (not taken for "no password"); a password in the URL is refused',
    { timeout: 5_000 },
    async () => {
      const store = new MemoryCredentialStore();
      await expect(liveMysqlTarget(store, 'mysql://u@db1/shop', 'shop', 'mysql:other')).rejects.toMatchObject({
        code: 'CREDENTIAL_UNAVAILABLE',
        message: 'No secret is stored for mysql:other.',
      });
      await expect(liveMysqlTarget(store, 'mysql://u:pw@db1/shop', 'shop', undefined)).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: expect.stringMatching(/must not carry its password/),
      });
      await expect(liveMysqlTarget(store, 'mysql://u@db1/shop', 'shop', 'mysql:bad ref')).rejects.toMatchObject({
        code: 'BAD_INPUT',
      });
    },
  );
});
