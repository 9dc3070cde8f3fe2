import { parseStored, segmentNumber, timelineOf, WAL_SEGMENT_DEFAULT, type ArchivedWal } from '../format/wal-names';
import { parseIndex } from '../format/file-index';
import type { AgeIdentity } from '../crypto/age';
import { LifeboatError, mapError } from '../errors';
import { JSON_LIMITS } from '../format/check';
import { sha256Hex, type Manifest } from '../format/manifest';
import type { JobContext } from '../jobs/job-manager';
import type { ListedFile, ListedSetFolder, Medium } from '../storage/medium';
import type { Catalog } from './catalog';
import { hashFromColumn } from './hash-column';
import { parsePgbrStored, type PgbrWal } from '../foreign/pgbackrest/wal';
import { systemNameFrom } from '../foreign/names';
import type { ForeignSecrets, ForeignSet } from '../foreign/types';
import { recordFileIndex } from './sets';

/**
 * The scan's phases after the catalog is updated (scan.ts): file indexes for `find`, and the WAL
 * archives' summaries. Each reads what the medium holds; a failure here is logged and costs only
 * what it would have added (the sets are already recorded).
 */

/** A manifest read by the scan, and its catalog key once recorded. */
export interface ReadSet {
  folder: ListedSetFolder;
  manifest: Manifest;
  /** The SHA-256 of the manifest's bytes (the bytes themselves are not kept). */
  sha256: string;
  signer: string | null;
  /** Its catalog key, once recorded. */
  key?: string;
}

type IndexCtx = Pick<JobContext, 'log' | 'signal'>;

function indexed(catalog: Catalog, key: string): boolean {
  return catalog.db.prepare('SELECT 1 FROM file_index WHERE set_key = ? LIMIT 1').get(key) !== undefined;
}

/** A file set present on the medium without a file index in the catalog, and its file-index artifact. */
interface Unindexed {
  key: string;
  setPath: string;
  path: string;
  encodings: string;
  plainBytes: number;
  plainSha256: string;
}

const UNINDEXED_PAGE = 256;

/**
 * The medium's present file and config sets with a file-index artifact and nothing in the file
 * index yet — recorded by this scan (`recordedAt`, its time), or any (null: completing an
 * interrupted scan) — a page at a time in path order, so memory stays bounded at any size.
 */
function unindexedPage(catalog: Catalog, mediumId: string, recordedAt: string | null, after: string): Unindexed[] {
  return catalog
    .stmt(
      `SELECT p.set_key AS key, p.set_path AS setPath, a.path, a.encodings, a.plain_bytes AS plainBytes, ${hashFromColumn('a.plain_sha256', 'plainSha256')}
       FROM presence p JOIN sets s ON s.key = p.set_key
       JOIN artifacts a ON a.set_key = p.set_key AND a.role = 'file-index'
       WHERE p.medium_id = ? AND p.missing_since IS NULL AND (? IS NULL OR p.last_seen = ?) AND p.set_path > ?
         AND s.origin = 'lifeboat' AND s.kind IN ('files', 'config')
         AND NOT EXISTS (SELECT 1 FROM file_index f WHERE f.set_key = p.set_key)
       ORDER BY p.set_path, a.path LIMIT ${UNINDEXED_PAGE}`,
    )
    .all(mediumId, recordedAt, recordedAt, after) as Unindexed[];
}

/**
 * File indexes of the file sets this scan recorded (`recordedAt`, the scan's time), or, completing
 * an interrupted scan (null), of every file set on the medium not indexed yet: readable without a
 * key, or with one. Read from the catalog page by page, not held from the manifests. Returns how many.
 */
export async function indexFileSets(
  catalog: Catalog,
  medium: Medium,
  mediumId: string,
  recordedAt: string | null,
  identities: AgeIdentity[],
  ctx: IndexCtx,
): Promise<number> {
  let count = 0;
  let after = '';
  for (;;) {
    const page = unindexedPage(catalog, mediumId, recordedAt, after);
    if (page.length === 0) break;
    for (const u of page) {
      // One page per set path (its first file-index artifact), whatever the page size cut.
      if (u.setPath === after) continue;
      after = u.setPath;
      if (await indexOne(catalog, medium, u, identities, ctx)) count++;
    }
    if (page.length < UNINDEXED_PAGE) break;
  }
  return count;
}

async function indexOne(
  catalog: Catalog,
  medium: Medium,
  u: Unindexed,
  identities: AgeIdentity[],
  ctx: IndexCtx,
): Promise<boolean> {
  const encodings = u.encodings ? u.encodings.split(',') : [];
  if (encodings.includes('age') && !identities.length) return false;
  if (u.plainBytes > JSON_LIMITS.indexBytes) {
    ctx.log(
      'warn',
      `UNREADABLE ${medium.location}/${u.setPath}/${u.path}: the file index is ${u.plainBytes} bytes, over the ${JSON_LIMITS.indexBytes >> 20} MiB the catalog indexes`,
    );
    return false;
  }
  try {
    // Loaded here: the pipeline (zstd's binding) is not needed by a scan that indexes nothing.
    const { readDecoded } = await import('../pipeline/artifact-pipeline');
    const plain = await readDecoded(await medium.openRead(`${u.setPath}/${u.path}`), encodings, identities, {
      plainLimit: u.plainBytes,
      what: `${u.key}/${u.path}`,
    });
    if (sha256Hex(plain) !== u.plainSha256)
      throw new LifeboatError('CHECKSUM_MISMATCH', 'the file index does not match its hash');
    recordFileIndex(catalog, u.key, parseIndex(plain));
    return true;
  } catch (e) {
    ctx.log('warn', `file index of ${u.key} not indexed: ${mapError(e).message}`);
    return false;
  }
}

/** restic snapshots: their trees indexed for find (restic ls --json, streamed and bounded), once per snapshot. Returns how many. */
export async function indexResticSnapshots(
  catalog: Catalog,
  medium: Medium,
  restic: ForeignSet[],
  secrets: ForeignSecrets,
  ctx: IndexCtx,
): Promise<number> {
  const { findRestic, resticFileIndex, resticScope } = await import('../foreign/restic');
  const bin = findRestic();
  let count = 0;
  for (const f of restic) {
    const key = `${f.system}/${f.setId}`;
    const repo = medium.localPath(f.setPath || '.');
    if (!bin || !repo || indexed(catalog, key)) continue;
    try {
      const password = await secrets.get('restic-password', resticScope(repo));
      if (!password) continue;
      const { entries, truncated } = await resticFileIndex(
        { restic: bin, repo, password, signal: ctx.signal },
        String(f.facts.snapshot),
        f.setId,
      );
      if (truncated)
        ctx.log('warn', `restic snapshot ${key}: only its first ${entries.length} entries are indexed for find`);
      recordFileIndex(catalog, key, entries);
      count++;
    } catch (e) {
      const err = mapError(e);
      if (err.code === 'CANCELLED') throw err;
      ctx.log('warn', `restic snapshot ${key} not indexed: ${err.message}`);
    }
  }
  return count;
}

/** The WAL files on a medium by system: Lifeboat's `wal/<system>/…` and pgBackRest stanzas' `archive/<stanza>/…`. */
async function walFilesBySystem(medium: Medium): Promise<Map<string, ListedFile[]>> {
  const systems = new Map<string, ListedFile[]>();
  const add = (system: string, f: ListedFile): void => {
    const list = systems.get(system);
    if (list) list.push(f);
    else systems.set(system, [f]);
  };
  for (const f of await medium.listFiles('wal', { limit: 10_000_000, maxDepth: 2 })) {
    const system = f.path.split('/')[1];
    if (system) add(system, f);
  }
  // pgBackRest stanzas' archives (archive/<stanza>/<pg-version>-<id>/…): summarised the same way, under the stanza's system.
  const pgbrFiles = await medium.listFiles('archive', { limit: 10_000_000, maxDepth: 3 }).catch(() => []);
  for (const f of pgbrFiles) {
    const stanza = f.path.split('/')[1];
    if (stanza && parsePgbrStored(f.path, f.size, f.mtimeMs, '')) add(systemNameFrom(stanza), f);
  }
  return systems;
}

/** One system's archive summary, as the `wal_archives` row holds it. */
function summariseArchive(files: ListedFile[]): {
  timelines: number[];
  first: string | null;
  last: string | null;
  newest: string | null;
  gaps: number;
} {
  const archived = files
    .map((f) => parseStored(f.path, f.size, f.mtimeMs) ?? parsePgbrStored(f.path, f.size, f.mtimeMs, ''))
    .filter((w): w is ArchivedWal | PgbrWal => w !== null);
  const names = archived
    .filter((w) => w.kind === 'segment')
    .map((w) => w.name)
    .sort();
  const timelines = [...new Set(archived.map((w) => w.timeline))].sort((a, b) => a - b);
  // A hole inside a timeline (16 MiB segments assumed here; the planner reads the real size).
  let gaps = 0;
  for (let i = 1; i < names.length; i++) {
    const a = names[i - 1]!;
    const b = names[i]!;
    if (
      timelineOf(a) === timelineOf(b) &&
      segmentNumber(b, WAL_SEGMENT_DEFAULT) > segmentNumber(a, WAL_SEGMENT_DEFAULT) + 1
    )
      gaps++;
  }
  const newest = files.reduce((m, f) => Math.max(m, f.mtimeMs), 0);
  return {
    timelines,
    first: names[0] ?? null,
    last: names[names.length - 1] ?? null,
    newest: newest ? new Date(newest).toISOString() : null,
    gaps,
  };
}

/** WAL archives: a summary per system (the planner reads the files themselves when the medium is here). */
export async function summariseWalArchives(
  catalog: Catalog,
  medium: Medium,
  mediumId: string,
  now: string,
  ctx: IndexCtx,
): Promise<void> {
  try {
    const systems = await walFilesBySystem(medium);
    const upsert = catalog.stmt(
      `INSERT INTO wal_archives (medium_id, system, files, bytes, timelines, first_segment, last_segment, last_archived_at, gaps, scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(medium_id, system) DO UPDATE SET files = excluded.files, bytes = excluded.bytes, timelines = excluded.timelines, first_segment = excluded.first_segment,
         last_segment = excluded.last_segment, last_archived_at = excluded.last_archived_at, gaps = excluded.gaps, scanned_at = excluded.scanned_at`,
    );
    catalog.inTransaction(() => {
      catalog.stmt('DELETE FROM wal_archives WHERE medium_id = ?').run(mediumId);
      for (const [system, files] of systems) {
        const s = summariseArchive(files);
        const bytes = files.reduce((n, f) => n + f.size, 0);
        upsert.run(
          mediumId,
          system,
          files.length,
          bytes,
          JSON.stringify(s.timelines),
          s.first,
          s.last,
          s.newest,
          s.gaps,
          now,
        );
      }
    });
  } catch (e) {
    ctx.log('warn', `the WAL archive could not be listed: ${mapError(e).message}`);
  }
}
