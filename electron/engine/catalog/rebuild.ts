import Database from 'better-sqlite3';
import { mapError } from '../errors';
import type { Catalog } from './catalog';

/**
 * What the media cannot give back: a rebuild rescans the sets, media and file indexes, and carries these over from the
 * old catalog file. Parents before children (journal rows reference runs).
 */
const KEPT = [
  { table: 'trusted_keys', what: 'pinned signing keys', lostHint: 'pin them again: lifeboat keys trust <file.pub>' },
  {
    table: 'runs',
    what: 'runbook runs',
    lostHint: 'their reports under the data folder (runs/) are all that is left of them',
  },
  { table: 'journal', what: 'journal entries', lostHint: 'the runs they belonged to have no journal any more' },
  {
    table: 'verifications',
    what: 'verification ledger rows',
    lostHint: 'verify the media again: sets show as not verified until then',
  },
] as const;

/** SQLite's own words for a damaged file ("file is not a database", "database disk image is malformed"): more exact than the mapped error's. */
function why(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_')
    ? `${e.message} (${code})`
    : mapError(e).message;
}

export interface CarriedOver {
  /** The old file the rows came from. */
  from: string;
  kept: Array<{ table: string; what: string; rows: number }>;
  lost: Array<{ table: string; what: string; why: string; hint: string }>;
}

/**
 * Copy pinned keys, runs, journals and the verification ledger from an old catalog file (moved aside by `scan --rebuild`)
 * into a fresh catalog. Each table is copied on its own and all or nothing: a table that cannot be read (a damaged page)
 * is reported as lost with the reason, the others are still kept. Columns are matched by name, so an older schema works.
 */
export function carryOver(oldPath: string, catalog: Catalog): CarriedOver {
  const out: CarriedOver = { from: oldPath, kept: [], lost: [] };
  let old: Database.Database;
  try {
    // Not through Catalog.open: no integrity check (the file is known to be damaged) and no migration (never write to it).
    old = new Database(oldPath, { readonly: true, fileMustExist: true });
  } catch (e) {
    for (const k of KEPT)
      out.lost.push({
        table: k.table,
        what: k.what,
        why: `the old catalog could not be opened: ${why(e)}`,
        hint: k.lostHint,
      });
    return out;
  }
  try {
    for (const k of KEPT) {
      try {
        const oldCols = (old.pragma(`table_info(${k.table})`) as Array<{ name: string }>).map((c) => c.name);
        if (oldCols.length === 0) {
          // An old catalog from before the table existed had nothing of this kind.
          out.kept.push({ table: k.table, what: k.what, rows: 0 });
          continue;
        }
        const newCols = new Set(
          (catalog.db.pragma(`table_info(${k.table})`) as Array<{ name: string }>).map((c) => c.name),
        );
        const cols = oldCols.filter((c) => newCols.has(c));
        const list = cols.map((c) => `"${c}"`).join(', ');
        const rows = old.prepare(`SELECT ${list} FROM ${k.table}`).raw().all() as unknown[][];
        const insert = catalog.db.prepare(
          `INSERT OR IGNORE INTO ${k.table} (${list}) VALUES (${cols.map(() => '?').join(', ')})`,
        );
        let n = 0;
        catalog.db.transaction(() => {
          for (const r of rows) n += insert.run(...r).changes;
        })();
        out.kept.push({ table: k.table, what: k.what, rows: n });
      } catch (e) {
        out.lost.push({ table: k.table, what: k.what, why: why(e), hint: k.lostHint });
      }
    }
  } finally {
    old.close();
  }
  return out;
}

/** One line for the operator naming both parts: what was kept, and what was lost (or that nothing was). */
export function describeCarryOver(c: CarriedOver): string {
  const kept = c.kept.map((k) => `${k.rows} ${k.what}`).join(', ') || 'nothing';
  const lost = c.lost.length ? c.lost.map((l) => `${l.what} (${l.why}; ${l.hint})`).join('; ') : 'nothing';
  return `Kept from the old catalog: ${kept}. Lost: ${lost}.`;
}
