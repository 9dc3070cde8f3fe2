import { hostname } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { MediumInfo } from '../format/medium';

/**
 * Where sets live: a local folder (USB drive, NAS mount) or an S3 bucket + prefix. Both give
 * the same guarantees: a set becomes visible to readers only once complete (folder: the set
 * directory is renamed into place; S3: manifest.json is written last), and partial leftovers
 * of an interrupted backup are recognisable and cleaned up by the next run.
 */
export interface ArtifactSink {
  stream: Writable;
  /** Resolves once the bytes are durable (fsynced, or the upload completed). */
  done: Promise<void>;
  /** True when a written chunk is no longer referenced once its write callback ran (so its memory can be reused). */
  releasesChunks?: boolean;
}

export interface SetWriter {
  /** Final relative path of the set: sets/<system>/<set id>. */
  readonly setPath: string;
  /** `readable`: a small artifact (a file index) kept out of SetWriteOptions.artifactClass, in the readable class. */
  openArtifact(name: string, o?: { readable?: boolean }): ArtifactSink;
  /** Write the small files (manifest.json must be last) and make the set visible. */
  commit(files: Array<{ name: string; bytes: Buffer }>): Promise<void>;
  /**
   * Remove everything written so far. `cause` is why the set failed: a medium that has become
   * unreachable is not asked again at length (the next backup removes the leftovers).
   */
  abort(cause?: unknown): Promise<void>;
}

export interface ObjectStat {
  size: number;
  mtimeMs: number;
  etag: string | null;
  /** A symbolic link in place of a file (folders only): never followed by readers. */
  symlink?: boolean;
  /** The storage class as the store names it (S3 HEAD), where it says one. */
  storageClass?: string;
  /**
   * Cold storage (S3 GLACIER / DEEP_ARCHIVE, an archive access tier): the object exists but cannot
   * be read before a restore request (`restoring` while it runs, `restored` with a readable copy
   * until `until`). Absent for an object readable at once.
   */
  archive?: ArchiveInfo;
}

/** An object in a storage class or tier that needs a restore request before it can be read. */
export interface ArchiveInfo {
  state: 'archived' | 'restoring' | 'restored';
  /** The class or tier as the store names it (GLACIER, DEEP_ARCHIVE, Archive…). */
  storageClass: string;
  /** When a restored copy expires (ISO time), if the store says. */
  until: string | null;
}

/** What a set writer is asked beyond the set's name. */
export interface SetWriteOptions {
  /** The storage class (S3) or access tier of the set's artifacts; the small files stay readable at once. */
  artifactClass?: string;
}

/** A restore request's outcome for one object (Medium.requestRestore). */
export type RestoreRequestState = 'requested' | 'restoring' | 'restored' | 'readable';

export interface ListedSet {
  system: string;
  setId: string;
  /** sets/<system>/<set id> */
  path: string;
  manifest: ObjectStat;
}

/** A set folder, complete or not (a folder without manifest.json is reported by scans). */
export interface ListedSetFolder {
  system: string;
  setId: string;
  path: string;
  manifest: ObjectStat | null;
  /** Files of the set in cold storage, as the listing says (the least readable state of them); absent when none. */
  archive?: ArchiveInfo;
}

export interface ListFilesOptions {
  /** How many folder levels below the prefix to descend (default 8). */
  maxDepth?: number;
  limit?: number;
  /** Top-level folder names not to enter (e.g. sets, wal). */
  skip?: string[];
  /** Told of each folder left unentered because of maxDepth, so a caller can say where its listing stopped. */
  onDeeper?: (folder: string) => void;
  /** Told of each symbolic link the listing skips (it never follows one), so a caller can say it saw them. */
  onLink?: (path: string) => void;
}

export interface ListedFile {
  /** Relative to the medium root. */
  path: string;
  size: number;
  mtimeMs: number;
  etag: string | null;
}

export interface Medium {
  readonly kind: 'folder' | 's3' | 'azure';
  /** Absolute folder path, s3://bucket/prefix or azure://container/prefix. */
  readonly location: string;
  readInfo(): Promise<MediumInfo | null>;
  /** Write lifeboat-medium.json; refuses when one exists. */
  writeInfo(info: MediumInfo): Promise<void>;
  beginSet(system: string, setId: string, options?: SetWriteOptions): Promise<SetWriter>;
  /** Every complete set (a folder holding manifest.json) under sets/. */
  listSets(): Promise<ListedSet[]>;
  /** Every set folder under sets/, with or without manifest.json (partial writes excluded). */
  listSetFolders(): Promise<ListedSetFolder[]>;
  /** Files under a prefix ('' for all), for foreign layouts; at most `limit` entries. */
  listFiles(prefix: string, options?: ListFilesOptions): Promise<ListedFile[]>;
  readFile(rel: string): Promise<Buffer>;
  /** Files directly in `dir` whose name starts with `namePrefix` (cheap: no stat of the others; one filtered listing on S3). */
  listNamed(dir: string, namePrefix: string): Promise<ListedFile[]>;
  /** Remove one file (WAL retention); absent is fine. */
  removeFile(rel: string): Promise<void>;
  /** Write a small object whole and atomically (WAL files): readers see all of it or nothing. */
  putFile(rel: string, bytes: Buffer): Promise<void>;
  /** Like readFile, but null when the file is not there (no error built for the common case). */
  readOptional(rel: string): Promise<Buffer | null>;
  openRead(rel: string): Promise<Readable>;
  stat(rel: string): Promise<ObjectStat | null>;
  /** Remove a set: its manifest first, so it stops being a set before its bytes go. */
  removeSet(setPath: string): Promise<void>;
  /** Remove leftovers of interrupted backups whose writer is gone; returns what was removed. */
  cleanupPartials(): Promise<string[]>;
  /** The local file behind a path (folders), for reading off the main thread; null on S3. */
  localPath(rel: string): string | null;
  /**
   * Media with cold storage only: ask for a readable copy of an archived object for `days` days
   * (S3 RestoreObject). Says what the object's state is after the call, and its storage class as
   * the store names it (`STANDARD` for a readable object, `GLACIER`…); absent on other media.
   */
  requestRestore?(
    rel: string,
    o: { days: number; tier: RestoreTier },
  ): Promise<{ state: RestoreRequestState; storageClass: string }>;
}

export const RESTORE_TIERS = ['Standard', 'Bulk', 'Expedited'] as const;
export type RestoreTier = (typeof RESTORE_TIERS)[number];

export interface PartialOwner {
  pid: number;
  host: string;
  started_at: string;
}

/** The in-progress marker of a set being written to an object store (S3, Azure). */
export const PARTIAL_MARKER = '.partial';

/** An object of an object store, by its path relative to the medium root. */
export interface ListedObject {
  rel: string;
  size: number;
  mtimeMs: number;
  etag: string | null;
  /** Cold storage: the object cannot be read before a restore request (S3 GLACIER…, an archive tier). */
  archive?: ArchiveInfo;
}

const ARCHIVE_RANK: Record<ArchiveInfo['state'], number> = { archived: 0, restoring: 1, restored: 2 };

/**
 * The set folders of an object store's listing of sets/: a folder whose in-progress marker is
 * there and whose manifest is not is a partial write, left out.
 */
export function setFoldersOf(objects: ListedObject[]): ListedSetFolder[] {
  const folders = new Map<string, ListedSetFolder>();
  const partial = new Set<string>();
  for (const o of objects) {
    const parts = o.rel.split('/');
    if (parts.length < 4) continue;
    const [, system, setId] = parts as [string, string, string];
    if (system.startsWith('.') || setId.startsWith('.')) continue;
    const path = `sets/${system}/${setId}`;
    const folder: ListedSetFolder = folders.get(path) ?? { system, setId, path, manifest: null };
    // The least readable state of the set's files stands for the set: archived, then restoring, then restored.
    if (o.archive && (!folder.archive || ARCHIVE_RANK[o.archive.state] < ARCHIVE_RANK[folder.archive.state]))
      folder.archive = o.archive;
    if (parts.length === 4 && parts[3] === 'manifest.json')
      folder.manifest = { size: o.size, mtimeMs: o.mtimeMs, etag: o.etag };
    if (parts.length === 4 && parts[3] === PARTIAL_MARKER) partial.add(path);
    folders.set(path, folder);
  }
  return [...folders.values()]
    .filter((f) => !partial.has(f.path) || f.manifest !== null)
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** Remove the partial sets of an object store's listing of sets/ whose writer is gone; returns their paths. */
export async function removeAbandonedPartials(
  objects: ListedObject[],
  readFile: (rel: string) => Promise<Buffer>,
  removeFolder: (setPathSlash: string) => Promise<void>,
): Promise<string[]> {
  const removed: string[] = [];
  for (const o of objects) {
    if (!o.rel.endsWith(`/${PARTIAL_MARKER}`)) continue;
    const setPath = o.rel.slice(0, -PARTIAL_MARKER.length - 1);
    const owner = await readFile(o.rel).then(
      (b) => JSON.parse(b.toString('utf8')) as PartialOwner,
      () => null,
    );
    if (isAbandoned(owner, Date.now() - o.mtimeMs, hostname())) {
      await removeFolder(`${setPath}/`);
      removed.push(setPath);
    }
  }
  return removed;
}

/** A partial set is abandoned when its writer process is gone, or it is a day old. */
export function completeSets(folders: ListedSetFolder[]): ListedSet[] {
  return folders.filter((f): f is ListedSet => f.manifest !== null);
}

export function isAbandoned(owner: PartialOwner | null, ageMs: number, thisHost: string): boolean {
  if (!owner) return ageMs > 60 * 60 * 1000;
  if (owner.host === thisHost) {
    try {
      process.kill(owner.pid, 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
  return ageMs > 24 * 60 * 60 * 1000;
}
