import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { startSecretService, type SecretService } from '../helpers/secret-service';
import { tempDir } from '../helpers/temp';

/**
 * A restic password kept in the OS keychain (a real Secret Service on a private D-Bus): stored with
 * `lifeboat credentials add` from a file, then the scan reads the repository without any file named.
 */
let service: SecretService;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  service = await startSecretService();
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
}, 60_000);

afterAll(async () => {
  await service?.stop();
  dir?.cleanup();
});

describe('foreign secrets in the keychain', () => {
  it('credentials add (from a file) → the scan opens the restic repository with no --password-file', () => {
    const medium = join(dir.path, 'usb');
    mkdirSync(medium);
    const pw = join(dir.path, 'pw');
    writeFileSync(pw, 'kept-in-the-keychain\n');
    const src = join(dir.path, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), 'alpha');
    const renv = { ...process.env, RESTIC_PASSWORD_FILE: pw };
    execFileSync('restic', ['-r', join(medium, 'nas-repo'), 'init'], { env: renv, stdio: 'pipe' });
    execFileSync('restic', ['-r', join(medium, 'nas-repo'), 'backup', '--host', 'nas', '.'], {
      env: renv,
      cwd: src,
      stdio: 'pipe',
    });
    expect(lifeboat(env, 'scan', medium).status).toBe(2);
    const add = lifeboat(env, 'credentials', 'add', 'restic', 'nas-repo', '--from-file', pw);
    expect(add.status, add.stderr).toBe(0);
    expect(add.stdout + add.stderr).not.toContain('kept-in-the-keychain');
    expect(json<string[]>(lifeboat(env, 'credentials', 'list', '--json'))).toEqual(['restic:nas-repo']);
    const r = lifeboat(env, 'scan', medium, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(json<{ foreign: { restic: number } }>(r).foreign.restic).toBe(1);
    expect(lifeboat(env, 'credentials', 'remove', 'restic', 'nas-repo').status).toBe(0);
    expect(lifeboat(env, 'scan', medium).status).toBe(2);
    // A secret is never taken from the command line.
    expect(lifeboat(env, 'credentials', 'add', 'restic', 'nas-repo').status).toBe(2);
  }, 120_000);

  it('a MySQL password: credentials add mysql <target> from a file; backup mysql --credential names a reference with nothing stored', () => {
    const pw = join(dir.path, 'mysql-pw');
    writeFileSync(pw, 'mysql-secret-kept\n');
    const add = lifeboat(env, 'credentials', 'add', 'mysql', 'shop-db', '--from-file', pw);
    expect(add.status, add.stderr).toBe(0);
    expect(add.stdout + add.stderr).not.toContain('mysql-secret-kept');
    expect(json<string[]>(lifeboat(env, 'credentials', 'list', '--json'))).toContain('mysql:shop-db');
    // A name is needed: it is what --credential mysql:<name> refers to.
    const unnamed = lifeboat(env, 'credentials', 'add', 'mysql', '--from-file', pw);
    expect(unnamed.status).toBe(2);
    expect(unnamed.stderr).toMatch(/needs a name/);
    const r = lifeboat(
      env,
      'backup',
      'mysql',
      '--system',
      'shop',
      '--db',
      'mysql://backup@127.0.0.1:1/shop',
      '--credential',
      'mysql:other-db',
      '--to',
      join(dir.path, 'no-medium'),
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/No secret is stored for mysql:other-db/);
    expect(lifeboat(env, 'credentials', 'remove', 'mysql', 'shop-db').status).toBe(0);
  }, 60_000);
});
