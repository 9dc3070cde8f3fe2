import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { parseIdentityFile } from '../../electron/engine/crypto/age';
import { loadSigningKey } from '../../electron/engine/crypto/signing';
import { defaultSettings } from '../../electron/engine/settings/settings';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { sqlRestoreTest } from '../../electron/engine/verify/restore-test';
import { json, lifeboat } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { tempDir } from '../helpers/temp';

// A backup must never run its code on the machine that verifies it. The hostile databases are
// built here on a real cluster, dumped and backed up by the real CLI, then verified at restore level.

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let recipient: string;
let signKey: string;
/** Where the planted command leaves its trace: writable by the server's OS user. */
let marker: string;

interface Report {
  ok: boolean;
  results: Array<{
    key: string;
    verdict: string;
    detail: string | null;
    artifacts: Array<{ path: string; verdict: string; detail: string | null }>;
  }>;
}

function backup(database: string, system: string): string {
  const r = lifeboat(
    env,
    'backup',
    'pg',
    '--system',
    system,
    '--db',
    pg.url(database),
    '--to',
    medium,
    '--recipient',
    recipient,
    '--sign-key',
    signKey,
    '--json',
  );
  expect(r.status, r.stderr).toBe(0);
  return json<{ path: string }>(r).path;
}

/**
 * verify --json of one set. A verdict exits 0 (ok) or 1 (failed); `not-checked` is no verdict and
 * exits 2, which only the callers expecting it accept (exit: 2).
 */
function verify(set: string, level: string, o: { exit?: 2 } = {}): Report & { status: number | null } {
  const r = lifeboat(env, 'verify', join(medium, set), '--level', level, '--identity', identity, '--json');
  if (o.exit === 2) expect(r.status, r.stderr).toBe(2);
  else expect([0, 1], r.stderr).toContain(r.status);
  return { ...json<Report>(r), status: r.status };
}

/** A runbook restoring the newest set of `system` into a new database of a live (not drill) target. */
function liveRunbook(system: string, database: string): string {
  const path = join(dir.path, `live-${system}.yaml`);
  writeFileSync(
    path,
    [
      `id: live-${system}`,
      'title: Live restore',
      'description: d',
      'level: 2',
      'objectives: { rto: 1h, rpo: 24h }',
      'inputs:',
      '  - { id: target, type: postgres-target, label: Target }',
      'steps:',
      `  - { id: select, title: Select, kind: action, action: catalog.select-set, with: { system: ${system}, kind: pg-logical } }`,
      `  - { id: restore, title: Restore, kind: action, action: restore.pg-logical, with: { set: "{{ steps.select.output.key }}", target: "{{ inputs.target }}", database: ${database} } }`,
      '',
    ].join('\n'),
  );
  return path;
}

async function createDatabase(name: string, sql: string): Promise<void> {
  await query(pg.url(), `CREATE DATABASE ${name}`);
  await query(pg.url(name), sql);
}

beforeAll(async () => {
  dir = tempDir();
  pg = await startPostgres();
  marker = join(dir.path, 'marker');
  mkdirSync(marker);
  chmodSync(dir.path, 0o755);
  chmodSync(marker, 0o777);
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'medium');
  identity = join(dir.path, 'id.age');
  signKey = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb').status).toBe(0);
  recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
}, 120_000);
afterAll(async () => {
  await pg.destroy();
  dir.cleanup();
});

describe('a restore test runs no code of the backup on this machine', () => {
  it('an index on an immutable function calling COPY … TO PROGRAM: the command never runs, the verdict names it', async () => {
    // The planted command names the database it runs in, so the source's own run (when the
    // index is built here) is told apart from a run during the restore test.
    await createDatabase(
      'evil',
      `CREATE TABLE t (x int);
       INSERT INTO t SELECT generate_series(1, 3);
       CREATE FUNCTION public.evil() RETURNS int LANGUAGE plpgsql VOLATILE AS $f$
         BEGIN EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'cat > /dev/null; touch ${marker}/' || current_database()); RETURN 1; END $f$;
       CREATE FUNCTION public.innocent(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$ BEGIN PERFORM public.evil(); RETURN $1; END $f$;
       CREATE INDEX t_innocent ON t (public.innocent(x));`,
    );
    expect(readdirSync(marker)).toEqual(['evil']); // the trap works: it ran on the source
    const set = backup('evil', 'evil');
    execFileSync('rm', ['-f', join(marker, 'evil')]);
    const r = verify(set, 'restore');
    expect(r.status).toBe(1);
    expect(r.results[0]!.verdict).toBe('restore-failed');
    expect(r.results[0]!.detail).toMatch(/COPY to or from an external program/);
    expect(r.results[0]!.detail).toMatch(/non-superuser lifeboat_restore/);
    expect(readdirSync(marker)).toEqual([]);
  }, 120_000);

  it('a CHECK constraint that RESETs ROLE before COPY … TO PROGRAM (it would undo pg_restore --role): nothing runs, in a restore test or a live restore', async () => {
    // Evaluated for every row the data load copies in, outside any security-restricted
    // operation: RESET ROLE there would make a SET ROLE session superuser again.
    await createDatabase(
      'evilcheck',
      `CREATE FUNCTION public.escape() RETURNS boolean LANGUAGE plpgsql AS $f$
         BEGIN EXECUTE 'RESET ROLE'; EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'cat > /dev/null; touch ${marker}/check-' || current_database() || '-' || current_user); RETURN true; END $f$;
       CREATE TABLE u (x int CHECK (public.escape()));
       INSERT INTO u VALUES (1), (2);`,
    );
    expect(readdirSync(marker)).toEqual(['check-evilcheck-postgres']);
    const set = backup('evilcheck', 'evilcheck');
    execFileSync('rm', ['-f', join(marker, 'check-evilcheck-postgres')]);
    const r = verify(set, 'restore');
    expect(r.results[0]).toMatchObject({
      verdict: 'restore-failed',
      detail: expect.stringMatching(/COPY to or from an external program/),
    });
    expect(readdirSync(marker)).toEqual([]);
    // A live restore (a runbook step into a real server, no drill) connects as the restore role too.
    const runbook = liveRunbook('evilcheck', 'evil_restored');
    const run = lifeboat(env, 'run', runbook, '--input', `target=${pg.url()}`, '--identity', identity, '--json');
    expect(run.status).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/COPY to or from an external program/);
    expect(readdirSync(marker)).toEqual([]);
    // The restore role's login lasted only for the restore.
    expect(
      await query(pg.url(), "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'lifeboat_restore'"),
    ).toEqual([{ rolcanlogin: false, rolsuper: false }]);
  }, 180_000);

  it('a superuser-only extension (file_fdw reads server files) is reported, not installed', async () => {
    await createDatabase('fdw', `CREATE EXTENSION file_fdw; CREATE TABLE t (x int); INSERT INTO t VALUES (1);`);
    const set = backup('fdw', 'fdw');
    const r = verify(set, 'restore');
    expect(r.status).toBe(1);
    expect(r.results[0]).toMatchObject({
      verdict: 'restore-failed',
      detail: expect.stringMatching(/extension file_fdw \(superuser only\)/),
    });
    // A live restore reports it the same way, before pg_restore runs.
    const run = lifeboat(
      env,
      'run',
      liveRunbook('fdw', 'fdw_restored'),
      '--input',
      `target=${pg.url()}`,
      '--identity',
      identity,
      '--json',
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/does not install: extension file_fdw \(superuser only\)/);
    // The restore created fdw_restored and dropped it again on that failure: the target holds
    // neither the database nor, in any other, the extension.
    expect(run.stdout).toMatch(/fdw_restored that this restore created was dropped/);
    expect(await query(pg.url(), "SELECT count(*)::int AS n FROM pg_database WHERE datname = 'fdw_restored'")).toEqual([
      { n: 0 },
    ]);
  }, 120_000);

  it('an ordinary database (plpgsql, a trusted extension, views, sequences) still restores as the non-superuser role', async () => {
    await createDatabase(
      'plain',
      `CREATE EXTENSION pgcrypto;
       CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, token bytea DEFAULT gen_random_bytes(8));
       INSERT INTO customers (name) SELECT 'c' || g FROM generate_series(1, 50) g;
       CREATE FUNCTION public.shout(text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$ BEGIN RETURN upper($1); END $f$;
       CREATE INDEX customers_shout ON customers (public.shout(name));
       CREATE VIEW loud AS SELECT public.shout(name) AS name FROM customers;`,
    );
    const set = backup('plain', 'plain');
    writeFileSync(
      join(dir.path, 'home', 'settings.json'),
      JSON.stringify({ systems: { plain: { validations: [{ sql: 'SELECT count(*) FROM loud', expect: '= 50' }] } } }),
    );
    const r = verify(set, 'restore');
    expect(r.results[0]!.detail).toMatch(/measured RTO/);
    expect(r.results[0]!.verdict).toBe('ok');
    expect(r.status).toBe(0);
  }, 120_000);
});

describe('a plain SQL dump is never replayed with its psql meta-commands', () => {
  const options = (validations: Array<{ sql: string; expect: string }> = []): Parameters<typeof sqlRestoreTest>[3] => ({
    level: 'restore',
    identities: [],
    trusted: [],
    settings: { ...defaultSettings(), systems: { app: { validations } } },
    pgRestore: null,
  });
  const ctx = { signal: new AbortController().signal, log: () => undefined };
  function seed(name: string, sql: string): { medium: FolderMedium; path: string } {
    const folder = join(dir.path, name);
    mkdirSync(folder, { recursive: true });
    const path = 'postgres_app_20260101_020000.sql.gz';
    writeFileSync(join(folder, path), gzipSync(sql));
    return { medium: new FolderMedium(folder), path };
  }
  const table = 'CREATE TABLE public.t (x integer, y text);\nCOPY public.t (x, y) FROM stdin;\n1\t\\N\n2\t\\\\x\n\\.\n';

  it("a clean dump (with COPY data that starts with backslashes, and pg_dump's own \\restrict lines) replays as the restore role", async () => {
    const s = seed(
      'seed-ok',
      `\\restrict abcdef\n-- PostgreSQL database dump\nSET client_encoding = 'UTF8';\n${table}\\unrestrict abcdef\n`,
    );
    const r = await sqlRestoreTest(
      'app',
      s.medium,
      { path: s.path, role: 'sql-dump-gz' },
      options([{ sql: 'SELECT count(*) FROM t WHERE y IS NULL', expect: '= 1' }]),
      ctx,
    );
    expect(r.checks).toEqual([expect.objectContaining({ ok: true, got: '1' })]);
  }, 60_000);

  it('\\! at the start of a line: refused before psql runs, naming it; no trace', async () => {
    const s = seed('seed-bang', `${table}\\! touch ${marker}/bang\nSELECT 1;\n`);
    await expect(
      sqlRestoreTest('app', s.medium, { path: s.path, role: 'sql-dump-gz' }, options(), ctx),
    ).rejects.toMatchObject({
      code: 'DB_RESTORE_FAILED',
      message: expect.stringMatching(/meta-command `\\! touch .*bang` on line 6: refused before psql ran anything/),
    });
    expect(readdirSync(marker)).toEqual([]);
  }, 60_000);

  it('\\! hidden after SQL on the same line: psql itself refuses it (restricted); no trace', async () => {
    const s = seed('seed-hidden', `${table}SELECT 1; \\! touch ${marker}/hidden\n`);
    await expect(
      sqlRestoreTest('app', s.medium, { path: s.path, role: 'sql-dump-gz' }, options(), ctx),
    ).rejects.toMatchObject({
      code: 'DB_RESTORE_FAILED',
      message: expect.stringMatching(
        /psql as the non-superuser lifeboat_restore failed: .*backslash commands are restricted/,
      ),
    });
    expect(readdirSync(marker)).toEqual([]);
  }, 60_000);

  it('through the CLI at restore level: a failing verdict, and nothing ran', () => {
    const s = seed('seed-cli', `${table}\\! touch ${marker}/cli\n`);
    const r = lifeboat(env, 'verify', join(dir.path, 'seed-cli'), '--level', 'restore', '--json');
    expect(r.status).toBe(1);
    expect(json<Report>(r).results[0]!.verdict).not.toBe('ok');
    expect(s.path).toMatch(/sql\.gz$/);
    expect(readdirSync(marker)).toEqual([]);
  }, 60_000);
});

describe('a dump newer than every installed pg_restore is not checked, never unreadable', () => {
  async function craftedPgSet(system: string, dump: Buffer, tool: string): Promise<string> {
    const ids = parseIdentityFile(readFileSync(identity, 'utf8'));
    const written = await writeSet(
      {
        media: [new FolderMedium(medium)],
        system,
        kind: 'pg-logical',
        tier: null,
        parent: null,
        recipients: [ids[0]!.recipient],
        signingKey: loadSigningKey(readFileSync(signKey)),
        startedAt: new Date(),
      },
      { signal: new AbortController().signal, step: () => undefined, log: () => undefined },
      async (add) => {
        await add({ name: 'db.dump', role: 'pg-dump', source: Readable.from([dump]) });
        return { source: { tool, dump_format: 'custom' }, warnings: [] };
      },
    );
    return written.setPath;
  }
  let real: Buffer;
  beforeAll(async () => {
    await createDatabase('small', 'CREATE TABLE t (x int); INSERT INTO t VALUES (1);');
    real = execFileSync('/usr/lib/postgresql/15/bin/pg_dump', ['--format=custom', '--dbname', pg.url('small')]);
  }, 60_000);

  it('the manifest says pg_dump 99: needs pg_restore >= 99', async () => {
    const set = await craftedPgSet('future', real, 'pg_dump (PostgreSQL) 99.1');
    const r = verify(set, 'deep', { exit: 2 });
    expect(r.results[0]!.verdict).toBe('not-checked');
    expect(r.results[0]!.artifacts[0]).toMatchObject({
      verdict: 'not-checked',
      detail: expect.stringMatching(/needs pg_restore >= 99/),
    });
  }, 60_000);

  it('the dump header says archive format 1.16 (PostgreSQL 17): needs pg_restore >= 17', async () => {
    // "PGDMP", then the format's major, minor and revision bytes.
    expect(real.subarray(0, 5).toString()).toBe('PGDMP');
    const edited = Buffer.from(real);
    edited[5] = 1;
    edited[6] = 16;
    const set = await craftedPgSet('newer-header', edited, 'pg_dump (PostgreSQL) 15.8');
    const r = verify(set, 'deep', { exit: 2 });
    expect(r.results[0]!.verdict).toBe('not-checked');
    expect(r.results[0]!.artifacts[0]!.detail).toMatch(/needs pg_restore >= 17 \(the dump's archive format 1\.16/);
    // The same dump with its real header passes: the edit, not the set, made the difference.
    const good = await craftedPgSet('same-header', real, 'pg_dump (PostgreSQL) 15.8');
    expect(verify(good, 'deep').results[0]!.verdict).toBe('ok');
  }, 60_000);
});

describe('doctor', () => {
  it('lists every PostgreSQL client tool version found', () => {
    const r = lifeboat(env, 'doctor', '--json');
    const report = json<{ postgres: Array<{ name: string; major: number; path: string }> }>(r);
    expect(report.postgres).toContainEqual(
      expect.objectContaining({ name: 'pg_restore', major: 15, path: '/usr/lib/postgresql/15/bin/pg_restore' }),
    );
    expect(report.postgres).toContainEqual(expect.objectContaining({ name: 'pg_dump', major: 15 }));
    expect(lifeboat(env, 'doctor').stdout).toMatch(/PostgreSQL tools +.*pg_restore 15 \(/);
  }, 60_000);
});
