import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../electron/engine/catalog/migrations';
import { tempDir } from '../helpers/temp';
import { hashFromColumn } from '../../electron/engine/catalog/hash-column';
import { setArtifacts } from '../../electron/engine/catalog/lookups';
import { setDetail } from '../../electron/engine/catalog/queries';

let dir: ReturnType<typeof tempDir>;
let path: string;
beforeEach(() => {
  dir = tempDir();
  path = join(dir.path, 'catalog.sqlite');
});
afterEach(() => dir.cleanup());

function tables(c: Catalog): string[] {
  return (
    c.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[]
  ).filter((n) => !n.startsWith('sqlite_'));
}
function columns(c: Catalog, table: string): string[] {
  return c.db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[];
}

/** Open at version-1, then migrate to `version`: the migration must apply on top of real data. */
function migrateFromPrevious(version: number): Catalog {
  Catalog.open(path, { targetVersion: version - 1 }).close();
  const c = Catalog.open(path, { targetVersion: version });
  expect(c.schemaVersion()).toBe(version);
  return c;
}

describe('catalog migrations', () => {
  it('are numbered 1..N without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_m, i) => i + 1));
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('001 creates media, systems, sets, artifacts, presence and unreadable', () => {
    const c = migrateFromPrevious(1);
    expect(tables(c)).toEqual(['artifacts', 'media', 'presence', 'sets', 'systems', 'unreadable']);
    expect(columns(c, 'presence')).toContain('missing_since');
    c.db.prepare("INSERT INTO media (id, kind, location, first_seen) VALUES ('m1', 'folder', '/mnt/a', 'now')").run();
    c.db
      .prepare(
        "INSERT INTO sets (key, set_id, system, kind, created_at) VALUES ('db/1', '1', 'db', 'pg-logical', 'now')",
      )
      .run();
    c.db
      .prepare(
        "INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen) VALUES ('db/1', 'm1', 'sets/db/1', 'now', 'now')",
      )
      .run();
    expect(() =>
      c.db.prepare("INSERT INTO media (id, kind, location, first_seen) VALUES ('m2', 'tape', '/x', 'now')").run(),
    ).toThrow(/CHECK/);
    c.close();
  });

  it('002 adds the file index, keeping the rows of 001', () => {
    Catalog.open(path, { targetVersion: 1 })
      .db.prepare("INSERT INTO sets (key, set_id, system, kind, created_at) VALUES ('f/1', '1', 'f', 'files', 'now')")
      .run();
    const c = migrateFromPrevious(2);
    expect(tables(c)).toContain('file_index');
    c.db.prepare("INSERT INTO file_index (set_key, path, type, size) VALUES ('f/1', 'etc/app.conf', 'file', 10)").run();
    expect(c.db.prepare('SELECT count(*) FROM sets').pluck().get()).toBe(1);
    c.close();
  });

  it('003 adds the verification ledger and pinned keys', () => {
    const c = migrateFromPrevious(3);
    expect(tables(c)).toEqual(expect.arrayContaining(['verifications', 'trusted_keys']));
    expect(columns(c, 'verifications')).toEqual(expect.arrayContaining(['level', 'verdict', 'bytes_per_sec']));
    expect(() =>
      c.db
        .prepare(
          "INSERT INTO verifications (set_key, medium_id, level, verdict, started_at, duration_ms) VALUES ('a', 'm', 'bogus', 'ok', 'now', 1)",
        )
        .run(),
    ).toThrow(/CHECK/);
    c.close();
  });

  it('004 adds runs and the journal', () => {
    const c = migrateFromPrevious(4);
    expect(tables(c)).toEqual(expect.arrayContaining(['runs', 'journal']));
    expect(columns(c, 'journal')).toEqual(expect.arrayContaining(['prev_hash', 'hash', 'seq']));
    c.close();
  });
});

describe('catalog migration 006', () => {
  it('adds the WAL archive summaries, keeping the media of earlier versions', () => {
    Catalog.open(path, { targetVersion: 5 }).close();
    const old = new Database(path);
    old
      .prepare(
        "INSERT INTO media (id, kind, location, first_seen) VALUES ('m1', 'folder', '/media/usb', '2026-01-01T00:00:00Z')",
      )
      .run();
    old.close();
    const c = migrateFromPrevious(6);
    expect(tables(c)).toContain('wal_archives');
    expect(columns(c, 'wal_archives')).toEqual(
      expect.arrayContaining(['medium_id', 'system', 'last_segment', 'gaps', 'timelines']),
    );
    c.db
      .prepare(
        "INSERT INTO wal_archives (medium_id, system, files, bytes, timelines, scanned_at) VALUES ('m1', 'shop', 3, 100, '[1]', 'now')",
      )
      .run();
    // A medium's rows go with it.
    c.db.prepare('PRAGMA foreign_keys = ON').run();
    c.db.prepare("DELETE FROM media WHERE id = 'm1'").run();
    expect(c.db.prepare('SELECT count(*) FROM wal_archives').pluck().get()).toBe(0);
    c.close();
  });
});

describe('catalog migration 005', () => {
  it('adds the per-set path texts and fills them from an existing file index', () => {
    const old = Catalog.open(path, { targetVersion: 4 });
    old.db
      .prepare("INSERT INTO sets (key, set_id, system, kind, created_at) VALUES ('f/1', '1', 'f', 'files', 'now')")
      .run();
    const ins = old.db.prepare("INSERT INTO file_index (set_key, path, type, size) VALUES ('f/1', ?, ?, 1)");
    ins.run('site', 'dir');
    ins.run('site/a.txt', 'file');
    ins.run('site/b.txt', 'file');
    old.close();
    const c = migrateFromPrevious(5);
    const text = c.db.prepare("SELECT paths FROM file_paths WHERE set_key = 'f/1'").pluck().get() as string;
    expect(text.split('\n').sort()).toEqual(['site/a.txt', 'site/b.txt']);
    c.close();
  });
});

describe('catalog migration 007', () => {
  it('lets sets be restic snapshots, keeping every set and the rows that reference them', () => {
    const old = Catalog.open(path, { targetVersion: 6 });
    old.db
      .prepare("INSERT INTO media (id, kind, location, first_seen) VALUES ('m1', 'folder', '/media/usb', 'now')")
      .run();
    old.db
      .prepare(
        "INSERT INTO sets (key, set_id, system, kind, origin, created_at) VALUES ('f/1', '1', 'f', 'files', 'seed-script', 'now')",
      )
      .run();
    old.db
      .prepare("INSERT INTO artifacts (set_key, path, role, bytes) VALUES ('f/1', 'a.tar.gz', 'files-tar-gz', 3)")
      .run();
    old.db
      .prepare(
        "INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen) VALUES ('f/1', 'm1', 'a.tar.gz', 'now', 'now')",
      )
      .run();
    old.db.prepare("INSERT INTO file_index (set_key, path, type, size) VALUES ('f/1', 'a.txt', 'file', 1)").run();
    expect(() =>
      old.db
        .prepare(
          "INSERT INTO sets (key, set_id, system, kind, origin, created_at) VALUES ('r/1', '1', 'r', 'files', 'restic', 'now')",
        )
        .run(),
    ).toThrow(/CHECK/);
    old.close();
    const c = migrateFromPrevious(7);
    c.db
      .prepare(
        "INSERT INTO sets (key, set_id, system, kind, origin, created_at) VALUES ('r/1', '1', 'r', 'files', 'restic', 'now')",
      )
      .run();
    expect(() =>
      c.db
        .prepare(
          "INSERT INTO sets (key, set_id, system, kind, origin, created_at) VALUES ('x/1', '1', 'x', 'files', 'borg', 'now')",
        )
        .run(),
    ).toThrow(/CHECK/);
    for (const t of ['artifacts', 'presence', 'file_index'])
      expect(c.db.prepare(`SELECT count(*) FROM ${t} WHERE set_key = 'f/1'`).pluck().get(), t).toBe(1);
    // The references still point at sets: removing a set removes its rows.
    expect(c.db.pragma('foreign_keys', { simple: true })).toBe(1);
    c.db.prepare("DELETE FROM sets WHERE key = 'f/1'").run();
    for (const t of ['artifacts', 'presence', 'file_index'])
      expect(c.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get(), t).toBe(0);
    expect(
      c.db
        .prepare(
          "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('sets_system_created', 'sets_created')",
        )
        .pluck()
        .get(),
    ).toBe(2);
    c.close();
  });
});

describe('catalog migration 008', () => {
  it("adds the indicator's verdicts, one per set, removed with their set", () => {
    Catalog.open(path, { targetVersion: 7 })
      .db.prepare("INSERT INTO sets (key, set_id, system, kind, created_at) VALUES ('f/1', '1', 'f', 'files', 'now')")
      .run();
    const c = migrateFromPrevious(8);
    c.db
      .prepare(
        "INSERT INTO set_indicator (set_key, suspicious, reasons, judged_at) VALUES ('f/1', 1, '[\"x\"]', 'now')",
      )
      .run();
    expect(() =>
      c.db.prepare("INSERT INTO set_indicator (set_key, suspicious, judged_at) VALUES ('nope/1', 0, 'now')").run(),
    ).toThrow(/FOREIGN KEY/);
    expect(() => c.db.prepare("UPDATE set_indicator SET suspicious = 2 WHERE set_key = 'f/1'").run()).toThrow(/CHECK/);
    c.db.prepare("DELETE FROM sets WHERE key = 'f/1'").run();
    expect(c.db.prepare('SELECT count(*) FROM set_indicator').pluck().get()).toBe(0);
    c.close();
  });
});

describe('catalog migration 009', () => {
  it('lets media be Azure containers, keeping every medium and the rows that reference them', () => {
    const old = Catalog.open(path, { targetVersion: 8 });
    old.db.prepare("INSERT INTO media (id, kind, location, first_seen) VALUES ('m1', 's3', 's3://b/p', 'now')").run();
    old.db
      .prepare("INSERT INTO sets (key, set_id, system, kind, created_at) VALUES ('f/1', '1', 'f', 'files', 'now')")
      .run();
    old.db
      .prepare(
        "INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen) VALUES ('f/1', 'm1', 'sets/f/1', 'now', 'now')",
      )
      .run();
    expect(() =>
      old.db
        .prepare("INSERT INTO media (id, kind, location, first_seen) VALUES ('m2', 'azure', 'azure://c/p', 'now')")
        .run(),
    ).toThrow(/CHECK/);
    old.close();
    const c = migrateFromPrevious(9);
    c.db
      .prepare("INSERT INTO media (id, kind, location, first_seen) VALUES ('m2', 'azure', 'azure://c/p', 'now')")
      .run();
    expect(() =>
      c.db.prepare("INSERT INTO media (id, kind, location, first_seen) VALUES ('m3', 'gcs', 'gs://x', 'now')").run(),
    ).toThrow(/CHECK/);
    expect(c.db.prepare("SELECT location FROM media WHERE id = 'm1'").pluck().get()).toBe('s3://b/p');
    expect(c.db.prepare("SELECT count(*) FROM presence WHERE medium_id = 'm1'").pluck().get()).toBe(1);
    // The references still point at media: removing a medium removes its presence rows.
    c.db.prepare("DELETE FROM media WHERE id = 'm1'").run();
    expect(c.db.prepare('SELECT count(*) FROM presence').pluck().get()).toBe(0);
    expect(
      c.db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'media_location'").pluck().get(),
    ).toBe(1);
    c.close();
  });
});

describe('catalog migration 010', () => {
  it('stores artifact hashes as 32-byte blobs, and every reader gives back the hex it read before', () => {
    const old = Catalog.open(path, { targetVersion: 9 });
    const hex = (n: number): string => createHash('sha256').update(String(n)).digest('hex');
    old.db.prepare("INSERT INTO media (id, kind, location, first_seen) VALUES ('m1', 'folder', '/m', 'now')").run();
    const set = old.db.prepare(
      "INSERT INTO sets (key, set_id, system, kind, origin, created_at) VALUES (?, ?, 'db', 'files', ?, '2026-01-01T00:00:00Z')",
    );
    const presence = old.db.prepare(
      "INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen) VALUES (?, 'm1', ?, 'now', 'now')",
    );
    const artifact = old.db.prepare(
      'INSERT INTO artifacts (set_key, path, role, bytes, sha256, plain_bytes, plain_sha256, encodings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // Rows as the writers of version 9 made them: hex text; a foreign set's checksum not a SHA-256, and none at all.
    set.run('db/1', '1', 'lifeboat');
    presence.run('db/1', 'sets/db/1');
    artifact.run('db/1', 'index.json.zst', 'file-index', 10, hex(1), 40, hex(2), 'zstd');
    artifact.run('db/1', 'part-0.tar.zst', 'files-tar', 11, hex(3), 41, hex(4), 'zstd');
    set.run('db/2', '2', 'seed-script');
    presence.run('db/2', 'db-2.tar.gz');
    artifact.run('db/2', 'db-2.tar.gz', 'files-tar-gz', 12, 'D41D8CD98F00B204', null, null, 'gzip');
    artifact.run('db/2', 'db-2.sql.gz', 'sql-dump-gz', 13, null, null, null, 'gzip');
    const before = {
      rows: old.db
        .prepare('SELECT set_key, path, role, bytes, sha256, plain_bytes, plain_sha256, encodings FROM artifacts')
        .all(),
      one: setArtifacts(old, 'db/1'),
      two: setArtifacts(old, 'db/2'),
      detail: setDetail(old, 'db/1')!.artifacts,
    };
    const text = old.db
      .prepare('SELECT sum(length(sha256) + length(plain_sha256)) FROM artifacts')
      .pluck()
      .get() as number;
    old.close();
    const c = migrateFromPrevious(10);
    expect(
      c.db.prepare("SELECT typeof(sha256), length(sha256) FROM artifacts WHERE set_key = 'db/1'").raw().all(),
    ).toEqual([
      ['blob', 32],
      ['blob', 32],
    ]);
    expect(c.db.prepare("SELECT sha256 FROM artifacts WHERE path = 'db-2.tar.gz'").pluck().get()).toBe(
      'D41D8CD98F00B204',
    );
    expect(c.db.prepare('SELECT sum(length(sha256) + length(plain_sha256)) FROM artifacts').pluck().get()).toBe(
      text / 2,
    );
    // The readers give what they gave before: hex at the edge.
    expect(setArtifacts(c, 'db/1')).toEqual(before.one);
    expect(setArtifacts(c, 'db/2')).toEqual(before.two);
    expect(setDetail(c, 'db/1')!.artifacts).toEqual(before.detail);
    expect(before.detail[0]).toMatchObject({ sha256: hex(1), plainSha256: hex(2) });
    expect(
      c.db
        .prepare(
          `SELECT set_key, path, role, bytes, ${hashFromColumn('sha256')}, plain_bytes, ${hashFromColumn('plain_sha256')}, encodings FROM artifacts`,
        )
        .all(),
    ).toEqual(before.rows);
    // Still removed with their set.
    c.db.prepare("DELETE FROM sets WHERE key = 'db/2'").run();
    expect(c.db.prepare('SELECT count(*) FROM artifacts').pluck().get()).toBe(2);
    c.close();
  });
});

describe('catalog open', () => {
  it('is in WAL mode and counts nothing when new', () => {
    const c = Catalog.open(path);
    expect(c.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(c.counts()).toEqual({ media: 0, systems: 0, sets: 0, verifications: 0, runs: 0 });
    expect(c.integrityCheck()).toBe('ok');
    c.close();
  });

  it('reports a file that is not a catalog as CATALOG_CORRUPT with a way out', () => {
    writeFileSync(path, 'this is not sqlite at all, just some bytes '.repeat(200));
    expect(() => Catalog.open(path)).toThrow(
      expect.objectContaining({ code: 'CATALOG_CORRUPT', hint: expect.stringContaining('scan --rebuild') }),
    );
  });

  it('reports damaged pages as CATALOG_CORRUPT', () => {
    const c = Catalog.open(path);
    const insert = c.db.prepare(
      "INSERT INTO sets (key, set_id, system, kind, created_at) VALUES (?, ?, 'db', 'pg-logical', 'now')",
    );
    c.db.transaction(() => {
      for (let i = 0; i < 3000; i++) insert.run(`db/${i}`, String(i));
    })();
    c.db.pragma('wal_checkpoint(TRUNCATE)');
    c.close();
    // Overwrite a page in the middle of the file with garbage.
    const raw = new Database(path);
    const pageSize = raw.pragma('page_size', { simple: true }) as number;
    raw.close();
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, pageSize * 5);
    closeSync(fd);
    expect(() => Catalog.open(path)).toThrow(expect.objectContaining({ code: 'CATALOG_CORRUPT' }));
  });

  it('skips the integrity check after a clean close, and runs it when the file changed since', async () => {
    const first = Catalog.open(path);
    const checkedAt = first.lastCheckedAt;
    first.close();
    await new Promise((r) => setTimeout(r, 20));
    const second = Catalog.open(path);
    expect(second.lastCheckedAt).toBe(checkedAt);
    second.db.prepare("INSERT INTO media (id, kind, location, first_seen) VALUES ('m', 'folder', '/x', 'now')").run();
    second.close();
    // Another writer (or a crash) leaves the file differently than the stamp says.
    const other = new Database(path);
    other.prepare("UPDATE media SET label = 'changed'").run();
    other.close();
    await new Promise((r) => setTimeout(r, 20));
    const third = Catalog.open(path);
    expect(third.lastCheckedAt).toBeGreaterThan(checkedAt);
    third.close();
  });

  it('refuses a catalog from a newer Lifeboat', () => {
    const c = Catalog.open(path);
    c.db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    c.close();
    expect(() => Catalog.open(path)).toThrow(expect.objectContaining({ code: 'FORMAT_UNSUPPORTED' }));
  });
});
