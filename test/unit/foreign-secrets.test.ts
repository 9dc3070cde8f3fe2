import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ACCOUNT_PATTERN, MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { LifeboatError, mapError } from '../../electron/engine/errors';
import {
  accountFor,
  foreignSecrets,
  needsSecret,
  pgbrKeysFor,
  readSecretFile,
} from '../../electron/engine/foreign/secrets';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('foreign secrets (foreign/secrets.ts)', () => {
  it('keychain accounts are valid references for any scope, long or odd', () => {
    for (const scope of ['shop', '/media/usb/restic repo', 'x'.repeat(300), null, '///']) {
      for (const tool of ['pgbackrest', 'openssl', 'restic'] as const)
        expect(accountFor(tool, scope)).toMatch(ACCOUNT_PATTERN);
    }
    expect(accountFor('restic', '/media/usb/restic repo')).toBe('restic:media_usb_restic_repo');
    expect(accountFor('pgbackrest', null)).toBe('pgbackrest:default');
    expect(accountFor('openssl', 'a'.repeat(300))).not.toBe(accountFor('openssl', `${'a'.repeat(299)}b`));
  }, 5000);

  it('a file: one trailing newline removed; empty, missing or huge refused without its content', () => {
    const f = join(dir, 'pass');
    writeFileSync(f, 'hunter2 with space\n');
    expect(readSecretFile(f)).toBe('hunter2 with space');
    writeFileSync(f, 'two\r\n\n');
    expect(readSecretFile(f)).toBe('two\r\n');
    writeFileSync(f, '\n');
    expect(() => readSecretFile(f)).toThrow(/is empty/);
    expect(() => readSecretFile(join(dir, 'nope'))).toThrow(/Cannot read the passphrase file .*nope: ENOENT/);
    writeFileSync(f, `s3cret-${'x'.repeat(70_000)}`);
    const err = mapError(
      (() => {
        try {
          readSecretFile(f);
        } catch (e) {
          return e;
        }
        return null;
      })(),
    );
    expect(err.message).toMatch(/holds one line/);
    expect(err.message).not.toContain('s3cret');
  }, 5000);

  it("pgbrKeysFor: the stanza's passphrase from the run's file, else the keychain (stanza, then default), else null", async () => {
    const keychain = new MemoryCredentialStore();
    expect(await pgbrKeysFor('shop', { keychain })).toEqual({ repoPassphrase: null });
    await keychain.set('pgbackrest:default', 'for-every-stanza');
    expect(await pgbrKeysFor('shop', { keychain })).toEqual({ repoPassphrase: 'for-every-stanza' });
    await keychain.set('pgbackrest:shop', 'for-shop');
    expect(await pgbrKeysFor('shop', { keychain })).toEqual({ repoPassphrase: 'for-shop' });
    const f = join(dir, 'pgbr-pass');
    writeFileSync(f, 'from-the-file\n');
    expect(await pgbrKeysFor('shop', { passphraseFile: f, keychain })).toEqual({ repoPassphrase: 'from-the-file' });
    expect(await pgbrKeysFor('shop')).toEqual({ repoPassphrase: null });
  }, 5000);

  it('the file given for the run wins; then the keychain, scoped, then the default; a keychain that is unavailable is "not found"', async () => {
    const store = new MemoryCredentialStore();
    await store.set('restic:repo1', 'from-keychain-scoped');
    await store.set('restic:default', 'from-keychain-default');
    await store.set('openssl:default', 'enc-default');
    const pw = join(dir, 'pw');
    writeFileSync(pw, 'from-file\n');
    expect(await foreignSecrets({ keychain: store, files: { passwordFile: pw } }).get('restic-password', 'repo1')).toBe(
      'from-file',
    );
    const s = foreignSecrets({ keychain: store });
    expect(await s.get('restic-password', 'repo1')).toBe('from-keychain-scoped');
    expect(await s.get('restic-password', 'other')).toBe('from-keychain-default');
    expect(await s.get('pgbackrest-cipher', 'shop')).toBeNull();
    // --passphrase-file serves pgBackRest and OpenSSL, not restic.
    expect(await foreignSecrets({ keychain: store, files: { passphraseFile: pw } }).get('openssl-enc', 'x')).toBe(
      'from-file',
    );
    expect(
      await foreignSecrets({ keychain: store, files: { passphraseFile: pw } }).get('restic-password', 'nope'),
    ).toBe('from-keychain-default');
    const locked = {
      get: (): Promise<string | null> =>
        Promise.reject(new LifeboatError('CREDENTIAL_UNAVAILABLE', 'The OS keychain is locked.')),
    };
    expect(await foreignSecrets({ keychain: locked }).get('restic-password', 'r')).toBeNull();
    expect(needsSecret('restic-password', 'repo 1')).toMatch(
      /--password-file <file> or stored in the keychain \(lifeboat credentials add restic repo_1 --from-file <file>\)/,
    );
    const { redactText } = await import('../../electron/engine/log/redact');
    expect(redactText(needsSecret('restic-password', 'r'))).toBe(needsSecret('restic-password', 'r'));
  }, 5000);
});
