import type { ListedSetFolder, Medium } from '../storage/medium';
import type { Catalog } from './catalog';

/** A set's presence row on the medium being scanned, as the rescan compares it. */
export interface PresenceRow {
  set_key: string;
  set_path: string;
  missing_since: string | null;
  manifest_size: number | null;
  manifest_mtime: string | null;
  manifest_etag: string | null;
}

/**
 * What the catalog knows of a medium's sets, in the form a rescan compares fastest. Present sets
 * with a plain path come back from SQLite as one text, a line `size TAB etag-or-mtime TAB path`
 * each, and a listed folder is unchanged when its own line is among them: at 10,000 sets this
 * is a third of the cost of a row object per set. Everything else (missing sets, which may
 * reappear; foreign sets; paths with a tab or newline) comes back as rows.
 */
export interface Known {
  /** The scan's classify takes out each line a listed folder matched: what is left are the sets not listed unchanged. */
  lines: Set<string>;
  rows: Map<string, PresenceRow>;
  /** The line a listed folder would have if nothing changed; null when it cannot have one. */
  lineOf(f: ListedSetFolder): string | null;
}

/** True when a listed folder's manifest has the size and mtime (or ETag) its row recorded. */
export function unchanged(row: PresenceRow | undefined, f: ListedSetFolder): boolean {
  if (!row || !f.manifest) return false;
  if (f.manifest.etag && row.manifest_etag)
    return f.manifest.etag === row.manifest_etag && f.manifest.size === row.manifest_size;
  return row.manifest_size === f.manifest.size && row.manifest_mtime === new Date(f.manifest.mtimeMs).toISOString();
}

const PLAIN = (column: string): string => `instr(${column}, char(9)) = 0 AND instr(${column}, char(10)) = 0`;

export function knownSets(catalog: Catalog, mediumId: string, kind: Medium['kind']): Known {
  // In object stores (S3, Azure) the ETag (with the size) decides; on folders the mtime.
  const sig = kind !== 'folder' ? 'coalesce(manifest_etag, manifest_mtime)' : 'manifest_mtime';
  const clean = `missing_since IS NULL AND manifest_size IS NOT NULL AND ${sig} IS NOT NULL AND ${PLAIN('set_path')} AND ${PLAIN(sig)}`;
  const text = catalog.db
    .prepare(
      `SELECT group_concat(manifest_size || char(9) || ${sig} || char(9) || set_path, char(10)) FROM presence WHERE medium_id = ? AND ${clean}`,
    )
    .pluck()
    .get(mediumId) as string | null;
  const rows = new Map<string, PresenceRow>();
  const raw = catalog.db
    .prepare(
      `SELECT set_key, set_path, missing_since, manifest_size, manifest_mtime, manifest_etag FROM presence WHERE medium_id = ? AND NOT (${clean})`,
    )
    .raw()
    .all(mediumId) as Array<[string, string, string | null, number | null, string | null, string | null]>;
  for (const [set_key, set_path, missing_since, manifest_size, manifest_mtime, manifest_etag] of raw) {
    rows.set(set_path, { set_key, set_path, missing_since, manifest_size, manifest_mtime, manifest_etag });
  }
  return {
    lines: new Set(text ? text.split('\n') : []),
    rows,
    lineOf: (f) => {
      if (!f.manifest || f.path.includes('\t') || f.path.includes('\n')) return null;
      const s = kind !== 'folder' && f.manifest.etag ? f.manifest.etag : new Date(f.manifest.mtimeMs).toISOString();
      return `${f.manifest.size}\t${s}\t${f.path}`;
    },
  };
}

/** The path of a line of `knownSets` (after its second tab). */
export function pathOfLine(line: string): string {
  return line.slice(line.indexOf('\t', line.indexOf('\t') + 1) + 1);
}
