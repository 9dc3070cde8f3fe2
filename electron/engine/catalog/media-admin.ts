import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { LifeboatError } from '../errors';
import { MEDIUM_FILE } from '../format/medium';
import type { Catalog } from './catalog';
import { forgetMedium } from './known-media';

/**
 * The console's care of media in the catalog: where a typed location is refused before anything is read, the media
 * found inside a folder that holds several, and removing a medium from the catalog (never from the disk).
 */

/**
 * A folder location typed by a person, checked before a scan: absolute, there, and a folder. A relative path is
 * refused (resolved against the app's own folder it would name some other place); a file is not a medium.
 */
export function checkFolderLocation(location: string): string {
  const loc = location.trim();
  if (!isAbsolute(loc)) {
    throw new LifeboatError('BAD_INPUT', `${loc} is a relative path: give an absolute path (like /media/usb-1).`, {
      hint: 'A relative path would be read from the app’s own folder, not yours.',
    });
  }
  let st;
  try {
    st = statSync(loc);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') {
      throw new LifeboatError('BAD_INPUT', `${loc} is not a folder: a part of that path is a file.`, {
        hint: 'Name the folder of a medium.',
      });
    }
    if (code === 'ENOENT') {
      throw new LifeboatError('NOT_FOUND', `There is no folder ${loc}.`, {
        hint: 'Is the drive mounted? Check the path.',
      });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new LifeboatError('STORAGE_ACCESS_DENIED', `Lifeboat may not read ${loc}.`, {
        hint: 'Check the folder’s permissions.',
      });
    }
    throw e;
  }
  if (!st.isDirectory()) {
    throw new LifeboatError('BAD_INPUT', `${loc} is a file, not a medium folder.`, {
      hint: 'Name a folder (a mounted drive, a NAS share).',
    });
  }
  return loc.length > 1 ? loc.replace(/\/+$/, '') : loc;
}

/** How deep below a typed folder media are looked for, and how many folders at most are listed on the way. */
const MEDIA_SEARCH_DEPTH = 3;
const MEDIA_SEARCH_FOLDERS = 2000;

/**
 * The media up to three levels down in a folder that is not a medium itself (no lifeboat-medium.json, no sets/
 * folder): a mount point holding several drives' copies, or a demo's folder with media/usb-1 in it. Without looking
 * deeper than one level, such a folder was scanned as a plain folder: Lifeboat's own encrypted files were reported as
 * foreign backups and a "(no label)" medium stayed in the catalog. A medium is not searched inside; hidden folders
 * are skipped. Empty when the folder is a medium, or holds none.
 */
export function mediaInside(folder: string): string[] {
  const has = (p: string): boolean => {
    try {
      statSync(p);
      return true;
    } catch {
      return false;
    }
  };
  if (has(join(folder, MEDIUM_FILE)) || has(join(folder, 'sets'))) return [];
  const found: string[] = [];
  let listed = 0;
  const walk = (dir: string, depth: number): void => {
    if (depth > MEDIA_SEARCH_DEPTH || listed >= MEDIA_SEARCH_FOLDERS) return;
    listed++;
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
        .map((d) => d.name)
        .sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (has(join(p, MEDIUM_FILE))) found.push(p);
      else walk(p, depth + 1);
    }
  };
  walk(folder, 1);
  return found;
}

export interface RemovedMedium {
  id: string;
  label: string | null;
  location: string;
  /** Sets that were on no other medium: they left the catalog with it (their files stay where they are). */
  setsForgotten: number;
}

/**
 * Remove a medium from the catalog: its presence rows, unreadable notes and WAL archive view, and the sets seen on no
 * other medium. Nothing on the medium is touched. The verification ledger keeps its history (a later scan of the same
 * medium finds it again), and the medium leaves the list a catalog rebuild rescans.
 */
export function removeMedium(catalog: Catalog, dataDir: string, id: string): RemovedMedium {
  const row = catalog.stmt('SELECT id, label, location FROM media WHERE id = ?').get(id) as
    { id: string; label: string | null; location: string } | undefined;
  if (!row)
    throw new LifeboatError('NOT_FOUND', `The catalog knows no medium ${id}.`, {
      hint: 'The Media screen lists the known media.',
    });
  let setsForgotten = 0;
  catalog.inTransaction(() => {
    const only = catalog
      .stmt(
        `SELECT p.set_key AS k FROM presence p WHERE p.medium_id = ?
           AND NOT EXISTS (SELECT 1 FROM presence o WHERE o.set_key = p.set_key AND o.medium_id != p.medium_id)`,
      )
      .all(id) as Array<{ k: string }>;
    catalog.stmt('DELETE FROM media WHERE id = ?').run(id);
    const del = catalog.stmt('DELETE FROM sets WHERE key = ?');
    for (const s of only) setsForgotten += del.run(s.k).changes;
  });
  forgetMedium(dataDir, row.location);
  return { ...row, setsForgotten };
}

/**
 * The app's `scan --rebuild`: the catalog file stays open (the app holds it), so instead of moving it aside, a copy is
 * kept first (VACUUM INTO), then everything the media give back is forgotten (media, sets, presence, file indexes,
 * WAL archive views) and the known media are rescanned by the caller. Pinned keys, runs, journals and the
 * verification ledger are not derived from media and stay. For a damaged file, the CLI's rebuild moves it aside.
 */
export function forgetMediaKnowledge(catalog: Catalog, catalogPath: string, now = new Date()): { copy: string } {
  const copy = `${catalogPath}.before-rebuild-${now.toISOString().replace(/[:.]/g, '-')}`;
  catalog.db.prepare('VACUUM INTO ?').run(copy);
  catalog.inTransaction(() => {
    // Sets first: artifacts, presence, file indexes and path texts go with them (ON DELETE CASCADE); then the media.
    catalog.db.exec('DELETE FROM sets; DELETE FROM media;');
  });
  return { copy };
}

/**
 * A folder the catalog knew by its path (`path:<location>`, no lifeboat-medium.json) has just been initialised: the
 * catalog's knowledge of it (copies of sets, unreadable notes, WAL archive, verification history) moves to its new id,
 * so it does not stay behind as a second "(no label)" medium holding the same sets. Nothing when it was not known.
 */
export function adoptPathMedium(catalog: Catalog, location: string, info: { id: string; label: string }): boolean {
  const old = `path:${location}`;
  const row = catalog.stmt('SELECT * FROM media WHERE id = ?').get(old) as Record<string, unknown> | undefined;
  if (!row) return false;
  catalog.inTransaction(() => {
    catalog
      .stmt(
        `INSERT INTO media (id, kind, label, location, endpoint, credential_ref, format_version, first_seen, last_seen, last_sync, last_error)
         SELECT ?, kind, ?, location, endpoint, credential_ref, 1, first_seen, last_seen, last_sync, last_error FROM media WHERE id = ?`,
      )
      .run(info.id, info.label, old);
    for (const table of ['presence', 'unreadable', 'wal_archives', 'verifications']) {
      catalog.db.prepare(`UPDATE ${table} SET medium_id = ? WHERE medium_id = ?`).run(info.id, old);
    }
    catalog.stmt('DELETE FROM media WHERE id = ?').run(old);
  });
  return true;
}
