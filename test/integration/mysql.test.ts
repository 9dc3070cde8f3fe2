import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlQuery, type MysqlTarget } from '../../electron/engine/mysql/connection';
import { ScratchMariadb } from '../../electron/engine/mysql/scratch-server';
import { json, lifeboatAsync, loggedUnder } from '../helpers/cli';
import { keyedMedium, type KeyedMedium } from '../helpers/keyed-medium';
import { tempDir } from '../helpers/temp';
import { runByHand } from '../helpers/by-hand';

/**
 * MySQL/MariaDB sets end to end on a real MariaDB (one scratch mariadbd for the file; each drill
 * starts its own, as the product does): backup with mariadb-dump through the pipeline, a restore
 * into a new database row for row, the mysql-drill runbook, a cut dump and a flipped byte at deep
 * level, hostile dumps (`\!`, INTO OUTFILE) in a drill, the by-hand recipe, and the password in no
 * argv, environment, log, manifest or catalog.
 */

let my: ScratchMariadb;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let km: KeyedMedium;
let fakeBin: string;
let shopSet: string;
const BACKUP_PW = `Pa$$ "w0rd\\ 'x#;`;
const RESTORE_PW = 'r3st0rer-Pw';
const TABLES = { blobs: 3, empty_t: 0, nums: 3000, texts: 4 };

const root = (database = 'mysql'): MysqlTarget => ({ ...my.admin, database });
const sql = (q: string, database: string | null = null): Promise<string[][]> => mysqlQuery(root(), q, { database });
const url = (user: string, db: string, pw?: string): string =>
  `mysql://${user}${pw ? `:${encodeURIComponent(pw)}` : ''}@127.0.0.1:${my.port}/${db}`;

/** A `mariadb-dump` first on PATH: a shell script (the real one behind it, or a hostile stand-in). */
function fakeDump(name: string, body: string): NodeJS.ProcessEnv {
  const bin = join(fakeBin, name);
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'mariadb-dump'), `#!/bin/bash\n${body}\n`);
  chmodSync(join(bin, 'mariadb-dump'), 0o755);
  return { ...env, PATH: `${bin}:${process.env.PATH}` };
}

async function backup(system: string, e: NodeJS.ProcessEnv = env): Promise<string> {
  const r = await lifeboatAsync(
    e,
    'backup',
    'mysql',
    '--system',
    system,
    '--db',
    url('backup', 'shop', BACKUP_PW),
    '--to',
    km.medium,
    '--recipient',
    km.recipient,
    '--sign-key',
    km.signKey,
    '--json',
  );
  expect(r.status, r.stdout + r.stderr).toBe(0);
  expect(r.stdout + r.stderr).not.toContain(BACKUP_PW);
  return `${system}/${json<{ set_id: string }>(r).set_id}`;
}

interface RunResult {
  status: string;
  steps: Array<{
    id: string;
    status: string;
    output: Record<string, unknown> | null;
    error: { message: string } | null;
  }>;
}

async function drill(system: string): Promise<RunResult> {
  const r = await lifeboatAsync(
    env,
    'run',
    'mysql-drill',
    '--drill',
    '--yes',
    '--input',
    `system=${system}`,
    '--identity',
    km.identity,
    '--json',
  );
  return json<RunResult>(r);
}

async function verifyDeep(set: string): Promise<{ verdict: string; detail: string | null }> {
  const r = await lifeboatAsync(env, 'verify', set, '--level', 'deep', '--identity', km.identity, '--json');
  return json<{ results: Array<{ verdict: string; detail: string | null }> }>(r).results[0]!;
}

/** Every row of every table, in order, blobs as hex: what "row for row equal" compares. */
async function contents(db: string): Promise<string[][]> {
  return sql(
    `SELECT 'nums', id, big, small, neg, price, ratio, NULL FROM nums
     UNION ALL SELECT 'texts', id, HEX(t), HEX(v), n, NULL, NULL, NULL FROM texts
     UNION ALL SELECT 'blobs', id, HEX(b), LENGTH(b), NULL, NULL, NULL, NULL FROM blobs
     ORDER BY 1, 2`,
    db,
  );
}

beforeAll(async () => {
  dir = tempDir();
  // mariadb-install-db and the server run while the keys and the medium are made.
  const starting = ScratchMariadb.start({ baseDir: dir.path });
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  try {
    km = keyedMedium(env, dir.path);
  } finally {
    my = await starting;
  }
  fakeBin = join(dir.path, 'bin');
  await sql(`
    CREATE DATABASE shop CHARACTER SET utf8mb4;
    USE shop;
    CREATE TABLE nums (id INT PRIMARY KEY, big BIGINT, small TINYINT, neg INT, price DECIMAL(14,4), ratio DOUBLE);
    INSERT INTO nums SELECT seq, seq * 1000000007, seq % 127, -seq, seq / 7, seq / 3 FROM seq_1_to_3000;
    CREATE TABLE texts (id INT PRIMARY KEY, t TEXT, v VARCHAR(100), n VARCHAR(10) NULL);
    INSERT INTO texts VALUES
      (1, 'it''s "quoted" \\\\ back\\\\slash; semi', 'Grüße 😀 日本', NULL),
      (2, '', 'line\\nbreak\\ttab', 'x'),
      (3, NULL, 'INSERT INTO \`x\` VALUES (1),(2);', NULL),
      (4, 'DEFINER=\`root\`@\`localhost\`', ')(''', NULL);
    CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB NULL);
    INSERT INTO blobs VALUES (1, 0x00FF0A0D27225C3B28), (2, NULL), (3, RANDOM_BYTES(1024));
    CREATE TABLE empty_t (id INT);
    CREATE VIEW v_texts AS SELECT id, v FROM texts;
    CREATE TRIGGER trg BEFORE INSERT ON texts FOR EACH ROW SET NEW.n = COALESCE(NEW.n, 'trg');
    CREATE FUNCTION add1(x INT) RETURNS INT DETERMINISTIC RETURN x + 1;
    CREATE PROCEDURE p_count() SELECT COUNT(*) FROM nums;
    CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO DELETE FROM texts WHERE id < 0;
    CREATE USER 'backup'@'%' IDENTIFIED BY '${BACKUP_PW.replace(/\\/g, '\\\\').replace(/'/g, "''")}';
    GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON shop.* TO 'backup'@'%';
    GRANT SELECT ON mysql.proc TO 'backup'@'%';
    CREATE USER 'restorer'@'%' IDENTIFIED BY '${RESTORE_PW}';
    GRANT ALL ON \`restored\\_%\`.* TO 'restorer'@'%';
    GRANT ALL ON customer_restored.* TO 'restorer'@'%';
  `);
  // The real mariadb-dump behind a recorder of its argv, environment and option file's mode.
  const traced = fakeDump(
    'traced',
    `printf '%s\\n' "$@" > ${dir.path}/dump-argv; env > ${dir.path}/dump-env
stat -c %a "\${1#--defaults-extra-file=}" > ${dir.path}/dump-cnf-mode
exec /usr/bin/mariadb-dump "$@"`,
  );
  // MYSQL_PWD is not handed on (the URL's password wins; the tool reads the option file only).
  shopSet = await backup('shop', { ...traced, MYSQL_PWD: 'not-this-one' });
}, 60_000);

afterAll(async () => {
  await my?.destroy();
  dir?.cleanup();
}, 30_000);

describe('lifeboat backup mysql', () => {
  it('records the tool, the tables and their rows; the password is in no argv, environment, log, manifest or catalog', () => {
    const [system, setId] = shopSet.split('/');
    const manifest = JSON.parse(readFileSync(join(km.medium, 'sets', system!, setId!, 'manifest.json'), 'utf8')) as {
      kind: string;
      source: Record<string, unknown>;
      artifacts: Array<{ role: string; path: string }>;
    };
    expect(manifest.kind).toBe('mysql');
    expect(manifest.artifacts.map((a) => [a.role, a.path])).toEqual([['mysql-dump', 'db.sql.zst.age']]);
    expect(manifest.source).toMatchObject({ database: 'shop', table_count: 4, tables: TABLES });
    expect(manifest.source.tool).toMatch(/mariadb-dump .*Distrib 10\./);
    expect(manifest.source.dump_options).toEqual(
      expect.arrayContaining(['--single-transaction', '--routines', '--events']),
    );
    const argv = readFileSync(join(dir.path, 'dump-argv'), 'utf8');
    expect(argv).toMatch(/^--defaults-extra-file=\//);
    expect(argv).toContain('--single-transaction');
    expect(readFileSync(join(dir.path, 'dump-cnf-mode'), 'utf8').trim()).toBe('600');
    const dumpEnv = readFileSync(join(dir.path, 'dump-env'), 'utf8');
    for (const text of [
      argv,
      dumpEnv,
      JSON.stringify(manifest),
      loggedUnder(env.LIFEBOAT_HOME!),
      readFileSync(join(env.LIFEBOAT_HOME!, 'catalog.sqlite')).toString('latin1'),
    ])
      expect(text).not.toContain(BACKUP_PW);
    expect(dumpEnv).not.toMatch(/^MYSQL_PWD=/m);
    // The option file is gone with the backup.
    expect(existsSync(argv.split('\n')[0]!.slice('--defaults-extra-file='.length))).toBe(false);
  }, 10_000);

  it('restores into a new database row for row, with its view, trigger, routines and event; refuses a non-empty one', async () => {
    const r = await lifeboatAsync(
      { ...env, MYSQL_PWD: RESTORE_PW },
      'restore',
      'mysql',
      shopSet,
      '--db',
      url('restorer', 'restored_a'),
      '--identity',
      km.identity,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const out = json<{ output: Record<string, unknown> }>(r).output;
    expect(out).toMatchObject({ tables: 4, rows: 3007, routines: 2, triggers: 1, events: 1, views: 1 });
    expect(await contents('restored_a')).toEqual(await contents('shop'));
    expect(await sql('SELECT add1(41), (SELECT COUNT(*) FROM v_texts)', 'restored_a')).toEqual([['42', '4']]);
    expect(
      await sql(
        "SELECT GROUP_CONCAT(ROUTINE_NAME ORDER BY 1), (SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'restored_a'), (SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'restored_a') FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'restored_a'",
      ),
    ).toEqual([['add1,p_count', 'trg', 'ev']]);

    await sql('DELETE FROM nums WHERE id > 10', 'restored_a');
    const again = await lifeboatAsync(
      { ...env, MYSQL_PWD: RESTORE_PW },
      'restore',
      'mysql',
      shopSet,
      '--db',
      url('restorer', 'restored_a'),
      '--identity',
      km.identity,
    );
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/already exists .* not empty[\s\S]*--confirm-overwrite restored_a/);
    expect(await sql('SELECT COUNT(*) FROM nums', 'restored_a')).toEqual([['10']]);
    // With the typed confirmation, the dump's tables replace those of the same names.
    const confirmed = await lifeboatAsync(
      { ...env, MYSQL_PWD: RESTORE_PW },
      'restore',
      'mysql',
      shopSet,
      '--db',
      url('restorer', 'restored_a'),
      '--confirm-overwrite',
      'restored_a',
      '--identity',
      km.identity,
    );
    expect(confirmed.status, confirmed.stderr).toBe(0);
    expect(confirmed.stdout).toMatch(
      /4 tables, 3007 rows, 2 routines, 1 triggers, 1 events, 1 views; row counts match/,
    );
    expect(await contents('restored_a')).toEqual(await contents('shop'));
  }, 120_000);

  it('the mysql-drill runbook restores the newest set into a scratch MariaDB and matches every row count', async () => {
    const res = await drill('shop');
    expect(res.status).toBe('succeeded');
    const out = res.steps.find((s) => s.id === 'restore')!.output!;
    expect(out).toMatchObject({ scratch: true, tables: 4, rows: 3007, routines: 2, triggers: 1, events: 1 });
    expect((out.checks as Array<{ ok: boolean }>).every((c) => c.ok)).toBe(true);
    expect((out.checks as Array<{ what: string; got: number }>).find((c) => c.what === 'rows of nums')!.got).toBe(3000);
  }, 30_000);
});

describe('MySQL sets at deep level', () => {
  it('a signed dump cut before its completion line is an unreadable dump; a flipped stored byte a hash mismatch', async () => {
    const cut = await backup('cut', fakeDump('cut', '/usr/bin/mariadb-dump "$@" | head -n -1'));
    const v = await verifyDeep(cut);
    expect(v.verdict).toBe('unreadable-dump');
    expect(v.detail).toMatch(/truncated.*-- Dump completed/);
    expect((await verifyDeep(shopSet)).verdict).toBe('ok');

    const [system, setId] = shopSet.split('/');
    const file = join(km.medium, 'sets', system!, setId!, 'db.sql.zst.age');
    const saved = readFileSync(file);
    const flipped = Buffer.from(saved);
    flipped[200] = flipped[200]! ^ 0x01;
    writeFileSync(file, flipped);
    try {
      const bad = await verifyDeep(shopSet);
      expect(bad.verdict).toBe('corrupted');
      expect(bad.detail).toMatch(/SHA-256/);
    } finally {
      writeFileSync(file, saved);
    }
  }, 30_000);

  it('a hostile dump fails and writes nothing: a shell command (the client sandbox) and INTO OUTFILE in drills, INTO OUTFILE in a restore as an ordinary user', async () => {
    const marker = join(dir.path, 'pwned');
    const outfile = join(dir.path, 'outfile.txt');
    const head = `printf -- '-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\\n--\\nCREATE TABLE \`a\` (x INT);\\n'`;
    const tail = `printf -- 'INSERT INTO \`a\` VALUES (1);\\n-- Dump completed\\n'`;
    const [shellSet, fileSet] = await Promise.all([
      backup('evil_shell', fakeDump('evil_shell', `${head}\nprintf '\\\\! touch ${marker}\\n'\n${tail}`)),
      backup('evil_file', fakeDump('evil_file', `${head}\nprintf "SELECT 'x' INTO OUTFILE '${outfile}';\\n"\n${tail}`)),
    ]);
    // A complete dump by its shape, but read as SQL it runs a client command: deep verification fails it.
    const deep = await verifyDeep(shellSet);
    expect(deep.verdict).toBe('unreadable-dump');
    expect(deep.detail).toMatch(/client command \(\\!\)/);
    const shell = await drill('evil_shell');
    expect(shell.status).toBe('failed');
    expect(shell.steps.find((s) => s.id === 'verify')!.status).toBe('failed');
    // In a drill, as the scratch server's ordinary user (no FILE; secure_file_priv an empty folder).
    const fileDrill = await drill('evil_file');
    expect(fileDrill.status).toBe('failed');
    expect(fileDrill.steps.find((s) => s.id === 'restore')!.error!.message).toMatch(/FILE privilege/);
    const file = await lifeboatAsync(
      { ...env, MYSQL_PWD: RESTORE_PW },
      'restore',
      'mysql',
      fileSet,
      '--db',
      url('restorer', 'restored_evil'),
      '--identity',
      km.identity,
    );
    expect(file.status).not.toBe(0);
    expect(file.stderr).toMatch(/FILE privilege/);
    // Read as SQL while it decodes, before the server is touched: no database is even created.
    const shellRestore = await lifeboatAsync(
      { ...env, MYSQL_PWD: RESTORE_PW },
      'restore',
      'mysql',
      shellSet,
      '--db',
      url('restorer', 'restored_shell'),
      '--identity',
      km.identity,
    );
    expect(shellRestore.status).not.toBe(0);
    expect(shellRestore.stderr).toMatch(/client command \(\\!\)[\s\S]*Nothing was restored/);
    // The database the failed restore created was dropped.
    expect(file.stderr).toMatch(/restored_evil this restore created was dropped/);
    expect(
      await sql(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('restored_evil', 'restored_shell')",
      ),
    ).toEqual([['0']]);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(outfile)).toBe(false);
    expect(readdirSync(my.filesDir)).toEqual([]);
  }, 120_000);
});

describe('docs/restore-by-hand.md 3f, run verbatim', () => {
  it('age -d | zstd -d | mariadb gives back the database row for row', async () => {
    const cnf = join(dir.path, 'restore-my.cnf');
    writeFileSync(
      cnf,
      `[client]\nuser=restorer\npassword=${RESTORE_PW}\nhost=127.0.0.1\nport=${my.port}\nprotocol=TCP\n`,
      { mode: 0o600 },
    );
    const r = runByHand({
      km,
      sections: /^(0|1|2|3f)\. /,
      blocks: 5,
      set: shopSet,
      work: join(dir.path, 'by-hand'),
      env: { MYCNF: cnf },
      timeout: 30_000,
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Signature Verified Successfully/);
    expect(await contents('customer_restored')).toEqual(await contents('shop'));
    expect(readdirSync(my.filesDir)).toEqual([]);
  }, 30_000);
});
