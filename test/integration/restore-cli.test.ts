import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat, lifeboatAsync } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { fingerprint, loadSampleData } from '../helpers/sample-data';
import { keyedMedium } from '../helpers/keyed-medium';
import { tempDir } from '../helpers/temp';

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let signKey: string;
let recipient: string;
let source: Record<string, string>;
let src: string;
let pgSet: string;
let filesSet: string;
let unsignedSet: string;

/** A backup, named by its whole key: two systems backed up in the same second share a bare set id. */
function backup(...args: string[]): string {
  const r = lifeboat(env, 'backup', ...args, '--to', medium, '--recipient', recipient, '--json');
  expect(r.status, r.stderr).toBe(0);
  return `${args[args.indexOf('--system') + 1]}/${json<{ set_id: string }>(r).set_id}`;
}

/** Journal events of a run, straight from the catalog. */
function journal(runId: string): Array<{ type: string; data: string }> {
  const db = new Database(join(env.LIFEBOAT_HOME!, 'catalog.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT type, data_json AS data FROM journal WHERE run_id = ? ORDER BY seq').all(runId) as Array<{
      type: string;
      data: string;
    }>;
  } finally {
    db.close();
  }
}

interface Result {
  ok: boolean;
  run: string;
  status: string;
  output: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  report: string | null;
}

beforeAll(async () => {
  dir = tempDir();
  pg = await startPostgres();
  await loadSampleData(pg.url());
  source = await fingerprint(pg.url());
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  ({ medium, identity, signKey, recipient } = keyedMedium(env, dir.path, { sign: false }));
  src = join(dir.path, 'app');
  mkdirSync(join(src, 'uploads', 'deep'), { recursive: true });
  mkdirSync(join(src, 'conf'), { recursive: true });
  writeFileSync(join(src, 'uploads', 'a.pdf'), 'alpha '.repeat(1000));
  writeFileSync(join(src, 'uploads', 'deep', 'b.bin'), Buffer.alloc(70_000, 7));
  writeFileSync(join(src, 'conf', 'app.conf'), 'listen = 8080\n');
  // Whole keys: two systems backed up in the same second share a bare set id, which is refused as ambiguous.
  pgSet = backup('pg', '--system', 'shop', '--db', pg.url(), '--sign-key', signKey);
  filesSet = backup('files', '--system', 'shop', '--path', src, '--sign-key', signKey);
  unsignedSet = backup('files', '--system', 'loose', '--path', src);
}, 240_000);

afterAll(async () => {
  await pg?.destroy();
  dir?.cleanup();
});

const admin = (): string => pg.url().replace(/\/[^/]*$/, '/postgres');
const dbUrl = (name: string): string => pg.url().replace(/\/[^/]*$/, `/${name}`);
const exists = async (name: string): Promise<boolean> =>
  (await query(admin(), 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;

describe('lifeboat restore pg', () => {
  it('restores into a new database as a journaled run with a report, and removes the decoded dump', async () => {
    const r = await lifeboatAsync(
      env,
      'restore',
      'pg',
      pgSet,
      '--target',
      admin(),
      '--database',
      'restored_a',
      '--identity',
      identity,
      '--jobs',
      '2',
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const res = json<Result>(r);
    expect(res.ok).toBe(true);
    expect(res.output!.trust).toMatch(/^signed by /);
    expect(await fingerprint(dbUrl('restored_a'))).toEqual(source);
    expect(res.report && existsSync(res.report)).toBe(true);
    const types = journal(res.run).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['run.created', 'step.started', 'step.finished', 'run.finished']));
    expect(existsSync(join(env.LIFEBOAT_HOME!, 'runs', res.run))).toBe(false);
  }, 120_000);

  it('--dry-run changes nothing; an existing database is refused without --confirm-overwrite (exit 2) and replaced with it', async () => {
    const dry = await lifeboatAsync(
      env,
      'restore',
      'pg',
      pgSet,
      '--target',
      admin(),
      '--database',
      'restored_b',
      '--identity',
      identity,
      '--dry-run',
    );
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/Would restore .* a new database restored_b/s);
    expect(await exists('restored_b')).toBe(false);

    await query(admin(), 'CREATE DATABASE restored_b');
    await query(dbUrl('restored_b'), 'CREATE TABLE keep_me (x int)');
    const mistyped = await lifeboatAsync(
      env,
      'restore',
      'pg',
      pgSet,
      '--target',
      admin(),
      '--database',
      'restored_b',
      '--as-superuser',
      'restored_x',
    );
    expect(mistyped.status).toBe(2);
    expect(mistyped.stderr).toMatch(/--as-superuser must repeat the database name/);
    const refused = await lifeboatAsync(
      env,
      'restore',
      'pg',
      pgSet,
      '--target',
      admin(),
      '--database',
      'restored_b',
      '--identity',
      identity,
    );
    expect(refused.status, refused.stdout + refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/already exists/);
    expect(
      await query(dbUrl('restored_b'), "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'"),
    ).toEqual([{ n: 1 }]);

    const wrong = await lifeboatAsync(
      env,
      'restore',
      'pg',
      pgSet,
      '--target',
      admin(),
      '--database',
      'restored_b',
      '--confirm-overwrite',
      'restored_x',
    );
    expect(wrong.status).toBe(2);
    // restored_b is owned by postgres, a superuser: restoring for it is the explicit superuser path (docs/security.md).
    const owned = await lifeboatAsync(
      env,
      'restore',
      'pg',
      pgSet,
      '--target',
      admin(),
      '--database',
      'restored_b',
      '--identity',
      identity,
      '--confirm-overwrite',
      'restored_b',
    );
    expect(owned.status, owned.stdout + owned.stderr).toBe(1);
    expect(owned.stderr).toMatch(/is a superuser.*--as-superuser restored_b|--as-superuser <database>/s);
    expect(
      await query(dbUrl('restored_b'), "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'"),
    ).toEqual([{ n: 1 }]);
    const ok = await lifeboatAsync(
      env,
      'restore',
      'pg',
      pgSet,
      '--target',
      admin(),
      '--database',
      'restored_b',
      '--identity',
      identity,
      '--confirm-overwrite',
      'restored_b',
      '--as-superuser',
      'restored_b',
    );
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(await fingerprint(dbUrl('restored_b'))).toEqual(source);
    expect(
      await query(dbUrl('restored_b'), "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'keep_me'"),
    ).toEqual([{ n: 1 }]);

    // An application's database owned by a plain role: the restore role is lent that owner's membership, no superuser path needed.
    await query(admin(), 'CREATE ROLE app_owner');
    await query(admin(), 'CREATE DATABASE restored_d OWNER app_owner');
    const plain = await lifeboatAsync(
      env,
      'restore',
      'pg',
      pgSet,
      '--target',
      admin(),
      '--database',
      'restored_d',
      '--identity',
      identity,
      '--confirm-overwrite',
      'restored_d',
      '--json',
    );
    expect(plain.status, plain.stdout + plain.stderr).toBe(0);
    expect(json<{ output: { restored_as: string } }>(plain).output.restored_as).toBe('lifeboat_restore');
    expect(await fingerprint(dbUrl('restored_d'))).toEqual(source);
  }, 180_000);

  it('a restore that fails drops the database it created, and says so', async () => {
    // Every new database copies template1: a table there that the dump also creates makes pg_restore fail.
    const table = 'customers';
    await query(pg.url().replace(/\/[^/]*$/, '/template1'), `CREATE TABLE public.${table} (x int)`);
    try {
      const r = await lifeboatAsync(
        env,
        'restore',
        'pg',
        pgSet,
        '--target',
        admin(),
        '--database',
        'restored_c',
        '--identity',
        identity,
        '--json',
      );
      expect(r.status, r.stdout + r.stderr).toBe(1);
      const res = json<Result>(r);
      expect(res.error!.code).toBe('DB_RESTORE_FAILED');
      expect(res.error!.message).toMatch(/restored_c that this restore created was dropped/);
      expect(await exists('restored_c')).toBe(false);
      const runId = res.run;
      // The decoded dump went with the failure; the run can be ended.
      expect(readdirSync(join(env.LIFEBOAT_HOME!, 'runs', runId)).filter((n) => !n.startsWith('.'))).toEqual([]);
      expect(lifeboat(env, 'run', '--cancel', runId, '--reason', 'test').status).toBe(0);
    } finally {
      await query(pg.url().replace(/\/[^/]*$/, '/template1'), `DROP TABLE public.${table}`);
    }
  }, 120_000);

  it('a password in --target is refused before anything runs', () => {
    const r = lifeboat(
      env,
      'restore',
      'pg',
      pgSet,
      '--target',
      'postgres://u:s3cret@127.0.0.1:1/postgres',
      '--database',
      'x',
    );
    expect(r.status).toBe(2);
    expect(r.stderr).not.toContain('s3cret');
  });

  it('a seed-script set never verified here is refused without the override, not "gone"; nothing is created', async () => {
    const seed = join(dir.path, 'seed');
    mkdirSync(seed);
    writeFileSync(join(seed, 'postgres_legacy_20260101_020000.sql.gz'), gzipSync('CREATE TABLE t (x int);\n'));
    expect(lifeboat(env, 'scan', seed).status).toBe(0);
    const r = await lifeboatAsync(
      env,
      'restore',
      'pg',
      'legacy/20260101T020000-pg-logical-seed',
      '--target',
      admin(),
      '--database',
      'from_seed',
    );
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/was never verified successfully here/);
    expect(r.stderr).toMatch(/lifeboat verify/);
    expect(await exists('from_seed')).toBe(false);
  }, 60_000);
});

describe('lifeboat restore files', () => {
  it('restores a set into an empty folder; --path picks a subtree', () => {
    const to = join(dir.path, 'out-all');
    const r = lifeboat(env, 'restore', 'files', filesSet, '--to', to, '--identity', identity, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const base = join(to, 'app');
    expect(readFileSync(join(base, 'uploads', 'deep', 'b.bin'))).toEqual(Buffer.alloc(70_000, 7));
    expect(readFileSync(join(base, 'conf', 'app.conf'), 'utf8')).toBe('listen = 8080\n');
    // The folder the restore made has the usual mode (as mkdir -p), not the staging folder's 0700.
    expect((statSync(to).mode & 0o777).toString(8)).toBe((0o777 & ~process.umask()).toString(8));

    const some = join(dir.path, 'out-some');
    const p = lifeboat(
      env,
      'restore',
      'files',
      filesSet,
      '--to',
      some,
      '--identity',
      identity,
      '--path',
      'app/uploads',
    );
    expect(p.status, p.stdout + p.stderr).toBe(0);
    expect(existsSync(join(some, 'app', 'uploads', 'deep', 'b.bin'))).toBe(true);
    expect(existsSync(join(some, 'app', 'conf'))).toBe(false);
    expect(
      lifeboat(
        env,
        'restore',
        'files',
        filesSet,
        '--to',
        join(dir.path, 'out-none'),
        '--identity',
        identity,
        '--path',
        'nothing/here',
      ).status,
    ).toBe(1);
  }, 60_000);

  it('a non-empty folder needs --into-existing, which never replaces a file without --overwrite', () => {
    const to = join(dir.path, 'out-existing');
    mkdirSync(join(to, 'app', 'conf'), { recursive: true });
    writeFileSync(join(to, 'app', 'conf', 'app.conf'), 'local edit\n');
    writeFileSync(join(to, 'mine.txt'), 'mine');
    const refused = lifeboat(env, 'restore', 'files', filesSet, '--to', to, '--identity', identity);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/not empty/);
    const dry = lifeboat(
      env,
      'restore',
      'files',
      filesSet,
      '--to',
      to,
      '--identity',
      identity,
      '--into-existing',
      '--dry-run',
    );
    expect(dry.stdout).toMatch(/1 already exist there/);
    const kept = lifeboat(
      env,
      'restore',
      'files',
      filesSet,
      '--to',
      to,
      '--identity',
      identity,
      '--into-existing',
      '--json',
    );
    expect(kept.status, kept.stdout + kept.stderr).toBe(1);
    expect(json<Result>(kept).error).toMatchObject({
      code: 'ALREADY_EXISTS',
      message: expect.stringMatching(/app\/conf\/app\.conf. Nothing was moved/),
    });
    expect(readFileSync(join(to, 'app', 'conf', 'app.conf'), 'utf8')).toBe('local edit\n');
    expect(existsSync(join(to, 'app', 'uploads'))).toBe(false);
    expect(readdirSync(to).sort()).toEqual(['app', 'mine.txt']);
    const over = lifeboat(
      env,
      'restore',
      'files',
      filesSet,
      '--to',
      to,
      '--identity',
      identity,
      '--into-existing',
      '--overwrite',
    );
    expect(over.status, over.stdout + over.stderr).toBe(0);
    expect(readFileSync(join(to, 'app', 'conf', 'app.conf'), 'utf8')).toBe('listen = 8080\n');
    expect(readFileSync(join(to, 'mine.txt'), 'utf8')).toBe('mine');
  }, 60_000);

  it('an unsigned set is refused (exit 1, nothing placed) unless --allow-unsigned, which the journal records', () => {
    const to = join(dir.path, 'out-unsigned');
    const r = lifeboat(env, 'restore', 'files', unsignedSet, '--to', to, '--identity', identity, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(json<Result>(r).error).toMatchObject({
      code: 'UNTRUSTED_SIGNER',
      message: expect.stringMatching(/not signed/),
    });
    expect(existsSync(to) ? readdirSync(to) : []).toEqual([]);
    const ok = lifeboat(
      env,
      'restore',
      'files',
      unsignedSet,
      '--to',
      to,
      '--identity',
      identity,
      '--allow-unsigned',
      '--json',
    );
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    const started = journal(json<Result>(ok).run).find((e) => e.type === 'step.started')!;
    expect(JSON.parse(started.data).params.allow_unsigned).toBe(true);
    expect(existsSync(join(to, 'app', 'uploads', 'a.pdf'))).toBe(true);
  }, 60_000);
});
