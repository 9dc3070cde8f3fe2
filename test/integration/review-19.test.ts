import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat, lifeboatAsync } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { nextSecond } from '../helpers/clock';
import { pgbackrestArchivePush, pgbackrestConfig } from '../helpers/pgbackrest';
import { tempDir } from '../helpers/temp';
import { chownForPostgres, switchAndArchive } from '../helpers/wal-archiving';

/**
 * Review of issue 19 as a hostile tester, on real artifacts made here: a restic repository scanned at
 * its own root, a pgBackRest archive with a damaged WAL segment in the middle of a chain, and seed
 * dumps that hide psql meta-commands where the line filter does not look.
 */
let dir: ReturnType<typeof tempDir>;
let pg: ScratchCluster;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dir = tempDir();
  pg = await startPostgres({ wal_level: 'replica' });
}, 60_000);

afterAll(async () => {
  await pg?.destroy();
  dir?.cleanup();
});

describe('restic repository scanned at its own root', () => {
  it('is cataloged (not "Unsafe path in the set: .") and names its missing password with exit 2', () => {
    const repo = join(dir.path, 'restic-root');
    const src = join(dir.path, 'restic-src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'f.txt'), 'data\n');
    const pw = join(dir.path, 'restic-pw');
    writeFileSync(pw, 'correct horse\n', { mode: 0o600 });
    const renv = { ...process.env, RESTIC_PASSWORD_FILE: pw };
    execFileSync('restic', ['-r', repo, 'init'], { env: renv, stdio: 'pipe' });
    execFileSync('restic', ['-r', repo, 'backup', src], { env: renv, stdio: 'pipe' });
    const env = { LIFEBOAT_HOME: join(dir.path, 'home-restic') };
    const none = lifeboat(env, 'scan', repo);
    expect(none.status, none.stdout + none.stderr).toBe(2);
    expect(none.stdout).toMatch(/NEEDS \.: restic repository/);
    expect(none.stdout + none.stderr).not.toMatch(/Unsafe path/);
    const ok = lifeboat(env, 'scan', repo, '--password-file', pw);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/1 restic snapshots/);
    const sets = json<Array<{ key: string }>>(lifeboat(env, 'sets', '--json'));
    expect(sets).toHaveLength(1);
  }, 60_000);
});

describe('pgBackRest archive with a damaged segment', () => {
  let repo = '';
  let target = '';

  beforeAll(async () => {
    repo = join(dir.path, 'pgbr-repo');
    mkdirSync(repo);
    chownForPostgres(dir.path);
    const pgbr = pgbackrestConfig({
      dir: dir.path,
      pg,
      global: [`repo1-path=${repo}`, 'repo1-retention-full=2'],
    });
    await query(pg.url(), `ALTER SYSTEM SET archive_mode = 'on'`);
    await query(
      pg.url(),
      `ALTER SYSTEM SET archive_command = '${pgbackrestArchivePush(dir.path).replace('"$1"', '%p')}'`,
    );
    await pg.stopServer('fast');
    await pg.startServer({ settings: { wal_level: 'replica' } });
    pgbr.ok('stanza-create');
    await query(
      pg.url(),
      'CREATE TABLE marks (tag text PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())',
    );
    pgbr.ok('backup', '--type=full');
    // Two segments after the backup, each with a commit; the target sits in the last, between its two commits.
    await query(pg.url(), "INSERT INTO marks (tag) VALUES ('one')");
    await switchAndArchive(pg);
    await nextSecond();
    await query(pg.url(), "INSERT INTO marks (tag) VALUES ('two')");
    await sleep(600);
    target = new Date().toISOString();
    await sleep(600);
    await query(pg.url(), "INSERT INTO marks (tag) VALUES ('three')");
    await switchAndArchive(pg);
  }, 120_000);

  it('pitr plan: a target past a segment that fails its SHA-1 is outside the window, exit 1, naming the segment', () => {
    const env = { LIFEBOAT_HOME: join(dir.path, 'home-pgbr') };
    // Foreign sets are counted as new on the first scan, unchanged on the next (not "1 sets: 0 new, 0 unchanged").
    const first = lifeboat(env, 'scan', repo);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/1 sets: 1 new, 0 updated, 0 unchanged/);
    // pgBackRest's own backup/<stanza>/latest link is no finding.
    expect(first.stdout).not.toMatch(/symbolic link/);
    expect(lifeboat(env, 'scan', repo).stdout).toMatch(/1 sets: 0 new, 0 updated, 1 unchanged/);
    const good = lifeboat(env, 'pitr', 'plan', '--system', 'shop', '--from', repo, '--target-time', target);
    expect(good.status, good.stdout + good.stderr).toBe(0);
    expect(good.stdout).toMatch(/INSIDE the window/);
    // The last segment (holding 'two' and 'three', the target's), damaged in place, its name (and SHA-1) kept:
    // the plan reads it for the window's last commit, so it knows the window ends before it.
    const base = join(repo, 'archive', 'shop', '15-1', '0000000100000000');
    const stored = readdirSync(base)
      .filter((f) => /^[0-9A-F]{24}-[0-9a-f]{40}\.gz$/.test(f))
      .sort();
    expect(stored.length).toBeGreaterThanOrEqual(3);
    const victim = stored[stored.length - 1]!;
    const bytes = readFileSync(join(base, victim));
    bytes.write('XXXXXXXX', 100, 'latin1');
    writeFileSync(join(base, victim), bytes);
    const bad = lifeboat(env, 'pitr', 'plan', '--system', 'shop', '--from', repo, '--target-time', target);
    expect(bad.status, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/OUTSIDE the window/);
    expect(bad.stdout).toContain(`${victim.slice(0, 24)} cannot be used`);
    // Said once, not once per base backup that reads it.
    expect(bad.stdout.split(`${victim.slice(0, 24)} cannot be used:`).length).toBe(2);
  }, 60_000);

  it('verify after both copies of backup.info are damaged: exit 1 naming the repository, not "no Lifeboat medium here"', () => {
    const copy = join(dir.path, 'pgbr-copy');
    cpSync(repo, copy, { recursive: true });
    const env = { LIFEBOAT_HOME: join(dir.path, 'home-pgbr-info') };
    const first = lifeboat(env, 'verify', copy, '--level', 'integrity');
    expect(first.status, first.stdout + first.stderr).toBe(0);
    for (const f of ['backup.info', 'backup.info.copy']) writeFileSync(join(copy, 'backup', 'shop', f), 'garbage\n');
    const r = lifeboat(env, 'verify', copy, '--level', 'integrity');
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/the 1 set cataloged from .* is gone or unreadable now/);
    expect(r.stderr).toMatch(/pgBackRest repository shop with an unreadable backup\.info/);
    expect(r.stderr).not.toMatch(/No Lifeboat medium here/);
    // Never cataloged here: still refused as no medium (exit 2), but saying what the scan saw.
    const fresh = lifeboat({ LIFEBOAT_HOME: join(dir.path, 'home-pgbr-fresh') }, 'verify', copy);
    expect(fresh.status).toBe(2);
    expect(fresh.stderr).toMatch(/the scan saw backup\/shop\/backup\.info: pgBackRest repository shop/);
  }, 60_000);
});

describe('never a silent zero: links on a medium', () => {
  it('a seed dump that is a symbolic link to a file of this machine is not read, and the scan says it saw the link', () => {
    const folder = join(dir.path, 'linked', 'db');
    mkdirSync(folder, { recursive: true });
    const secret = join(dir.path, 'laptop-secret.txt');
    writeFileSync(secret, 'SECRETLINE hunter2\n');
    symlinkSync(secret, join(folder, 'postgres_leak_20261202_040000.sql'));
    const env = { LIFEBOAT_HOME: join(dir.path, 'home-links') };
    const r = lifeboat(env, 'scan', join(dir.path, 'linked'));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/FOUND db\/postgres_leak_20261202_040000\.sql: 1 symbolic link not followed/);
    expect(json<unknown[]>(lifeboat(env, 'sets', '--json'))).toHaveLength(0);
  }, 60_000);
});

describe('seed dumps hiding psql meta-commands from the line filter', () => {
  it('a `\\!` after SQL on the same line, and one after a COPY line inside a string, run nothing', async () => {
    const folder = join(dir.path, 'seed', 'db');
    mkdirSync(folder, { recursive: true });
    const marker = join(dir.path, 'pwned');
    const head = '--\n-- PostgreSQL database dump\n--\n\n';
    const tail = '\n--\n-- PostgreSQL database dump complete\n--\n\n';
    writeFileSync(
      join(folder, 'postgres_mid_20261202_040000.sql'),
      `${head}CREATE TABLE t (x int);\nSELECT 1; \\! touch ${marker}.mid\n${tail}`,
    );
    writeFileSync(
      join(folder, 'postgres_copy_20261202_040000.sql'),
      `${head}CREATE TABLE t (x int);\nSELECT 'x\nCOPY t FROM stdin;\n';\n\\! touch ${marker}.copy\n\\o |touch ${marker}.o\n${tail}`,
    );
    const env = { LIFEBOAT_HOME: join(dir.path, 'home-seed') };
    expect(lifeboat(env, 'scan', join(dir.path, 'seed')).status).toBe(0);
    const admin = pg.url().replace(/\/[^/]*$/, '/postgres');
    for (const sys of ['mid', 'copy']) {
      const r = await lifeboatAsync(
        env,
        'restore',
        'pg',
        `${sys}/20261202T040000-pg-logical-seed`,
        '--target',
        admin,
        '--database',
        `evil_${sys}`,
        '--allow-unsigned',
      );
      expect(r.status, r.stdout + r.stderr).toBe(1);
      expect(r.stdout + r.stderr).toMatch(/meta-command|backslash commands are restricted/);
      expect(await query(admin, `SELECT 1 FROM pg_database WHERE datname = 'evil_${sys}'`)).toHaveLength(0);
    }
    for (const m of ['mid', 'copy', 'o']) expect(existsSync(`${marker}.${m}`)).toBe(false);
  }, 60_000);
});
