import pLimit from 'p-limit';
import { parseStored, segmentNumber, timelineOf, WAL_SEGMENT_DEFAULT, type ArchivedWal } from '../format/wal-names';
import { parseIndex } from '../format/file-index';
import type { AgeIdentity } from '../crypto/age';
import { parseSignature } from '../crypto/signing';
import { LifeboatError, mapError } from '../errors';
import { JSON_LIMITS } from '../format/check';
import { parseManifest, sha256Hex, type Manifest } from '../format/manifest';
import { MEDIUM_FILE, type MediumInfo } from '../format/medium';
import type { JobContext } from '../jobs/job-manager';
import type { ListedSetFolder, Medium } from '../storage/medium';
import type { Catalog } from './catalog';
import { pgbackrestDetector } from '../foreign/pgbackrest';
import { parsePgbrStored, type PgbrWal } from '../foreign/pgbackrest/wal';
import { systemNameFrom } from '../foreign/names';
import { formatBytes } from '../../../shared/format';
import { describeSeen, discover, type Discovery, type SeenSummary } from '../foreign/discover';
import { resticDetector } from '../foreign/restic';
import { seedDetector } from '../foreign/seed';
import { laptopTimeZone } from '../foreign/seed/time';
import type { ForeignDetector, ForeignFinding, ForeignSecrets, ForeignSet } from '../foreign/types';
import { recordFileIndex, recordMedium, recordSet } from './sets';

export interface ScanSummary {
  mediumId: string;
  label: string | null;
  location: string;
  kind: 'folder' | 's3';
  initialized: boolean;
  sets: { total: number; new: number; updated: number; unchanged: number; missing: number; reappeared: number };
  foreign: { seedScript: number; pgbackrest: number; restic: number };
  unreadable: Array<{ path: string; reason: string }>;
  /**
   * What the scan recognised and cannot read, per file or folder (other tools' backups, a backup
   * missing its key, the listing's bounds): never a silent zero. A blocking one makes `lifeboat scan` exit 2.
   */
  findings: ForeignFinding[];
  /** What the listing outside sets/ and wal/ saw: counts and notable names, said when no set was found. */
  seen: SeenSummary;
  indexedFileSets: number;
  durationMs: number;
  /** What the operator should do next, when something is off. */
  hints: string[];
}

interface PresenceRow {
  set_key: string;
  set_path: string;
  missing_since: string | null;
  manifest_size: number | null;
  manifest_mtime: string | null;
  manifest_etag: string | null;
}

interface ReadSet {
  folder: ListedSetFolder;
  manifest: Manifest;
  bytes: Buffer;
  signer: string | null;
  /** Its catalog key, once recorded. */
  key?: string;
}

const CONCURRENCY = 16;

function unchanged(row: PresenceRow | undefined, f: ListedSetFolder): boolean {
  if (!row || !f.manifest) return false;
  if (f.manifest.etag && row.manifest_etag)
    return f.manifest.etag === row.manifest_etag && f.manifest.size === row.manifest_size;
  return row.manifest_size === f.manifest.size && row.manifest_mtime === new Date(f.manifest.mtimeMs).toISOString();
}

/**
 * What the catalog knows of a medium's sets, in the form a rescan compares fastest. Present sets
 * with a plain path come back from SQLite as one text, a line `size TAB etag-or-mtime TAB path`
 * each, and a listed folder is unchanged when its own line is among them: at 10,000 sets this
 * is a third of the cost of a row object per set. Everything else (missing sets, which may
 * reappear; foreign sets; paths with a tab or newline) comes back as rows.
 */
interface Known {
  lines: Set<string>;
  rows: Map<string, PresenceRow>;
  /** The line a listed folder would have if nothing changed; null when it cannot have one. */
  lineOf(f: ListedSetFolder): string | null;
}

const PLAIN = (column: string): string => `instr(${column}, char(9)) = 0 AND instr(${column}, char(10)) = 0`;

function knownSets(catalog: Catalog, mediumId: string, kind: Medium['kind']): Known {
  // On S3 the ETag (with the size) decides; on folders the mtime.
  const sig = kind === 's3' ? 'coalesce(manifest_etag, manifest_mtime)' : 'manifest_mtime';
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
      const s = kind === 's3' && f.manifest.etag ? f.manifest.etag : new Date(f.manifest.mtimeMs).toISOString();
      return `${f.manifest.size}\t${s}\t${f.path}`;
    },
  };
}

/** The path of a line of `knownSets` (after its second tab). */
function pathOfLine(line: string): string {
  return line.slice(line.indexOf('\t', line.indexOf('\t') + 1) + 1);
}

/** Every format's detector, run over one listing (foreign/discover.ts); the other tools' detector runs last there. */
const DETECTORS: ForeignDetector[] = [seedDetector, pgbackrestDetector, resticDetector];

export interface ForeignScanOptions {
  /** Passphrases of other tools' backups (foreign/secrets.ts); none: only what needs no secret is read. */
  secrets?: ForeignSecrets;
  /** IANA zone that local times in file names are read in (default the laptop's). */
  timeZone?: string;
}

const NO_SECRETS: ForeignSecrets = { get: () => Promise.resolve(null) };

/** Other tools' backups on the medium, and what was seen and could not be read (foreign/discover.ts). */
async function findForeign(
  medium: Medium,
  ctx: Pick<JobContext, 'log' | 'signal'>,
  o: ForeignScanOptions,
): Promise<Discovery> {
  const timeZone = o.timeZone ?? laptopTimeZone();
  return discover(medium, DETECTORS, { log: ctx.log, signal: ctx.signal, secrets: o.secrets ?? NO_SECRETS, timeZone });
}

/**
 * Scan one medium into the catalog: register it, read every new or changed manifest (unchanged
 * ones are skipped by size+mtime, or ETag on S3), record foreign sets, and mark sets that
 * disappeared as missing (never deleted). Nothing is written unless the whole listing succeeded
 * and the medium is still there at the end, so a drive pulled mid-scan leaves the catalog's
 * previous knowledge intact.
 */
export async function scanMedium(
  catalog: Catalog,
  medium: Medium,
  ctx: Pick<JobContext, 'step' | 'progress' | 'log' | 'signal'>,
  options: { identities?: AgeIdentity[] } & ForeignScanOptions = {},
): Promise<ScanSummary> {
  const started = Date.now();
  const now = new Date(started).toISOString();
  ctx.step('reading the medium');
  let info: MediumInfo | null;
  try {
    info = await medium.readInfo();
  } catch (e) {
    const err = mapError(e);
    recordScanError(catalog, medium, err.message);
    throw err;
  }
  const hints: string[] = [];

  let folders: ListedSetFolder[];
  let foreign: Awaited<ReturnType<typeof findForeign>>;
  // The zone the seed scripts' names are read in: given, else the one this medium's sets were last read in.
  const timeZone = options.timeZone ?? rememberedTimeZone(catalog, info?.id ?? `path:${medium.location}`);
  try {
    folders = await medium.listSetFolders();
    foreign = await findForeign(medium, ctx, { ...options, timeZone });
  } catch (e) {
    const err = mapError(e);
    recordScanError(catalog, medium, err.message);
    throw new LifeboatError(
      err.code,
      `The scan of ${medium.location} could not list the medium: ${err.message} The catalog keeps what it knew before.`,
      { hint: err.hint, cause: e },
    );
  }
  // Another tool's repository is not made a Lifeboat medium (a lifeboat-medium.json written into a restic or Borg repository).
  if (!info && foreign.findings.length === 0 && !foreign.sets.some((f) => f.origin === 'restic')) {
    hints.push(
      `${medium.location} has no ${MEDIUM_FILE}: it is cataloged by its path. To give it a stable identity: lifeboat medium init ${medium.location} --label <label>`,
    );
  }
  const mediumId = info?.id ?? `path:${medium.location}`;
  const known = knownSets(catalog, mediumId, medium.kind);

  ctx.step('reading manifests');
  ctx.progress({ itemsTotal: folders.length, itemsDone: 0 });
  const unreadable: Array<{ path: string; reason: string }> = [...foreign.unreadable];
  // Decided once per folder: a rescan of 10,000 unchanged sets is mostly this comparison.
  const same = new Set<string>();
  const toRead = folders.filter((f) => {
    if (!f.manifest) {
      unreadable.push({ path: f.path, reason: 'a set folder without manifest.json (an incomplete copy?)' });
      return false;
    }
    const row = known.rows.get(f.path);
    const line = row ? null : known.lineOf(f);
    if (row ? unchanged(row, f) : line !== null && known.lines.has(line)) {
      same.add(f.path);
      return false;
    }
    return true;
  });
  let done = folders.length - toRead.length;
  ctx.progress({ itemsDone: done });
  const limit = pLimit(CONCURRENCY);
  const read = await Promise.all(
    toRead.map((folder) =>
      limit(async (): Promise<ReadSet | null> => {
        if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
        try {
          // Refused before reading: a 100 MB manifest is not worth 800 MB of memory to find out it is bad.
          const size = folder.manifest?.size ?? 0;
          if (size > JSON_LIMITS.manifestBytes)
            throw new LifeboatError(
              'FORMAT_INVALID',
              `manifest.json is ${size} bytes, over the ${JSON_LIMITS.manifestBytes >> 20} MiB a Lifeboat file may have.`,
            );
          const bytes = await medium.readFile(`${folder.path}/manifest.json`);
          const manifest = parseManifest(bytes);
          if (manifest.system !== folder.system || manifest.set_id !== folder.setId) {
            throw new LifeboatError(
              'FORMAT_INVALID',
              `manifest.json names ${manifest.system}/${manifest.set_id} but lives in ${folder.path}.`,
            );
          }
          // Unsigned, or a damaged signature (verification will say which): no signer recorded.
          const sig = await medium.readOptional(`${folder.path}/manifest.json.sig`);
          let signer: string | null = null;
          try {
            signer = sig ? parseSignature(sig).keyId : null;
          } catch {
            signer = null;
          }
          return { folder, manifest, bytes, signer };
        } catch (e) {
          const err = mapError(e);
          if (err.code === 'STORAGE_UNREACHABLE' || err.code === 'CANCELLED') throw err;
          // This set only: the scan goes on with the others, and the log names the file.
          ctx.log('warn', `UNREADABLE ${medium.location}/${folder.path}/manifest.json: ${err.message}`);
          unreadable.push({ path: folder.path, reason: err.message });
          return null;
        } finally {
          ctx.progress({ itemsDone: ++done, current: folder.path });
        }
      }),
    ),
  );

  // The medium must still be the same one before anything is written.
  ctx.step('checking the medium is still there');
  try {
    const after = await medium.readInfo();
    if ((after?.id ?? null) !== (info?.id ?? null))
      throw new LifeboatError('STORAGE_UNREACHABLE', 'The medium changed during the scan.');
    // Without a medium file, a set folder listed at the start must still hold its files (the root of a plain copy
    // may hold nothing but the sets/ folder, so an empty root is no sign of a medium gone).
    if (
      !info &&
      folders.length > 0 &&
      (await medium.listFiles(folders[0]!.path, { maxDepth: 0, limit: 1 })).length === 0
    )
      throw new LifeboatError('STORAGE_UNREACHABLE', 'The medium is gone.');
  } catch (e) {
    const err = mapError(e);
    recordScanError(catalog, medium, err.message);
    throw new LifeboatError(
      'STORAGE_UNREACHABLE',
      `${medium.location} went away during the scan; the catalog keeps what it knew before.`,
      { hint: 'Reconnect the medium and scan again.', cause: e },
    );
  }

  ctx.step('updating the catalog');
  const seen = new Set<string>();
  const summary: ScanSummary = {
    mediumId,
    label: info?.label ?? null,
    location: medium.location,
    kind: medium.kind,
    initialized: info !== null,
    sets: { total: 0, new: 0, updated: 0, unchanged: 0, missing: 0, reappeared: 0 },
    foreign: { seedScript: 0, pgbackrest: 0, restic: 0 },
    unreadable,
    findings: foreign.findings,
    seen: foreign.seen,
    indexedFileSets: 0,
    durationMs: 0,
    hints,
  };
  const db = catalog.db;
  // Unchanged sets matched by their line (their keys are not needed: they are neither new nor gone).
  const matchedLines = same.size - [...same].filter((path) => known.rows.has(path)).length;
  let paths: Set<string> | null = null;
  const knownPaths = (): Set<string> => (paths ??= new Set([...known.lines].map(pathOfLine)));
  const touch = catalog.stmt(
    'UPDATE presence SET last_seen = ?, missing_since = NULL WHERE medium_id = ? AND set_key IN (SELECT value FROM json_each(?))',
  );
  db.transaction(() => {
    recordMedium(catalog, medium, info, new Date(started));
    // A present set was seen at the medium's last successful scan (media.last_sync, written at
    // the end): its own row is written only when it changes — new, updated, reappeared, missing.
    const reappeared: string[] = [];
    for (const path of same) {
      summary.sets.unchanged++;
      const row = known.rows.get(path);
      if (!row) continue;
      seen.add(row.set_key);
      if (row.missing_since) {
        summary.sets.reappeared++;
        reappeared.push(row.set_key);
      }
    }
    if (reappeared.length) touch.run(now, mediumId, JSON.stringify(reappeared));
    for (const r of read) {
      if (!r) continue;
      const key = (r.key = recordSet(
        catalog,
        mediumId,
        r.folder.path,
        r.manifest,
        r.bytes,
        r.folder.manifest,
        r.signer,
        new Date(started),
      ));
      seen.add(key);
      if (known.rows.has(r.folder.path) || knownPaths().has(r.folder.path)) summary.sets.updated++;
      else summary.sets.new++;
    }
    // Foreign sets are counted too ("3 sets: 0 new" on a first scan said nothing was found): new when not
    // present here before, unchanged otherwise (they are re-read whole on every scan).
    const presentHere = catalog.stmt(
      'SELECT 1 FROM presence WHERE set_key = ? AND medium_id = ? AND missing_since IS NULL',
    );
    for (const f of foreign.sets) {
      const before = presentHere.get(`${f.system}/${f.setId}`, mediumId) !== undefined;
      seen.add(recordForeignSet(catalog, mediumId, f, now));
      if (before) summary.sets.unchanged++;
      else summary.sets.new++;
      if (f.origin === 'seed-script') summary.foreign.seedScript++;
      else if (f.origin === 'restic') summary.foreign.restic++;
      else summary.foreign.pgbackrest++;
    }
    // Sets no longer on the medium (or no longer readable there): marked missing with the
    // time, never deleted. Candidates: rows not listed unchanged, and present sets whose line
    // was not matched (none when every line was: the usual rescan).
    const gone: string[] = [];
    // A set inside something this scan could not read (a restic repository without its password) is not gone: not seen, this time.
    const held = (path: string): boolean =>
      foreign.findings.some(
        (f) => f.blocking && (f.path === path || (f.path === '.' && path === '') || path.startsWith(`${f.path}/`)),
      );
    for (const row of known.rows.values())
      if (!row.missing_since && !same.has(row.set_path) && !held(row.set_path)) gone.push(row.set_key);
    if (matchedLines < known.lines.size) {
      const unmatched = [...knownPaths()].filter((path) => !same.has(path));
      const keys = catalog.db
        .prepare(
          'SELECT set_key FROM presence WHERE medium_id = ? AND missing_since IS NULL AND set_path IN (SELECT value FROM json_each(?))',
        )
        .pluck()
        .all(mediumId, JSON.stringify(unmatched)) as string[];
      gone.push(...keys);
    }
    for (const key of gone) {
      if (seen.has(key)) continue;
      // Last seen at the previous scan (this one's time is written to media.last_sync below).
      catalog
        .stmt(
          'UPDATE presence SET missing_since = ?, last_seen = max(last_seen, coalesce((SELECT last_sync FROM media WHERE id = ?), last_seen)) WHERE set_key = ? AND medium_id = ?',
        )
        .run(now, mediumId, key, mediumId);
      summary.sets.missing++;
    }
    db.prepare('DELETE FROM unreadable WHERE medium_id = ?').run(mediumId);
    const bad = db.prepare('INSERT OR REPLACE INTO unreadable (medium_id, path, reason, seen_at) VALUES (?, ?, ?, ?)');
    for (const u of unreadable) bad.run(mediumId, u.path, u.reason, now);
    db.prepare('UPDATE media SET last_sync = ?, last_error = NULL WHERE id = ?').run(now, mediumId);
  })();
  summary.sets.total = seen.size + matchedLines;

  // File indexes of file sets the catalog does not know yet (readable without a key, or with one).
  ctx.step('indexing file sets');
  for (const r of read) {
    if (!r?.key || (r.manifest.kind !== 'files' && r.manifest.kind !== 'config')) continue;
    const key = r.key;
    if (db.prepare('SELECT 1 FROM file_index WHERE set_key = ? LIMIT 1').get(key)) continue;
    const artifact = r.manifest.artifacts.find((a) => a.role === 'file-index');
    if (!artifact) continue;
    if (artifact.encodings.includes('age') && !options.identities?.length) continue;
    if (artifact.plain_bytes > JSON_LIMITS.indexBytes) {
      ctx.log(
        'warn',
        `UNREADABLE ${medium.location}/${r.folder.path}/${artifact.path}: the file index is ${artifact.plain_bytes} bytes, over the ${JSON_LIMITS.indexBytes >> 20} MiB the catalog indexes`,
      );
      continue;
    }
    try {
      // Loaded here: the pipeline (zstd's binding) is not needed by a scan that indexes nothing.
      const { readDecoded } = await import('../pipeline/artifact-pipeline');
      const plain = await readDecoded(
        await medium.openRead(`${r.folder.path}/${artifact.path}`),
        artifact.encodings,
        options.identities ?? [],
        { plainLimit: artifact.plain_bytes, what: `${key}/${artifact.path}` },
      );
      if (sha256Hex(plain) !== artifact.plain_sha256)
        throw new LifeboatError('CHECKSUM_MISMATCH', 'the file index does not match its hash');
      recordFileIndex(catalog, key, parseIndex(plain));
      summary.indexedFileSets++;
    } catch (e) {
      ctx.log('warn', `file index of ${key} not indexed: ${mapError(e).message}`);
    }
  }
  // restic snapshots: their trees indexed for find (restic ls --json, streamed and bounded), once per snapshot.
  const restic = foreign.sets.filter((f) => f.origin === 'restic');
  if (restic.length > 0) {
    ctx.step('indexing restic snapshots');
    const { findRestic, resticFileIndex, resticScope } = await import('../foreign/restic');
    const bin = findRestic();
    for (const f of restic) {
      const key = `${f.system}/${f.setId}`;
      const repo = medium.localPath(f.setPath || '.');
      if (!bin || !repo || db.prepare('SELECT 1 FROM file_index WHERE set_key = ? LIMIT 1').get(key)) continue;
      try {
        const password = await (options.secrets ?? NO_SECRETS).get('restic-password', resticScope(repo));
        if (!password) continue;
        const { entries, truncated } = await resticFileIndex(
          { restic: bin, repo, password, signal: ctx.signal },
          String(f.facts.snapshot),
          f.setId,
        );
        if (truncated)
          ctx.log('warn', `restic snapshot ${key}: only its first ${entries.length} entries are indexed for find`);
        recordFileIndex(catalog, key, entries);
        summary.indexedFileSets++;
      } catch (e) {
        const err = mapError(e);
        if (err.code === 'CANCELLED') throw err;
        ctx.log('warn', `restic snapshot ${key} not indexed: ${err.message}`);
      }
    }
  }
  // WAL archives: a summary per system (the planner reads the files themselves when the medium is here).
  ctx.step('reading the WAL archive');
  try {
    const walFiles = await medium.listFiles('wal', { limit: 10_000_000, maxDepth: 2 });
    const systems = new Map<string, typeof walFiles>();
    for (const f of walFiles) {
      const system = f.path.split('/')[1];
      if (!system) continue;
      const list = systems.get(system);
      if (list) list.push(f);
      else systems.set(system, [f]);
    }
    // pgBackRest stanzas' archives (archive/<stanza>/<pg-version>-<id>/…): summarised the same way, under the stanza's system.
    const pgbrFiles = await medium.listFiles('archive', { limit: 10_000_000, maxDepth: 3 }).catch(() => []);
    for (const f of pgbrFiles) {
      const stanza = f.path.split('/')[1];
      if (!stanza || !parsePgbrStored(f.path, f.size, f.mtimeMs, '')) continue;
      const system = systemNameFrom(stanza);
      const list = systems.get(system);
      if (list) list.push(f);
      else systems.set(system, [f]);
    }
    const upsert = catalog.stmt(
      `INSERT INTO wal_archives (medium_id, system, files, bytes, timelines, first_segment, last_segment, last_archived_at, gaps, scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(medium_id, system) DO UPDATE SET files = excluded.files, bytes = excluded.bytes, timelines = excluded.timelines, first_segment = excluded.first_segment,
         last_segment = excluded.last_segment, last_archived_at = excluded.last_archived_at, gaps = excluded.gaps, scanned_at = excluded.scanned_at`,
    );
    catalog.inTransaction(() => {
      catalog.stmt('DELETE FROM wal_archives WHERE medium_id = ?').run(mediumId);
      for (const [system, files] of systems) {
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
        upsert.run(
          mediumId,
          system,
          files.length,
          files.reduce((n, f) => n + f.size, 0),
          JSON.stringify(timelines),
          names[0] ?? null,
          names[names.length - 1] ?? null,
          newest ? new Date(newest).toISOString() : null,
          gaps,
          now,
        );
      }
    });
  } catch (e) {
    ctx.log('warn', `the WAL archive could not be listed: ${mapError(e).message}`);
  }
  if (unreadable.length > 0)
    hints.push(
      `${unreadable.length} item(s) could not be read; see the list. Verify the medium (lifeboat verify) before relying on it.`,
    );
  const blocking = foreign.findings.filter((f) => f.blocking).length;
  if (blocking > 0) hints.push(`${blocking} backup(s) found here cannot be read without what the findings name.`);
  if (summary.sets.total === 0 && foreign.findings.length === 0 && foreign.seen.files > 0)
    hints.push(`0 sets: ${describeSeen(foreign.seen, formatBytes)}.`);
  summary.durationMs = Date.now() - started;
  return summary;
}

/** The zone a previous scan read this medium's seed-script names in (kept in their facts), if any. */
function rememberedTimeZone(catalog: Catalog, mediumId: string): string | undefined {
  const zone = catalog.db
    .prepare(
      `SELECT json_extract(s.facts_json, '$.facts.time_zone_name') FROM sets s JOIN presence p ON p.set_key = s.key
       WHERE p.medium_id = ? AND s.origin = 'seed-script' AND json_extract(s.facts_json, '$.facts.time_zone_name') IS NOT NULL LIMIT 1`,
    )
    .pluck()
    .get(mediumId) as string | undefined;
  return zone ?? undefined;
}

function recordScanError(catalog: Catalog, medium: Medium, message: string): void {
  catalog.db.prepare('UPDATE media SET last_error = ? WHERE location = ?').run(message, medium.location);
}

function recordForeignSet(catalog: Catalog, mediumId: string, f: ForeignSet, now: string): string {
  const key = `${f.system}/${f.setId}`;
  const description = JSON.stringify({ origin: f.origin, facts: f.facts, artifacts: f.artifacts });
  catalog
    .stmt(
      `INSERT INTO sets (key, set_id, system, kind, origin, tier, created_at, finished_at, parent_key, bytes, artifact_count, signed, signer_key_id, encrypted, manifest_sha256, facts_json)
     VALUES (@key, @set_id, @system, @kind, @origin, NULL, @created_at, @finished_at, @parent_key, @bytes, @count, 0, NULL, 0, NULL, @json)
     ON CONFLICT(key) DO UPDATE SET bytes = excluded.bytes, artifact_count = excluded.artifact_count, facts_json = excluded.facts_json, finished_at = excluded.finished_at,
       created_at = excluded.created_at`,
    )
    .run({
      key,
      set_id: f.setId,
      system: f.system,
      kind: f.kind,
      origin: f.origin,
      created_at: f.createdAt,
      finished_at: f.finishedAt,
      parent_key: f.parentId ? `${f.system}/${f.parentId}` : null,
      bytes: f.artifacts.reduce((n, a) => n + a.bytes, 0) || Number(f.facts.repo_size_bytes ?? 0),
      count: f.artifacts.length,
      json: description,
    });
  const insert = catalog.stmt(
    'INSERT INTO artifacts (set_key, path, role, bytes, sha256, plain_bytes, plain_sha256, encodings) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?) ON CONFLICT(set_key, path) DO UPDATE SET bytes = excluded.bytes, sha256 = excluded.sha256',
  );
  for (const a of f.artifacts)
    insert.run(key, a.path, a.role, a.bytes, a.sha256 ?? null, /-gz(\+enc)?$/.test(a.role) ? 'gzip' : '');
  catalog
    .stmt(
      `INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen, missing_since) VALUES (?, ?, ?, ?, ?, NULL)
     ON CONFLICT(set_key, medium_id) DO UPDATE SET last_seen = excluded.last_seen, missing_since = NULL, set_path = excluded.set_path`,
    )
    .run(key, mediumId, f.setPath, now, now);
  return key;
}
