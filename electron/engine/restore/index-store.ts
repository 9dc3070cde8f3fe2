import { rmSync } from 'node:fs';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { LifeboatError, mapError } from '../errors';
import { displayName } from '../format/names';
import { IndexReader, type IndexEntry, type IndexEntryType } from './index-reader';
import { nothingSelected, pathSelector } from './select';

export interface StoredEntry {
  path: Buffer;
  type: IndexEntryType;
  size: number;
  mtime_ms: number;
  mode: number;
  uid: number | null;
  gid: number | null;
  sha256: string | null;
  inset: string;
  target: Buffer | null;
  rmaj: number | null;
  rmin: number | null;
  done: number;
}

const BATCH = 2_000;
const show = (b: Buffer): string => b.toString('utf8');

/**
 * A file index kept on disk (a throw-away SQLite file in the run's folder), keyed by the raw
 * bytes of each path: a restore looks every tar entry up by name and walks the entries by kind
 * and depth, and an index of millions of entries costs SQLite's page cache, not a JS object each.
 */
export class IndexStore {
  private constructor(
    private readonly db: Database.Database,
    private readonly file: string,
  ) {}

  /** Read a decoded index stream into a new store at `file` (replacing any left from before). */
  static async load(
    source: Readable,
    stages: Transform[],
    file: string,
    o: { signal?: AbortSignal; nativeBinding?: string | undefined } = {},
  ): Promise<IndexStore> {
    const signal = o.signal;
    rmSync(file, { force: true });
    // The same addon as the catalog's (in the desktop app, the Electron build).
    const db = new Database(file, { nativeBinding: o.nativeBinding });
    const store = new IndexStore(db, file);
    try {
      // Throw-away data: no journal, no fsync.
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.pragma('cache_size = -4000');
      db.exec(`CREATE TABLE e (
        path BLOB PRIMARY KEY, parent BLOB NOT NULL, depth INTEGER NOT NULL, type TEXT NOT NULL, size INTEGER NOT NULL,
        mtime_ms REAL NOT NULL, mode INTEGER NOT NULL, uid INTEGER, gid INTEGER, sha256 TEXT, inset TEXT NOT NULL,
        target BLOB, rmaj INTEGER, rmin INTEGER, done INTEGER NOT NULL DEFAULT 0, line INTEGER NOT NULL) WITHOUT ROWID`);
      const insert = db.prepare(
        'INSERT INTO e (path, parent, depth, type, size, mtime_ms, mode, uid, gid, sha256, inset, target, rmaj, rmin, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      let batch: Array<[IndexEntry, number]> = [];
      const flush = db.transaction((rows: Array<[IndexEntry, number]>) => {
        for (const [e, line] of rows) {
          const slash = e.path.lastIndexOf(0x2f);
          let depth = 0;
          for (const b of e.path) if (b === 0x2f) depth++;
          try {
            insert.run(
              e.path,
              slash < 0 ? Buffer.alloc(0) : e.path.subarray(0, slash),
              depth,
              e.type,
              e.size,
              e.mtimeMs,
              e.mode,
              e.uid,
              e.gid,
              e.sha256,
              e.in,
              e.target,
              e.rdev?.[0] ?? null,
              e.rdev?.[1] ?? null,
              line,
            );
          } catch (err) {
            if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
              throw new LifeboatError('FORMAT_INVALID', `File index line ${line}: ${e.display} is listed twice.`);
            throw err;
          }
        }
      });
      const reader = new IndexReader((e, line) => {
        batch.push([e, line]);
        if (batch.length >= BATCH) {
          flush(batch);
          batch = [];
        }
      });
      await pipeline([source, ...stages, reader], signal ? { signal } : {});
      flush(batch);
      store.checkShape();
      return store;
    } catch (e) {
      store.close();
      throw e instanceof LifeboatError ? e : mapError(e);
    }
  }

  /**
   * Refuse an index whose tree cannot exist: an entry under something that is not a folder (the
   * "symlink, then a file through it" trick), a hard link to anything but a file of the index.
   */
  private checkShape(): void {
    // Every entry's folder must be a folder of the index (a backup lists every folder it
    // enters), so no entry can lie under a link or a file at any depth.
    const orphans = this.db
      .prepare(
        "SELECT c.path AS path, c.parent AS up, p.type AS type FROM e c LEFT JOIN e p ON p.path = c.parent WHERE c.depth > 0 AND (p.type IS NULL OR p.type != 'dir') LIMIT 1000",
      )
      .all() as Array<{ path: Buffer; up: Buffer; type: string | null }>;
    for (const orphan of orphans) {
      // Name the link the entry would be written through, when there is one higher up.
      let up = orphan.up;
      let type = orphan.type;
      while (type === null && up.lastIndexOf(0x2f) > 0) {
        up = up.subarray(0, up.lastIndexOf(0x2f));
        type = this.get(up)?.type ?? null;
      }
      if (type !== null && type !== 'dir') {
        throw new LifeboatError(
          'UNSAFE_PATH',
          `The file index places ${show(orphan.path)} under ${show(up)}, which is ${type === 'symlink' ? 'a symbolic link' : `a ${type}`}, not a folder: refusing to write through it.`,
        );
      }
    }
    if (orphans.length)
      throw new LifeboatError(
        'FORMAT_INVALID',
        `The file index lists ${show(orphans[0]!.path)} but not its folder ${show(orphans[0]!.up)}.`,
      );
    const badLink = this.db
      .prepare(
        "SELECT c.path AS path, c.target AS target FROM e c LEFT JOIN e t ON t.path = c.target WHERE c.type = 'hardlink' AND (t.type IS NULL OR t.type != 'file') LIMIT 1",
      )
      .get() as { path: Buffer; target: Buffer } | undefined;
    if (badLink)
      throw new LifeboatError(
        'UNSAFE_PATH',
        `The file index holds a hard link ${badLink.path.toString('utf8')} to ${badLink.target.toString('utf8')}, which is not a file of the restored tree.`,
      );
  }

  /**
   * Keep only what `--path` globs select (restore/select.ts): matching entries, the folders leading
   * to them, and the file a selected hard link points to (with its folders). Paged, so an index of
   * millions of entries never sits in memory. Throws NOT_FOUND when nothing matched.
   */
  select(globs: readonly string[]): void {
    if (globs.length === 0) return;
    const matches = pathSelector(globs);
    this.db.exec('CREATE TEMP TABLE keep (path BLOB PRIMARY KEY) WITHOUT ROWID');
    const keep = this.db.prepare('INSERT OR IGNORE INTO keep (path) VALUES (?)');
    const keepWithFolders = (path: Buffer): void => {
      keep.run(path);
      for (let i = path.indexOf(0x2f); i > 0; i = path.indexOf(0x2f, i + 1)) keep.run(path.subarray(0, i));
    };
    const page = this.db.prepare('SELECT path, type, target FROM e WHERE path > ? ORDER BY path LIMIT 5000');
    let after: Buffer = Buffer.alloc(0);
    let any = false;
    for (;;) {
      const rows = page.all(after) as Array<{ path: Buffer; type: IndexEntryType; target: Buffer | null }>;
      if (rows.length === 0) break;
      this.db.transaction(() => {
        for (const r of rows) {
          // Globs match the display form `find` prints (`caf\xe9.txt` for a name that is not UTF-8).
          if (!matches(displayName(r.path))) continue;
          keepWithFolders(r.path);
          any = true;
          if (r.type === 'hardlink' && r.target) keepWithFolders(r.target);
        }
      })();
      after = rows[rows.length - 1]!.path;
    }
    if (!any) throw nothingSelected(globs);
    this.db.exec('DELETE FROM e WHERE path NOT IN (SELECT path FROM keep); DROP TABLE keep');
  }

  get(path: Buffer): StoredEntry | undefined {
    return this.stmt('SELECT * FROM e WHERE path = ?').get(path) as StoredEntry | undefined;
  }

  /**
   * Marks are written in transactions of a few thousand: one transaction a file cost ~0.3 ms of
   * system calls (with the journal off), a third of restoring 20,000 small files. Reads on this
   * connection see the marks at once; nothing outlives the store (close drops the file).
   */
  markDone(path: Buffer): void {
    if (!this.db.inTransaction) this.db.exec('BEGIN');
    this.stmt('UPDATE e SET done = 1 WHERE path = ?').run(path);
    if (++this.marks % 4096 === 0) this.db.exec('COMMIT');
  }

  private marks = 0;

  /** The sets the index names (`fileContent`: only those whose tars hold file content), in the order they first appear. */
  sets(fileContent = true): string[] {
    const sql = `SELECT inset FROM e ${fileContent ? "WHERE type = 'file' " : ''}GROUP BY inset ORDER BY MIN(line)`;
    return (this.stmt(sql).all() as Array<{ inset: string }>).map((r) => r.inset);
  }

  totals(): { entries: number; files: number; bytes: number; hashed: number } {
    const r = this.stmt(
      "SELECT COUNT(*) AS entries, COALESCE(SUM(type = 'file'), 0) AS files, COALESCE(SUM(CASE WHEN type = 'file' THEN size ELSE 0 END), 0) AS bytes, COALESCE(SUM(type = 'file' AND sha256 IS NOT NULL), 0) AS hashed FROM e",
    ).get() as { entries: number; files: number; bytes: number; hashed: number };
    return r;
  }

  /** The first file a set's tar should have held and did not, with how many. */
  missing(set: string): { count: number; first: Buffer | null } {
    const r = this.stmt(
      "SELECT COUNT(*) AS n, MIN(path) AS first FROM e WHERE type = 'file' AND inset = ? AND done = 0",
    ).get(set) as { n: number; first: Buffer | null };
    return { count: r.n, first: r.first };
  }

  /** Entries of some kinds, in path order (parents before children) or deepest first. */
  *each(types: IndexEntryType[], order: 'path' | 'deepest-first' = 'path'): Generator<StoredEntry> {
    const sql = `SELECT * FROM e WHERE type IN (${types.map(() => '?').join(', ')}) ORDER BY ${order === 'path' ? 'path' : 'depth DESC, path'}`;
    yield* this.db.prepare(sql).iterate(...types) as IterableIterator<StoredEntry>;
  }

  private readonly stmts = new Map<string, Database.Statement>();
  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  close(): void {
    if (this.db.open) this.db.close();
    rmSync(this.file, { force: true });
  }
}
