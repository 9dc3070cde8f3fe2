import { systemNameFrom } from '../foreign/names';
import { LifeboatError } from '../errors';
import {
  listPgbrArchive,
  readArchiveInfo,
  readPgbrInfo,
  readPgbrWal,
  type PgbrArchiveInfo,
  type PgbrKeys,
  type PgbrWal,
} from '../foreign/pgbackrest/wal';
import type { Medium } from '../storage/medium';
import type { BaseBackup, WalSignatures, WalSource } from './plan';
import type { ArchivedWal } from './wal-archive';
import { WAL_SEGMENT_DEFAULT } from '../format/wal-names';

/** A pgBackRest stanza planned over: the source, and what a restore needs besides (archive.info's facts). */
export interface PgbrWalSource extends WalSource {
  origin: 'pgbackrest';
  stanza: string;
  archiveInfo: PgbrArchiveInfo;
  keys: PgbrKeys;
}

interface BackupEntry {
  'backup-archive-start'?: string;
  'backup-archive-stop'?: string;
  'backup-lsn-start'?: string;
  'backup-lsn-stop'?: string;
  'backup-timestamp-start'?: number;
  'backup-timestamp-stop'?: number;
  'backup-info-size'?: number;
  'backup-error'?: boolean;
  'db-id'?: number;
}

/** The stanza's backups from backup.info (plain or encrypted): every full/diff/incr is a base to plan from. */
export async function pgbrBases(
  medium: Medium,
  stanza: string,
  keys: PgbrKeys,
  dbId: number,
  dbVersion: string,
): Promise<BaseBackup[]> {
  const { ini } = await readPgbrInfo(medium, `backup/${stanza}/backup.info`, keys);
  const bases: BaseBackup[] = [];
  for (const [label, value] of ini.get('backup:current') ?? new Map<string, string>()) {
    let e: BackupEntry;
    try {
      e = JSON.parse(value) as BackupEntry;
    } catch {
      throw new LifeboatError('FORMAT_INVALID', `backup/${stanza}/backup.info: the entry of ${label} is not JSON.`);
    }
    // A backup of an earlier cluster (before a stanza-upgrade) replays the WAL of another archive.
    if (e['db-id'] !== undefined && e['db-id'] !== dbId) continue;
    if (
      !e['backup-archive-start'] ||
      !e['backup-lsn-start'] ||
      !e['backup-timestamp-stop'] ||
      e['backup-error'] === true
    )
      continue;
    bases.push({
      setId: label,
      setPath: `backup/${stanza}/${label}`,
      timeline: Number.parseInt(e['backup-archive-start'].slice(0, 8), 16),
      startLsn: e['backup-lsn-start'],
      stopLsn: e['backup-lsn-stop'] ?? e['backup-lsn-start'],
      startedAt: new Date((e['backup-timestamp-start'] ?? e['backup-timestamp-stop']) * 1000).toISOString(),
      finishedAt: new Date(e['backup-timestamp-stop'] * 1000).toISOString(),
      serverMajor: Number.parseInt(dbVersion, 10) || 0,
      // pgBackRest records no segment size in backup.info; PostgreSQL's default is what its WAL names assume here.
      segmentBytes: WAL_SEGMENT_DEFAULT,
      bytes: e['backup-info-size'] ?? 0,
    });
  }
  return bases;
}

const NO_SIGNATURES: WalSignatures = { signed: 0, unsigned: 0, untrusted: 0, invalid: 0, problems: [] };

/** A pgBackRest stanza as a WAL source: its backups and its archive, every file proven by the SHA-1 in its name as it is read. */
export async function pgbackrestWalSource(medium: Medium, stanza: string, keys: PgbrKeys): Promise<PgbrWalSource> {
  const info = await readArchiveInfo(medium, stanza, keys);
  const byPath = new Map<string, PgbrWal>();
  return {
    origin: 'pgbackrest',
    stanza,
    archiveInfo: info,
    keys,
    bases: () => pgbrBases(medium, stanza, keys, info.dbId, info.dbVersion),
    list: async () => {
      const files = await listPgbrArchive(medium, info);
      for (const f of files) byPath.set(f.path, f);
      return files.map((f): ArchivedWal => ({
        name: f.name,
        kind: f.kind,
        timeline: f.timeline,
        sha256: '',
        encodings: [],
        path: f.path,
        bytes: f.bytes,
        mtimeMs: f.mtimeMs,
      }));
    },
    read: async (w, use) => {
      const f = byPath.get(w.path);
      if (!f) throw new LifeboatError('NOT_FOUND', `${w.name} is not in the pgBackRest archive of ${stanza}.`);
      return use(await readPgbrWal(medium, info, f));
    },
    signatures: () => Promise.resolve({ summary: NO_SIGNATURES, byName: new Map() }),
    noBaseWarning: `no pgBackRest backup of ${stanza} on ${medium.location} (backup/${stanza}/backup.info lists none usable)`,
  };
}

/**
 * The stanza of a system on a medium: `archive/<system>/archive.info`, else the stanza whose system
 * name (as the catalog derives it: lower case, safe characters) is the system. Null when none.
 */
export async function findPgbrStanza(medium: Medium, system: string): Promise<string | null> {
  for (const p of [`archive/${system}/archive.info`, `archive/${system}/archive.info.copy`]) {
    if (await medium.stat(p).catch(() => null)) return system;
  }
  const infos = await medium.listFiles('archive', { maxDepth: 1, limit: 10_000 }).catch(() => []);
  const stanzas = [
    ...new Set(
      infos
        .map((f) => /^archive\/([^/]+)\/archive\.info(?:\.copy)?$/.exec(f.path)?.[1])
        .filter((x): x is string => !!x),
    ),
  ];
  const named = stanzas.filter((s) => systemNameFrom(s) === system);
  if (named.length > 1)
    throw new LifeboatError('BAD_INPUT', `Several pgBackRest stanzas are named like ${system} (${named.join(', ')}).`);
  return named[0] ?? null;
}

/**
 * The archive a system's PITR reads: Lifeboat's own `wal/<system>` when it holds anything, else a
 * pgBackRest stanza of that name on the medium, else Lifeboat's (empty: the plan says so).
 */
export async function foreignWalSourceFor(
  medium: Medium,
  system: string,
  keys: PgbrKeys,
): Promise<PgbrWalSource | null> {
  const own = await medium.listFiles(`wal/${system}`, { limit: 1, maxDepth: 2 }).catch(() => []);
  if (own.length > 0) return null;
  const stanza = await findPgbrStanza(medium, system);
  return stanza ? pgbackrestWalSource(medium, stanza, keys) : null;
}
