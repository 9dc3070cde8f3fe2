import pLimit from 'p-limit';
import type { AgeIdentity } from '../crypto/age';
import { parseSignature } from '../crypto/signing';
import { LifeboatError, mapError } from '../errors';
import { JSON_LIMITS } from '../format/check';
import { parseManifest } from '../format/manifest';
import { MEDIUM_FILE, type MediumInfo } from '../format/medium';
import type { JobContext } from '../jobs/job-manager';
import type { ListedSetFolder, Medium } from '../storage/medium';
import type { Catalog } from './catalog';
import { pgbackrestDetector } from '../foreign/pgbackrest';
import { formatBytes } from '../../../shared/format';
import { describeSeen, discover, type Discovery, type SeenSummary } from '../foreign/discover';
import { resticDetector } from '../foreign/restic';
import { seedDetector } from '../foreign/seed';
import { laptopTimeZone } from '../foreign/seed/time';
import type { ForeignDetector, ForeignFinding, ForeignSecrets, ForeignSet } from '../foreign/types';
import { recordMedium, recordSet } from './sets';
import { knownSets, pathOfLine, unchanged, type Known } from './scan-known';
import { indexFileSets, indexResticSnapshots, summariseWalArchives, type ReadSet } from './scan-index';
import { judgeSystem } from './trends';
import { DEFAULT_INDICATOR, type IndicatorThresholds } from '../settings/settings';

export interface ScanSummary {
  mediumId: string;
  label: string | null;
  location: string;
  kind: 'folder' | 's3' | 'azure';
  initialized: boolean;
  sets: SetCounts;
  foreign: { seedScript: number; pgbackrest: number; restic: number };
  unreadable: Unreadable[];
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

type SetCounts = {
  total: number;
  new: number;
  updated: number;
  unchanged: number;
  missing: number;
  reappeared: number;
};
type Unreadable = { path: string; reason: string };
type ScanCtx = Pick<JobContext, 'step' | 'progress' | 'log' | 'signal'>;

export interface ForeignScanOptions {
  /** Passphrases of other tools' backups (foreign/secrets.ts); none: only what needs no secret is read. */
  secrets?: ForeignSecrets;
  /** IANA zone that local times in file names are read in (default the laptop's). */
  timeZone?: string;
}

export type ScanOptions = {
  identities?: AgeIdentity[];
  /** The ransomware indicator's thresholds per system (settings); the defaults without it. */
  indicator?: (system: string) => IndicatorThresholds;
} & ForeignScanOptions;

/** The phases of a scan, in order; each is reported as the job's step when it starts. */
export const SCAN_PHASES = [
  'reading the medium',
  'listing the medium',
  'reading manifests',
  'checking the medium is still there',
  'updating the catalog',
  'indexing file sets',
  'indexing restic snapshots',
  'reading the WAL archive',
] as const;
export type ScanPhase = (typeof SCAN_PHASES)[number];

const CONCURRENCY = 16;
/** Every format's detector, run over one listing (foreign/discover.ts); the other tools' detector runs last there. */
const DETECTORS: ForeignDetector[] = [seedDetector, pgbackrestDetector, resticDetector];
const NO_SECRETS: ForeignSecrets = { get: () => Promise.resolve(null) };

/**
 * Scan one medium into the catalog: register it, read every new or changed manifest (unchanged
 * ones are skipped by size+mtime, or ETag on S3), record foreign sets, and mark sets that
 * disappeared as missing (never deleted). Nothing is written unless the whole listing succeeded
 * and the medium is still there at the end, so a drive pulled mid-scan leaves the catalog's
 * previous knowledge intact. The phases are SCAN_PHASES, one function each below.
 */
export async function scanMedium(
  catalog: Catalog,
  medium: Medium,
  ctx: ScanCtx,
  options: ScanOptions = {},
): Promise<ScanSummary> {
  const started = new Date();
  const phase = (name: ScanPhase): void => ctx.step(name);
  phase('reading the medium');
  const id = await identify(catalog, medium);
  phase('listing the medium');
  const listing = await listMedium(catalog, medium, id, ctx, options);
  const known = knownSets(catalog, id.mediumId, medium.kind);
  const classified = classify(listing.folders, known);
  phase('reading manifests');
  const read = await readManifests(medium, classified, listing.folders.length, ctx);
  phase('checking the medium is still there');
  await confirmStillThere(catalog, medium, id, listing.folders);
  phase('updating the catalog');
  const committed = commitToCatalog(catalog, medium, id, known, classified, read, listing.foreign, started);
  // The ransomware indicator judges the systems whose sets are new or changed (a rebuilt catalog too).
  for (const system of new Set(read.flatMap((r) => (r.key ? [r.manifest.system] : []))))
    judgeSystem(catalog, system, options.indicator?.(system) ?? DEFAULT_INDICATOR);
  phase('indexing file sets');
  let indexedFileSets = await indexFileSets(catalog, medium, read, options.identities ?? [], ctx);
  const restic = listing.foreign.sets.filter((f) => f.origin === 'restic');
  if (restic.length > 0) {
    phase('indexing restic snapshots');
    indexedFileSets += await indexResticSnapshots(catalog, medium, restic, options.secrets ?? NO_SECRETS, ctx);
  }
  phase('reading the WAL archive');
  await summariseWalArchives(catalog, medium, id.mediumId, started.toISOString(), ctx);
  return report(medium, id, listing, classified, committed, indexedFileSets, started);
}

/** Phase 1: what the medium says it is (its lifeboat-medium.json), and its catalog id. */
interface Identity {
  info: MediumInfo | null;
  mediumId: string;
}

async function identify(catalog: Catalog, medium: Medium): Promise<Identity> {
  try {
    const info = await medium.readInfo();
    return { info, mediumId: info?.id ?? `path:${medium.location}` };
  } catch (e) {
    const err = mapError(e);
    recordScanError(catalog, medium, err.message);
    throw err;
  }
}

/** Phase 2: Lifeboat's set folders, and other tools' backups with what was seen and could not be read. */
interface Listing {
  folders: ListedSetFolder[];
  foreign: Discovery;
}

async function listMedium(
  catalog: Catalog,
  medium: Medium,
  id: Identity,
  ctx: Pick<JobContext, 'log' | 'signal'>,
  options: ForeignScanOptions,
): Promise<Listing> {
  // The zone the seed scripts' names are read in: given, else the one this medium's sets were last read in.
  const timeZone = options.timeZone ?? rememberedTimeZone(catalog, id.mediumId) ?? laptopTimeZone();
  try {
    const folders = await medium.listSetFolders();
    const foreign = await discover(medium, DETECTORS, {
      log: ctx.log,
      signal: ctx.signal,
      secrets: options.secrets ?? NO_SECRETS,
      timeZone,
    });
    return { folders, foreign };
  } catch (e) {
    const err = mapError(e);
    recordScanError(catalog, medium, err.message);
    throw new LifeboatError(
      err.code,
      `The scan of ${medium.location} could not list the medium: ${err.message} The catalog keeps what it knew before.`,
      { hint: err.hint, cause: e },
    );
  }
}

/** Phase 3: each listed set folder is unchanged since the last scan, to be read, or without a manifest. */
interface Classified {
  /** Paths of folders whose manifest is as the catalog recorded it. */
  same: Set<string>;
  toRead: ListedSetFolder[];
  unreadable: Unreadable[];
}

function classify(folders: ListedSetFolder[], known: Known): Classified {
  const out: Classified = { same: new Set(), toRead: [], unreadable: [] };
  // Decided once per folder: a rescan of 10,000 unchanged sets is mostly this comparison.
  for (const f of folders) {
    if (!f.manifest) {
      out.unreadable.push({ path: f.path, reason: 'a set folder without manifest.json (an incomplete copy?)' });
      continue;
    }
    const row = known.rows.get(f.path);
    const line = row ? null : known.lineOf(f);
    if (row ? unchanged(row, f) : line !== null && known.lines.has(line)) out.same.add(f.path);
    else out.toRead.push(f);
  }
  return out;
}

/**
 * Phase 4: the manifests to read, 16 at a time, each checked against its folder; its signer noted.
 * A set that cannot be read is listed in `unreadable` and the scan goes on; an unreachable medium stops it.
 */
async function readManifests(medium: Medium, c: Classified, listed: number, ctx: ScanCtx): Promise<ReadSet[]> {
  let done = listed - c.toRead.length;
  ctx.progress({ itemsTotal: listed, itemsDone: 0 });
  ctx.progress({ itemsDone: done });
  const limit = pLimit(CONCURRENCY);
  const read = await Promise.all(
    c.toRead.map((folder) =>
      limit(async (): Promise<ReadSet | null> => {
        if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
        try {
          return await readManifest(medium, folder);
        } catch (e) {
          const err = mapError(e);
          if (err.code === 'STORAGE_UNREACHABLE' || err.code === 'CANCELLED') throw err;
          // This set only: the scan goes on with the others, and the log names the file.
          ctx.log('warn', `UNREADABLE ${medium.location}/${folder.path}/manifest.json: ${err.message}`);
          c.unreadable.push({ path: folder.path, reason: err.message });
          return null;
        } finally {
          ctx.progress({ itemsDone: ++done, current: folder.path });
        }
      }),
    ),
  );
  return read.filter((r): r is ReadSet => r !== null);
}

async function readManifest(medium: Medium, folder: ListedSetFolder): Promise<ReadSet> {
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
  let signer: string | null;
  try {
    signer = sig ? parseSignature(sig).keyId : null;
  } catch {
    signer = null;
  }
  return { folder, manifest, bytes, signer };
}

/** Phase 5: the medium must still be the same one before anything is written. */
async function confirmStillThere(
  catalog: Catalog,
  medium: Medium,
  id: Identity,
  folders: ListedSetFolder[],
): Promise<void> {
  try {
    const after = await medium.readInfo();
    if ((after?.id ?? null) !== (id.info?.id ?? null))
      throw new LifeboatError('STORAGE_UNREACHABLE', 'The medium changed during the scan.');
    // Without a medium file, a set folder listed at the start must still hold its files (the root of a plain copy
    // may hold nothing but the sets/ folder, so an empty root is no sign of a medium gone).
    if (
      !id.info &&
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
}

/** What phase 6 wrote: the counts, and the keys of the sets seen on the medium this time. */
interface Committed {
  sets: SetCounts;
  foreign: ScanSummary['foreign'];
  seen: Set<string>;
}

/**
 * Phase 6, one transaction: the medium, then the sets — unchanged ones (a reappeared one's row
 * is touched), read ones, foreign ones — then the sets gone, the unreadable list and the scan's time.
 */
function commitToCatalog(
  catalog: Catalog,
  medium: Medium,
  id: Identity,
  known: Known,
  c: Classified,
  read: ReadSet[],
  foreign: Discovery,
  started: Date,
): Committed {
  const now = started.toISOString();
  const out: Committed = {
    sets: { total: 0, new: 0, updated: 0, unchanged: 0, missing: 0, reappeared: 0 },
    foreign: { seedScript: 0, pgbackrest: 0, restic: 0 },
    seen: new Set(),
  };
  // Unchanged sets matched by their line (their keys are not needed: they are neither new nor gone).
  const matchedLines = c.same.size - [...c.same].filter((path) => known.rows.has(path)).length;
  let paths: Set<string> | null = null;
  const knownPaths = (): Set<string> => (paths ??= new Set([...known.lines].map(pathOfLine)));
  catalog.db.transaction(() => {
    recordMedium(catalog, medium, id.info, started);
    commitUnchanged(catalog, id.mediumId, known, c.same, out, now);
    for (const r of read) {
      const key = (r.key = recordSet(
        catalog,
        id.mediumId,
        r.folder.path,
        r.manifest,
        r.bytes,
        r.folder.manifest,
        r.signer,
        started,
      ));
      out.seen.add(key);
      if (known.rows.has(r.folder.path) || knownPaths().has(r.folder.path)) out.sets.updated++;
      else out.sets.new++;
    }
    commitForeign(catalog, id.mediumId, foreign.sets, out, now);
    const unmatched = matchedLines < known.lines.size ? [...knownPaths()].filter((path) => !c.same.has(path)) : [];
    commitGone(catalog, id.mediumId, known, c.same, unmatched, foreign.findings, out, now);
    const db = catalog.db;
    db.prepare('DELETE FROM unreadable WHERE medium_id = ?').run(id.mediumId);
    const bad = db.prepare('INSERT OR REPLACE INTO unreadable (medium_id, path, reason, seen_at) VALUES (?, ?, ?, ?)');
    for (const u of [...foreign.unreadable, ...c.unreadable]) bad.run(id.mediumId, u.path, u.reason, now);
    db.prepare('UPDATE media SET last_sync = ?, last_error = NULL WHERE id = ?').run(now, id.mediumId);
  })();
  out.sets.total = out.seen.size + matchedLines;
  return out;
}

/**
 * A present set was seen at the medium's last successful scan (media.last_sync, written at the
 * end): its own row is written only when it changes — new, updated, reappeared, missing.
 */
function commitUnchanged(
  catalog: Catalog,
  mediumId: string,
  known: Known,
  same: Set<string>,
  out: Committed,
  now: string,
): void {
  const reappeared: string[] = [];
  for (const path of same) {
    out.sets.unchanged++;
    const row = known.rows.get(path);
    if (!row) continue;
    out.seen.add(row.set_key);
    if (row.missing_since) {
      out.sets.reappeared++;
      reappeared.push(row.set_key);
    }
  }
  if (reappeared.length)
    catalog
      .stmt(
        'UPDATE presence SET last_seen = ?, missing_since = NULL WHERE medium_id = ? AND set_key IN (SELECT value FROM json_each(?))',
      )
      .run(now, mediumId, JSON.stringify(reappeared));
}

/**
 * Foreign sets are counted too ("3 sets: 0 new" on a first scan said nothing was found): new when not
 * present here before, unchanged otherwise (they are re-read whole on every scan).
 */
function commitForeign(catalog: Catalog, mediumId: string, sets: ForeignSet[], out: Committed, now: string): void {
  const presentHere = catalog.stmt(
    'SELECT 1 FROM presence WHERE set_key = ? AND medium_id = ? AND missing_since IS NULL',
  );
  for (const f of sets) {
    const before = presentHere.get(`${f.system}/${f.setId}`, mediumId) !== undefined;
    out.seen.add(recordForeignSet(catalog, mediumId, f, now));
    if (before) out.sets.unchanged++;
    else out.sets.new++;
    if (f.origin === 'seed-script') out.foreign.seedScript++;
    else if (f.origin === 'restic') out.foreign.restic++;
    else out.foreign.pgbackrest++;
  }
}

/**
 * Sets no longer on the medium (or no longer readable there): marked missing with the time, never
 * deleted. Candidates: rows not listed unchanged, and present sets whose line was not matched
 * (`unmatched`: none when every line was, the usual rescan).
 */
function commitGone(
  catalog: Catalog,
  mediumId: string,
  known: Known,
  same: Set<string>,
  unmatched: string[],
  findings: ForeignFinding[],
  out: Committed,
  now: string,
): void {
  const gone: string[] = [];
  // A set inside something this scan could not read (a restic repository without its password) is not gone: not seen, this time.
  const held = (path: string): boolean =>
    findings.some(
      (f) => f.blocking && (f.path === path || (f.path === '.' && path === '') || path.startsWith(`${f.path}/`)),
    );
  for (const row of known.rows.values())
    if (!row.missing_since && !same.has(row.set_path) && !held(row.set_path)) gone.push(row.set_key);
  if (unmatched.length > 0) {
    const keys = catalog.db
      .prepare(
        'SELECT set_key FROM presence WHERE medium_id = ? AND missing_since IS NULL AND set_path IN (SELECT value FROM json_each(?))',
      )
      .pluck()
      .all(mediumId, JSON.stringify(unmatched)) as string[];
    gone.push(...keys);
  }
  // Last seen at the previous scan (this one's time is written to media.last_sync at the end).
  const markMissing = catalog.stmt(
    'UPDATE presence SET missing_since = ?, last_seen = max(last_seen, coalesce((SELECT last_sync FROM media WHERE id = ?), last_seen)) WHERE set_key = ? AND medium_id = ?',
  );
  for (const key of gone) {
    if (out.seen.has(key)) continue;
    markMissing.run(now, mediumId, key, mediumId);
    out.sets.missing++;
  }
}

/** The last phase: the summary, with what the operator should do next. */
function report(
  medium: Medium,
  id: Identity,
  listing: Listing,
  c: Classified,
  committed: Committed,
  indexedFileSets: number,
  started: Date,
): ScanSummary {
  const { foreign } = listing;
  const unreadable = [...foreign.unreadable, ...c.unreadable];
  const hints: string[] = [];
  // Another tool's repository is not made a Lifeboat medium (a lifeboat-medium.json written into a restic or Borg repository).
  if (!id.info && foreign.findings.length === 0 && !foreign.sets.some((f) => f.origin === 'restic'))
    hints.push(
      `${medium.location} has no ${MEDIUM_FILE}: it is cataloged by its path. To give it a stable identity: lifeboat medium init ${medium.location} --label <label>`,
    );
  if (unreadable.length > 0)
    hints.push(
      `${unreadable.length} item(s) could not be read; see the list. Verify the medium (lifeboat verify) before relying on it.`,
    );
  const blocking = foreign.findings.filter((f) => f.blocking).length;
  if (blocking > 0) hints.push(`${blocking} backup(s) found here cannot be read without what the findings name.`);
  // Cold storage (S3 GLACIER / DEEP_ARCHIVE): a state of the set, said with what to do, never a failure.
  const asleep = listing.folders.filter((f) => f.manifest && f.archive && f.archive.state !== 'restored');
  if (asleep.length > 0) {
    const waiting = asleep.filter((f) => f.archive!.state === 'archived');
    const names = (fs: ListedSetFolder[]): string =>
      `${fs
        .slice(0, 5)
        .map((f) => `${f.system}/${f.setId} (${f.archive!.storageClass})`)
        .join(', ')}${fs.length > 5 ? ` and ${fs.length - 5} more` : ''}`;
    if (waiting.length)
      hints.push(
        `${waiting.length} set(s) archived: request a restore first (lifeboat medium restore-request <set> --days N) before a verify or restore reads them: ${names(waiting)}.`,
      );
    const restoring = asleep.filter((f) => f.archive!.state === 'restoring');
    if (restoring.length)
      hints.push(`${restoring.length} set(s) archived, a restore request not done yet: ${names(restoring)}.`);
  }
  if (committed.sets.total === 0 && foreign.findings.length === 0 && foreign.seen.files > 0)
    hints.push(`0 sets: ${describeSeen(foreign.seen, formatBytes)}.`);
  return {
    mediumId: id.mediumId,
    label: id.info?.label ?? null,
    location: medium.location,
    kind: medium.kind,
    initialized: id.info !== null,
    sets: committed.sets,
    foreign: committed.foreign,
    unreadable,
    findings: foreign.findings,
    seen: foreign.seen,
    indexedFileSets,
    durationMs: Date.now() - started.getTime(),
    hints,
  };
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
