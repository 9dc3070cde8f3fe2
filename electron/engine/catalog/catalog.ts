import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { CatalogCounts } from '../../../shared/domain/app';
import { LifeboatError, mapError } from '../errors';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations';

export interface CatalogOptions {
  /**
   * Run `PRAGMA quick_check` at open, so corruption is reported before use. Default: for
   * catalogs up to 64 MiB (a few ms); larger ones are checked by `scan`, `doctor` and the app
   * at start, and any corruption met later is still reported as CATALOG_CORRUPT.
   */
  check?: boolean;
  readonly?: boolean;
  /** Apply migrations only up to this version (tests of each migration). */
  targetVersion?: number;
}

/**
 * The offline catalog: an SQLite cache of every set on every medium. It is only a cache:
 * deleting it loses no backup, and `scan --rebuild` recreates it from the media.
 * All SQL lives in this module (and its siblings) behind named functions.
 */
const QUICK_CHECK_LIMIT = 64 * 1024 * 1024;

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export class Catalog {
  readonly db: Database.Database;
  readonly path: string;

  private constructor(db: Database.Database, path: string) {
    this.db = db;
    this.path = path;
  }

  static open(path: string, options: CatalogOptions = {}): Catalog {
    let db: Database.Database;
    try {
      if (!options.readonly) mkdirSync(dirname(path), { recursive: true });
      db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    } catch (e) {
      throw mapError(e);
    }
    try {
      db.pragma('busy_timeout = 5000');
      if (!options.readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      }
      db.pragma('foreign_keys = ON');
      if (options.check ?? fileSize(path) <= QUICK_CHECK_LIMIT) {
        const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
        const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
        if (problems.length > 0) {
          throw new LifeboatError('CATALOG_CORRUPT', `The catalog at ${path} is damaged: ${problems.slice(0, 3).join('; ')}`, {
            hint: 'Move the file aside and run `lifeboat scan --rebuild`: the catalog is rebuilt from the media.',
          });
        }
      }
      const catalog = new Catalog(db, path);
      if (!options.readonly) catalog.migrate(options.targetVersion ?? LATEST_SCHEMA_VERSION);
      return catalog;
    } catch (e) {
      db.close();
      const err = mapError(e);
      if (err.code === 'CATALOG_CORRUPT' && !err.message.includes(path)) {
        throw new LifeboatError('CATALOG_CORRUPT', `The catalog at ${path} is damaged or is not a Lifeboat catalog.`, {
          hint: err.hint ?? 'Move the file aside and run `lifeboat scan --rebuild`.',
          cause: e,
        });
      }
      throw err;
    }
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** A prepared statement, compiled once per catalog (scans run the same SQL thousands of times). */
  stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Run `fn` in a transaction, or as part of the caller's when one is open. */
  inTransaction<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn)();
  }

  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** Apply every migration above the current version, each in its own transaction. */
  migrate(target: number = LATEST_SCHEMA_VERSION): void {
    const current = this.schemaVersion();
    if (current > LATEST_SCHEMA_VERSION) {
      throw new LifeboatError('FORMAT_UNSUPPORTED', `The catalog was written by a newer Lifeboat (schema ${current}, this build knows ${LATEST_SCHEMA_VERSION}).`, {
        hint: 'Use the newer Lifeboat, or point LIFEBOAT_HOME elsewhere and rescan the media.',
      });
    }
    const pending = MIGRATIONS.filter((m) => m.version > current && m.version <= target);
    for (const m of pending) this.apply(m);
  }

  private apply(m: Migration): void {
    this.db.transaction(() => {
      this.db.exec(m.sql);
      this.db.pragma(`user_version = ${m.version}`);
    })();
  }

  counts(): CatalogCounts {
    const one = (sql: string): number => (this.db.prepare(sql).pluck().get() as number | undefined) ?? 0;
    return {
      media: one('SELECT count(*) FROM media'),
      systems: one('SELECT count(DISTINCT system) FROM sets'),
      sets: one('SELECT count(*) FROM sets'),
      verifications: one('SELECT count(*) FROM verifications WHERE artifact_path IS NULL'),
      runs: one('SELECT count(*) FROM runs'),
    };
  }

  /** `PRAGMA integrity_check` (the full one): 'ok' or the first problems found. */
  integrityCheck(): string {
    const rows = this.db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    return rows.map((r) => r.integrity_check).slice(0, 5).join('; ');
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
