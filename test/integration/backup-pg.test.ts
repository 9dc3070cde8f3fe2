import { execFileSync, execSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { fingerprint, loadSampleData } from '../helpers/sample-data';
import { keyedMedium } from '../helpers/keyed-medium';
import { tempDir } from '../helpers/temp';

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let recipient: string;
const keys = { sign: '', identity: '' };
let source: Record<string, string>;

beforeAll(async () => {
  dir = tempDir();
  pg = await startPostgres();
  await query(pg.url(), 'CREATE DATABASE shop');
  await loadSampleData(pg.url('shop'));
  source = await fingerprint(pg.url('shop'));
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  const keyed = keyedMedium(env, dir.path, { medium: 'usb', label: 'usb-1', identity: 'laptop.age', trust: false });
  ({ medium, recipient } = keyed);
  keys.sign = keyed.signKey;
  keys.identity = keyed.identity;
});
afterAll(async () => {
  await pg.destroy();
  dir.cleanup();
});

function sh(cmd: string, cwd: string): string {
  return execSync(cmd, {
    cwd,
    encoding: 'utf8',
    shell: '/bin/bash',
    env: { ...process.env, PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres' },
  });
}

describe('backup pg, then restore by hand with sha256sum, openssl, age, zstd, pg_restore', () => {
  let set: {
    set_id: string;
    path: string;
    artifacts: Array<{ path: string; sha256: string }>;
    signed_by: string;
    suspicious: boolean;
  };

  it('makes a signed, encrypted set and reports it as JSON', () => {
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'shop-db',
      '--db',
      pg.url('shop'),
      '--to',
      medium,
      '--recipient',
      recipient,
      '--sign-key',
      keys.sign,
      '--tier',
      'critical',
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    set = json(r);
    expect(set.set_id).toMatch(/^\d{8}T\d{6}Z-pg-logical$/);
    expect(set.artifacts.map((a) => a.path)).toEqual(['db.dump.zst.age']);
    expect(set.suspicious).toBe(false); // the ransomware indicator (a first set has no history to jump against)
  });

  it('passes sha256sum -c and openssl signature verification', () => {
    const setDir = join(medium, set.path);
    expect(sh('sha256sum -c SHA256SUMS', setDir)).toContain('db.dump.zst.age: OK');
    sh(`tail -n1 manifest.json.sig | base64 -d > ${dir.path}/sig.bin`, setDir);
    expect(
      sh(
        `openssl pkeyutl -verify -pubin -inkey ${keys.sign}.pub -rawin -in manifest.json -sigfile ${dir.path}/sig.bin`,
        setDir,
      ),
    ).toMatch(/Signature Verified Successfully/);
    const head = readFileSync(join(setDir, 'manifest.json.sig'), 'utf8').split('\n')[0];
    expect(head).toBe(`lifeboat-signature/1 ed25519 ${set.signed_by}`);
  });

  it('decrypts and lists the dump with age | zstd | pg_restore -l', () => {
    const list = sh(`age -d -i ${keys.identity} db.dump.zst.age | zstd -d | pg_restore -l`, join(medium, set.path));
    for (const table of ['customers', 'orders', 'uploads']) expect(list).toMatch(new RegExp(`TABLE public ${table}`));
  });

  it('restores into a new database with the same row counts and checksums', async () => {
    await query(pg.url(), 'CREATE DATABASE shop_restored');
    sh(
      `age -d -i ${keys.identity} db.dump.zst.age | zstd -d > ${dir.path}/db.dump && pg_restore -d shop_restored --no-owner ${dir.path}/db.dump`,
      join(medium, set.path),
    );
    expect(await fingerprint(pg.url('shop_restored'))).toEqual(source);
  });

  it('records the set in the catalog', () => {
    const info = json<{ catalog: { sets: number; media: number } }>(lifeboat(env, 'info', '--json'));
    expect(info.catalog.sets).toBeGreaterThanOrEqual(1);
    expect(info.catalog.media).toBe(1);
    // Its trend point: the dump's share that does not compress was measured (docs/trends.md), not a gap.
    const trend = json<Array<{ points: Array<{ setId: string; incompressibleShare: number | null }> }>>(
      lifeboat(env, 'systems', '--trend', '--system', 'shop-db', '--json'),
    );
    const point = trend[0]!.points.find((p) => p.setId === set.set_id)!;
    expect(point.incompressibleShare).toBeGreaterThanOrEqual(0);
    expect(point.incompressibleShare).toBeLessThan(0.5);
  });
});

describe('backup pg in directory format with parallel jobs', () => {
  it('restores by hand with pg_restore -j', async () => {
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'shop-db',
      '--db',
      pg.url('shop'),
      '--to',
      medium,
      '--recipient',
      recipient,
      '--format',
      'directory',
      '--jobs',
      '2',
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const set = json<{ path: string; artifacts: Array<{ path: string }> }>(r);
    expect(set.artifacts[0]!.path).toBe('db.dir.tar.zst.age');
    const out = join(dir.path, 'dirdump');
    mkdirSync(out);
    sh(`age -d -i ${keys.identity} db.dir.tar.zst.age | zstd -d | tar -xf - -C ${out}`, join(medium, set.path));
    await query(pg.url(), 'CREATE DATABASE shop_parallel');
    sh(`pg_restore -j 2 -d shop_parallel --no-owner ${out}/dump`, dir.path);
    expect(await fingerprint(pg.url('shop_parallel'))).toEqual(source);
  });
});

describe('bad input: a clear error, the right exit code, nothing half-written', () => {
  const sets = (): string[] =>
    existsSync(join(medium, 'sets/bad-db')) ? readdirSync(join(medium, 'sets/bad-db')) : [];

  it('an unreachable database exits 2', () => {
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'bad-db',
      '--db',
      'postgres://postgres@127.0.0.1:1/shop',
      '--to',
      medium,
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot be reached/);
    expect(sets()).toEqual([]);
  });

  it('a wrong password exits 2 and the password appears nowhere', async () => {
    await query(pg.url(), "CREATE ROLE guarded LOGIN PASSWORD 'right-one'; GRANT CONNECT ON DATABASE shop TO guarded");
    await query(pg.url('shop'), 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO guarded');
    const hba = join(pg.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `host all guarded 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await query(pg.url(), 'SELECT pg_reload_conf()');
    const r = lifeboat(
      { ...env, PGPASSWORD: 'wrong-secret-123' },
      'backup',
      'pg',
      '--system',
      'bad-db',
      '--db',
      pg.url('shop').replace('postgres@', 'guarded@'),
      '--to',
      medium,
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refused the credentials/);
    expect(r.stderr + r.stdout).not.toContain('wrong-secret-123');
    const logs = readdirSync(join(dir.path, 'home/logs'))
      .map((f) => readFileSync(join(dir.path, 'home/logs', f), 'utf8'))
      .join('');
    expect(logs).not.toContain('wrong-secret-123');
    expect(sets()).toEqual([]);
  });

  it('a password in the URL never reaches argv of pg_dump, logs or output', () => {
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'bad-db',
      '--db',
      pg.url('shop').replace('postgres@', 'guarded:right-one@'),
      '--to',
      medium,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('right-one');
    const logs = readdirSync(join(dir.path, 'home/logs'))
      .map((f) => readFileSync(join(dir.path, 'home/logs', f), 'utf8'))
      .join('');
    expect(logs).not.toContain('right-one');
    const manifest = readFileSync(join(medium, json<{ path: string }>(r).path, 'manifest.json'), 'utf8');
    expect(manifest).not.toContain('right-one');
  });

  it('a missing pg_dump exits 2', () => {
    const empty = join(dir.path, 'no-tools');
    mkdirSync(empty, { recursive: true });
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'other-db',
      '--db',
      pg.url('shop'),
      '--to',
      medium,
      '--pg-bin',
      empty,
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/pg_dump was not found/);
  });

  it('a pg_dump older than the server exits 2 with server version mismatch', () => {
    const old = join(dir.path, 'old-tools');
    mkdirSync(old, { recursive: true });
    writeFileSync(join(old, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n');
    chmodSync(join(old, 'pg_dump'), 0o755);
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'other-db',
      '--db',
      pg.url('shop'),
      '--to',
      medium,
      '--pg-bin',
      old,
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/server version mismatch/);
  });

  it('a malformed recipient and an unreadable signing key exit 2', () => {
    let r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'other-db',
      '--db',
      pg.url('shop'),
      '--to',
      medium,
      '--recipient',
      'age1garbage',
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Not an age X25519 recipient/);
    writeFileSync(join(dir.path, 'junk.pem'), 'not a key');
    r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'other-db',
      '--db',
      pg.url('shop'),
      '--to',
      medium,
      '--sign-key',
      join(dir.path, 'junk.pem'),
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/signing key is not a readable PEM/);
  });

  it('a folder that is not a medium is refused with how to init it', () => {
    mkdirSync(join(dir.path, 'not-a-medium'));
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'other-db',
      '--db',
      pg.url('shop'),
      '--to',
      join(dir.path, 'not-a-medium'),
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/lifeboat medium init/);
  });

  it('a medium that fills up fails with STORAGE_FULL and leaves nothing', () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a tiny tmpfs and must run as root (CI does)');
    const small = join(dir.path, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]);
    try {
      expect(lifeboat(env, 'medium', 'init', small, '--label', 'tiny').status).toBe(0);
      const r = lifeboat(env, 'backup', 'pg', '--system', 'shop-db', '--db', pg.url('shop'), '--to', small, '--json');
      expect(r.status).toBe(1);
      expect(json<{ error: { code: string } }>(r).error.code).toBe('STORAGE_FULL');
      // Nothing half-written, and not even the system's folder this failed backup made (issue 22).
      expect(existsSync(join(small, 'sets/shop-db'))).toBe(false);
      expect(readdirSync(join(small, 'sets'))).toEqual([]);
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('a read-only medium fails with a clear error and leaves nothing', () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a read-only tmpfs and must run as root (CI does)');
    const ro = join(dir.path, 'ro');
    mkdirSync(ro);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', ro]);
    try {
      expect(lifeboat(env, 'medium', 'init', ro, '--label', 'ro').status).toBe(0);
      execFileSync('mount', ['-o', 'remount,ro', ro]);
      const r = lifeboat(env, 'backup', 'pg', '--system', 'shop-db', '--db', pg.url('shop'), '--to', ro);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/Permission denied/);
    } finally {
      execFileSync('umount', [ro]);
    }
  });
});
