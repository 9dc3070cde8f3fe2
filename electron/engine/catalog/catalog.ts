import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { CatalogCounts } from '../../../shared/domain/app';
import { LifeboatError, mapError } from '../errors';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations';

export interface CatalogOptions {
  /**
   * Run `PRAGMA quick_check` at open, so corruption is reported before use. Default: whenever
   * the file is not exactly as Lifeboat left it at its last clean close (a crash, another
   * writer, a damaged disk), and at least once a day. Corruption met at any other time is still
   * reported as CATALOG_CORRUPT with the way out.
   */
  check?: boolean;
  readonly?: boolean;
  /** Apply migrations only up to this version (tests of each migration). */
  targetVersion?: number;
  /** Path of better-sqlite3's compiled addon when not its default build (the Electron build in a checkout). */
  nativeBinding?: string | undefined;
}

/** What the catalog file looked like when Lifeboat last closed it cleanly, after a check. */
interface CleanStamp {
  size: number;
  mtimeMs: number;
  checkedAt: number;
}

function stampPath(path: string): string {
  return `${path}.clean`;
}

/** True when the file is unchanged since a clean close less than a day after its last check. */
function leftCleanly(path: string): boolean {
  try {
    const stamp = JSON.parse(readFileSync(stampPath(path), 'utf8')) as CleanStamp;
    const st = statSync(path);
    return (
      st.size === stamp.size &&
      st.mtimeMs === stamp.mtimeMs &&
      Date.now() - stamp.checkedAt < 24 * 3600 * 1000 &&
      !existsSync(`${path}-wal`)
    );
  } catch {
    return false;
  }
}

function readStamp(path: string): CleanStamp | null {
  try {
    return JSON.parse(readFileSync(stampPath(path), 'utf8')) as CleanStamp;
  } catch {
    return null;
  }
}

/**
 * The offline catalog: every set on every medium (a cache of the media: deleting it loses no
 * backup, and `scan --rebuild` recreates it from them), and what the media cannot give back:
 * pinned keys, runbook runs and journals, the verification ledger. A rebuild carries those over
 * from the old file and says what it could not (rebuild.ts).
 * Its SQL lives in this module and its siblings behind named functions, except statements still
 * written in runbooks/, verify/, api/settings-handlers.ts and demo/ (issue 25 moves them here).
 */
export class Catalog {
  readonly db: Database.Database;
  readonly path: string;

  /** better-sqlite3's addon when not its default build: scratch databases (a restore's index store) open with the same. */
  nativeBinding: string | undefined;

  private constructor(db: Database.Database, path: string) {
    this.db = db;
    this.path = path;
  }

  static open(path: string, options: CatalogOptions = {}): Catalog {
    // Decided before opening: opening in WAL mode creates the -wal file the test looks for.
    const check = options.check ?? !leftCleanly(path);
    let db: Database.Database;
    try {
      if (!options.readonly) mkdirSync(dirname(path), { recursive: true });
      db = new Database(path, {
        readonly: options.readonly ?? false,
        fileMustExist: options.readonly ?? false,
        nativeBinding: options.nativeBinding,
      });
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
      // 32 MB of page cache (SQLite's default is 2 MB): a scan of 10,000 sets writes several
      // B-trees at once, and the pages they share stay in memory.
      db.pragma('cache_size = -32000');
      if (check) {
        const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
        const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
        if (problems.length > 0) {
          throw new LifeboatError(
            'CATALOG_CORRUPT',
            `The catalog at ${path} is damaged: ${problems.slice(0, 3).join('; ')}`,
            {
              hint: 'Run `lifeboat scan --rebuild`: it moves the file aside, rebuilds the sets from the media and carries over pinned keys, runs and the ledger as far as they can be read.',
            },
          );
        }
      }
      const catalog = new Catalog(db, path);
      catalog.nativeBinding = options.nativeBinding;
      catalog.lastCheckedAt = check ? Date.now() : (readStamp(path)?.checkedAt ?? Date.now());
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
  /** When the integrity of this file was last checked (carried in the clean-close stamp). */
  lastCheckedAt = 0;

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
      throw new LifeboatError(
        'FORMAT_UNSUPPORTED',
        `The catalog was written by a newer Lifeboat (schema ${current}, this build knows ${LATEST_SCHEMA_VERSION}).`,
        {
          hint: 'Use the newer Lifeboat, or point LIFEBOAT_HOME elsewhere and rescan the media.',
        },
      );
    }
    const pending = MIGRATIONS.filter((m) => m.version > current && m.version <= target);
    for (const m of pending) this.apply(m);
  }

  private apply(m: Migration): void {
    // foreign_keys cannot change inside a transaction: a table rebuild turns them off around it.
    if (m.rebuildsReferencedTable) this.db.pragma('foreign_keys = OFF');
    try {
      this.db.transaction(() => {
        this.db.exec(m.sql);
        if (m.rebuildsReferencedTable && (this.db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new LifeboatError(
            'CATALOG_CORRUPT',
            `Migration ${m.version} (${m.name}) would leave rows pointing at nothing; nothing was changed.`,
          );
        }
        this.db.pragma(`user_version = ${m.version}`);
      })();
    } finally {
      if (m.rebuildsReferencedTable) this.db.pragma('foreign_keys = ON');
    }
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
    return rows
      .map((r) => r.integrity_check)
      .slice(0, 5)
      .join('; ');
  }

  close(): void {
    if (!this.db.open) return;
    const writable = !this.db.readonly;
    this.db.close();
    // Stamp the file as left cleanly, so the next open can skip the integrity check.
    if (writable) {
      try {
        const st = statSync(this.path);
        const stamp: CleanStamp = { size: st.size, mtimeMs: st.mtimeMs, checkedAt: this.lastCheckedAt };
        writeFileSync(stampPath(this.path), JSON.stringify(stamp), { mode: 0o600 });
      } catch {
        // no stamp: the next open checks
      }
    }
  }
}
