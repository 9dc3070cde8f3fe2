import pLimit from 'p-limit';
import type { AgeIdentity } from '../crypto/age';
import { parseSignature } from '../crypto/signing';
import { LifeboatError, mapError } from '../errors';
import { JSON_LIMITS } from '../format/check';
import { parseManifest, sha256Hex } from '../format/manifest';
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
import { hashToColumn } from './hash-column';
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
  /** Manifests read and committed per batch (default BATCH_SETS). */
  batchSets?: number;
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
 * At most this many manifests are held at once: a scan reads, checks and commits them a batch at a
 * time (a bucket written by a fleet holds 100,000 sets and more), and a batch is also cut at
 * BATCH_BYTES of manifests.
 */
export const BATCH_SETS = 250;
const BATCH_BYTES = 32 * 1024 * 1024;

/**
 * Scan one medium into the catalog: register it, read every new or changed manifest (unchanged
 * ones are skipped by size+mtime, or ETag on S3), record foreign sets, and mark sets that
 * disappeared as missing (never deleted). The manifests are read and committed in batches
 * (BATCH_SETS), each whole set in one transaction with the others of its batch, and each batch
 * only after the medium is confirmed still there; what the whole listing decides — sets gone,
 * the unreadable list, the time of the scan — is written once every batch is in. So a drive
 * pulled, a crash or a cancel mid-scan leaves the sets already committed (each complete) and
 * the catalog's previous knowledge of the rest: nothing is marked missing, and the medium's
 * `last_error` says the scan did not finish. The next scan reads what is left and completes what
 * the interrupted one could not (judging systems, indexing file sets). The phases are
 * SCAN_PHASES, one function each below; reading, checking and updating repeat per batch.
 */
export async function scanMedium(
  catalog: Catalog,
  medium: Medium,
  ctx: ScanCtx,
  options: ScanOptions = {},
): Promise<ScanSummary> {
  // A smaller page cache while scanning: a batch's writes are a few MiB, and the scan's memory stays bounded.
  const cache = catalog.db.pragma('cache_size', { simple: true }) as number;
  catalog.db.pragma(`cache_size = ${SCAN_CACHE_KIB}`);
  try {
    return await scan(catalog, medium, ctx, options);
  } finally {
    catalog.db.pragma(`cache_size = ${cache}`);
  }
}

/** SQLite's page cache during a scan, in KiB (negative: a size, as the pragma takes it). */
const SCAN_CACHE_KIB = -8000;

async function scan(catalog: Catalog, medium: Medium, ctx: ScanCtx, options: ScanOptions): Promise<ScanSummary> {
  const started = new Date();
  let current: ScanPhase | null = null;
  const phase = (name: ScanPhase): void => {
    if (name !== current) ctx.step((current = name));
  };
  phase('reading the medium');
  const id = await identify(catalog, medium);
  phase('listing the medium');
  const listing = await listMedium(catalog, medium, id, ctx, options);
  const known = knownSets(catalog, id.mediumId, medium.kind);
  const classified = classify(listing.folders, known);
  // Decided before anything is written: the previous scan of this medium did not finish (or there was none).
  const completing = interruptedBefore(catalog, id.mediumId);
  const committed = newCommitted();
  const systems = new Set<string>();
  const batches = inBatches(classified.toRead, options.batchSets ?? BATCH_SETS);
  const progress = { listed: listing.folders.length, done: listing.folders.length - classified.toRead.length };
  // The listing is not kept past here (at 100,000 sets it is tens of MiB): the batches hold what is left to read.
  const probe = listing.folders.slice(0, 1);
  listing.asleep = listing.folders.filter((f) => f.manifest && f.archive && f.archive.state !== 'restored');
  listing.folders = [];
  classified.toRead = [];
  ctx.progress({ itemsTotal: progress.listed, itemsDone: 0 });
  ctx.progress({ itemsDone: progress.done });
  for (let b = 0; b < batches.length; b++) {
    if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
    phase('reading manifests');
    const read = await readManifests(medium, batches[b]!, classified, progress, ctx);
    batches[b] = [];
    phase('checking the medium is still there');
    await confirmStillThere(catalog, medium, id, probe);
    phase('updating the catalog');
    commitBatch(catalog, medium, id, known, classified, read, committed, started, b === 0);
    for (const r of read) systems.add(r.manifest.system);
  }
  const recorded = committed.sets.new + committed.sets.updated;
  commitToCatalog(catalog, id, known, classified, listing.foreign, committed, started);
  // The ransomware indicator judges the systems whose sets are new or changed (a rebuilt catalog too),
  // and after an interrupted scan every system of the medium (its judging may not have happened).
  if (completing) for (const system of systemsOn(catalog, id.mediumId)) systems.add(system);
  for (const system of systems) judgeSystem(catalog, system, options.indicator?.(system) ?? DEFAULT_INDICATOR);
  phase('indexing file sets');
  let indexedFileSets =
    recorded > 0 || completing
      ? await indexFileSets(
          catalog,
          medium,
          id.mediumId,
          completing ? null : started.toISOString(),
          options.identities ?? [],
          ctx,
        )
      : 0;
  const restic = listing.foreign.sets.filter((f) => f.origin === 'restic');
  if (restic.length > 0) {
    phase('indexing restic snapshots');
    indexedFileSets += await indexResticSnapshots(catalog, medium, restic, options.secrets ?? NO_SECRETS, ctx);
  }
  phase('reading the WAL archive');
  await summariseWalArchives(catalog, medium, id.mediumId, started.toISOString(), ctx);
  return report(medium, id, listing, classified, committed, indexedFileSets, started);
}

/** The folders to read, cut in batches of at most `size` sets and about BATCH_BYTES of manifests; always one batch (perhaps empty). */
function inBatches(folders: Pending[], size: number): Pending[][] {
  const out: Pending[][] = [[]];
  let bytes = 0;
  for (const f of folders) {
    const fsize = typeof f === 'string' ? Number(f.slice(0, f.indexOf('\t'))) : (f.manifest?.size ?? 0);
    let last = out[out.length - 1]!;
    if (last.length >= Math.max(1, size) || (last.length > 0 && bytes + fsize > BATCH_BYTES)) {
      out.push((last = []));
      bytes = 0;
    }
    last.push(f);
    bytes += fsize;
  }
  return out;
}

const UNFINISHED = (now: string): string =>
  `The scan started at ${now} did not finish; the sets it read are in the catalog. Scan this medium again to complete it.`;

/** True when this medium's last scan did not finish (or it was never scanned): this scan completes what that one left. */
function interruptedBefore(catalog: Catalog, mediumId: string): boolean {
  const row = catalog.stmt('SELECT last_sync, last_error FROM media WHERE id = ?').get(mediumId) as
    { last_sync: string | null; last_error: string | null } | undefined;
  return !row || row.last_sync === null || row.last_error !== null;
}

/** The systems with Lifeboat sets present on a medium. */
function systemsOn(catalog: Catalog, mediumId: string): string[] {
  return catalog.db
    .prepare(
      "SELECT DISTINCT s.system FROM presence p JOIN sets s ON s.key = p.set_key WHERE p.medium_id = ? AND p.missing_since IS NULL AND s.origin = 'lifeboat'",
    )
    .pluck()
    .all(mediumId) as string[];
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
  /** Set folders in cold storage not yet readable (kept past the listing for the summary's hint; few). */
  asleep?: ListedSetFolder[];
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

/**
 * Phase 3: each listed set folder is unchanged since the last scan, to be read, or without a manifest.
 * The folders to read are kept as one text each (`Pending`): at 100,000 sets a third of the memory
 * of the listing's objects, which are not kept.
 */
interface Classified {
  /** How many folders matched a line of `known` (unchanged present sets; their lines are taken out of it). */
  matchedLines: number;
  /** Paths of folders unchanged since the row `known` has of them (missing, foreign or unusual ones). */
  sameRows: Set<string>;
  toRead: Pending[];
  unreadable: Unreadable[];
}

function classify(folders: ListedSetFolder[], known: Known): Classified {
  const out: Classified = { matchedLines: 0, sameRows: new Set(), toRead: [], unreadable: [] };
  // Decided once per folder: a rescan of 10,000 unchanged sets is mostly this comparison.
  for (const f of folders) {
    if (!f.manifest) {
      out.unreadable.push({ path: f.path, reason: 'a set folder without manifest.json (an incomplete copy?)' });
      continue;
    }
    const row = known.rows.get(f.path);
    if (row) {
      if (unchanged(row, f)) out.sameRows.add(f.path);
      else out.toRead.push(pending(f));
      continue;
    }
    // A matched line is taken out: what is left of `known.lines` are the present sets not listed unchanged.
    const line = known.lineOf(f);
    if (line !== null && known.lines.delete(line)) out.matchedLines++;
    else out.toRead.push(pending(f));
  }
  return out;
}

/** A folder to read: `size TAB mtime TAB etag TAB sets/<system>/<set id>` when it has that form, else as listed. */
type Pending = string | ListedSetFolder;

function pending(f: ListedSetFolder): Pending {
  const m = f.manifest;
  const plain =
    m !== null &&
    m.etag !== '' &&
    !(m.etag ?? '').includes('\t') &&
    !f.path.includes('\t') &&
    f.path === `sets/${f.system}/${f.setId}`;
  // Joined, not a template: one flat string rather than a tree of parts.
  return plain ? [m.size, m.mtimeMs, m.etag ?? '', f.path].join('\t') : f;
}

function listed(p: Pending): ListedSetFolder {
  if (typeof p !== 'string') return p;
  const a = p.indexOf('\t');
  const b = p.indexOf('\t', a + 1);
  const c = p.indexOf('\t', b + 1);
  const path = p.slice(c + 1);
  const slash = path.indexOf('/', 5);
  return {
    system: path.slice(5, slash),
    setId: path.slice(slash + 1),
    path,
    manifest: { size: Number(p.slice(0, a)), mtimeMs: Number(p.slice(a + 1, b)), etag: p.slice(b + 1, c) || null },
  };
}

/**
 * Phase 4, per batch: its manifests, 16 at a time, each checked against its folder; its signer noted.
 * A set that cannot be read is listed in `unreadable` and the scan goes on; an unreachable medium stops it.
 */
async function readManifests(
  medium: Medium,
  batch: Pending[],
  c: Classified,
  progress: { done: number },
  ctx: ScanCtx,
): Promise<ReadSet[]> {
  const limit = pLimit(CONCURRENCY);
  const read = await Promise.all(
    batch.map((p) =>
      limit(async (): Promise<ReadSet | null> => {
        const folder = listed(p);
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
          ctx.progress({ itemsDone: ++progress.done, current: folder.path });
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
  return { folder, manifest, sha256: sha256Hex(bytes), signer };
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
  /** The paths of the known lines no listed folder matched (built when first needed). */
  knownPaths?: Set<string>;
}

function newCommitted(): Committed {
  return {
    sets: { total: 0, new: 0, updated: 0, unchanged: 0, missing: 0, reappeared: 0 },
    foreign: { seedScript: 0, pgbackrest: 0, restic: 0 },
    seen: new Set(),
  };
}

function knownPaths(known: Known, out: Committed): Set<string> {
  return (out.knownPaths ??= new Set([...known.lines].map(pathOfLine)));
}

/**
 * Phase 6, per batch, one transaction: with the first batch, the medium (noted as being scanned
 * until the scan's end) and the sets listed unchanged (a reappeared one's row is touched); then
 * the batch's sets, each whole: its row, artifacts and presence.
 */
function commitBatch(
  catalog: Catalog,
  medium: Medium,
  id: Identity,
  known: Known,
  c: Classified,
  read: ReadSet[],
  out: Committed,
  started: Date,
  first: boolean,
): void {
  catalog.db.transaction(() => {
    if (first) {
      recordMedium(catalog, medium, id.info, started);
      catalog.stmt('UPDATE media SET last_error = ? WHERE id = ?').run(UNFINISHED(started.toISOString()), id.mediumId);
      // The sets listed unchanged first, as before batches (a reappeared parent is present for its new child's key).
      commitUnchanged(catalog, id.mediumId, known, c, out, started.toISOString());
    }
    for (const r of read) {
      const key = (r.key = recordSet(
        catalog,
        id.mediumId,
        r.folder.path,
        r.manifest,
        r,
        r.folder.manifest,
        r.signer,
        started,
      ));
      out.seen.add(key);
      if (known.rows.has(r.folder.path) || knownPaths(known, out).has(r.folder.path)) out.sets.updated++;
      else out.sets.new++;
    }
  })();
}

/**
 * Phase 6, once every batch is in, one transaction: the foreign sets, then the sets gone — decided on the whole listing —, the unreadable list
 * and the scan's time.
 */
function commitToCatalog(
  catalog: Catalog,
  id: Identity,
  known: Known,
  c: Classified,
  foreign: Discovery,
  out: Committed,
  started: Date,
): void {
  const now = started.toISOString();
  catalog.db.transaction(() => {
    commitForeign(catalog, id.mediumId, foreign.sets, out, now);
    // The known lines left after classify: present sets not listed unchanged (none on the usual rescan).
    commitGone(catalog, id.mediumId, known, c.sameRows, [...knownPaths(known, out)], foreign.findings, out, now);
    const db = catalog.db;
    db.prepare('DELETE FROM unreadable WHERE medium_id = ?').run(id.mediumId);
    const bad = db.prepare('INSERT OR REPLACE INTO unreadable (medium_id, path, reason, seen_at) VALUES (?, ?, ?, ?)');
    for (const u of [...foreign.unreadable, ...c.unreadable]) bad.run(id.mediumId, u.path, u.reason, now);
    db.prepare('UPDATE media SET last_sync = ?, last_error = NULL WHERE id = ?').run(now, id.mediumId);
  })();
  // Unchanged sets matched by their line: their keys are not needed, they are neither new nor gone.
  out.sets.total = out.seen.size + c.matchedLines;
}

/**
 * A present set was seen at the medium's last successful scan (media.last_sync, written at the
 * end): its own row is written only when it changes — new, updated, reappeared, missing.
 */
function commitUnchanged(
  catalog: Catalog,
  mediumId: string,
  known: Known,
  c: Classified,
  out: Committed,
  now: string,
): void {
  const reappeared: string[] = [];
  out.sets.unchanged += c.matchedLines;
  for (const path of c.sameRows) {
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
  const asleep = listing.asleep ?? [];
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
    insert.run(key, a.path, a.role, a.bytes, hashToColumn(a.sha256), /-gz(\+enc)?$/.test(a.role) ? 'gzip' : '');
  catalog
    .stmt(
      `INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen, missing_since) VALUES (?, ?, ?, ?, ?, NULL)
     ON CONFLICT(set_key, medium_id) DO UPDATE SET last_seen = excluded.last_seen, missing_since = NULL, set_path = excluded.set_path`,
    )
    .run(key, mediumId, f.setPath, now, now);
  return key;
}
