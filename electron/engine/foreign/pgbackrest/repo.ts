import { LifeboatError, mapError } from '../../errors';
import { JSON_LIMITS } from '../../format/check';
import { looksOpenSslSalted, openSslDecryptBuffer } from '../../crypto/openssl-enc';
import type { Medium } from '../../storage/medium';
import { json, parseCheckedIni, type Ini } from './ini';
import { needsSecret } from '../secrets';

/**
 * A pgBackRest repository as files on a medium (format 5, pgBackRest 2.x): `backup/<stanza>/backup.info`,
 * one folder per backup label with `backup.manifest` and the files (`pg_data/…<ext>` or `bundle/<id>`),
 * `archive/<stanza>/archive.info` and the WAL. Everything here reads; nothing is written.
 *
 * Encryption (repo*-cipher-type=aes-256-cbc): the repository passphrase opens backup.info and archive.info;
 * backup.info's `[cipher] cipher-pass` opens each backup.manifest; each manifest's `[cipher] cipher-pass`
 * opens that backup's files; archive.info's opens the WAL. All in OpenSSL's enc format, EVP_BytesToKey with SHA-1.
 */

export const PGBR_KDF = { kind: 'evp', digest: 'sha1' } as const;
export type CompressType = 'gz' | 'zst' | 'lz4' | 'bz2' | 'none';
const EXT: Record<CompressType, string> = { gz: '.gz', zst: '.zst', lz4: '.lz4', bz2: '.bz2', none: '' };

/** The marker a reader throws when a file is encrypted and no passphrase was given (the detector turns it into a finding). */
export class PgbrNeedsPassphrase extends LifeboatError {
  constructor(readonly stanza: string) {
    super('CREDENTIAL_UNAVAILABLE', `encrypted pgBackRest repository ${stanza}: give its passphrase`, {
      hint: `Give ${needsSecret('pgbackrest-cipher', stanza)}.`,
    });
  }
}

export interface BackupInfoEntry {
  label: string;
  type: string | null;
  prior: string | null;
  references: string[];
  timestampStart: number | null;
  timestampStop: number | null;
  archiveStart: string | null;
  archiveStop: string | null;
  size: number | null;
  repoSize: number | null;
  version: string | null;
  raw: Record<string, unknown>;
}

export interface BackupInfo {
  stanza: string;
  /** Which copy was read (`backup.info` or `backup.info.copy`) and whether the repository is encrypted. */
  path: string;
  encrypted: boolean;
  cipherPass: string | null;
  backups: BackupInfoEntry[];
  pgVersion: string | null;
  systemId: unknown;
  /** Problems with the other copy, or with the main one when the copy was read: reported, not fatal. */
  notes: string[];
}

export interface ManifestFile {
  /** `pg_data/base/1/1259`, as in `[target:file]`. */
  name: string;
  size: number;
  /** SHA-1 of the plain content; pgBackRest leaves it out for empty files. */
  checksum: string;
  /** SHA-1 and size of the bytes in the repository (compressed, encrypted), when recorded. */
  repoChecksum: string | null;
  repoSize: number | null;
  /** The backup whose folder holds the bytes (null: this backup). */
  reference: string | null;
  bundleId: number | null;
  bundleOffset: number;
  /** Block-incremental: the size of its blocks, of their checksums and of its map (0 when not block-incremental). */
  blockIncrSize: number;
  blockIncrChecksumSize: number;
  blockIncrMapSize: number;
  timestamp: number | null;
}

export interface BackupManifest {
  label: string;
  path: string;
  backup: Record<string, unknown>;
  compressType: CompressType;
  bundleRaw: boolean;
  cipherPass: string | null;
  files: ManifestFile[];
  notes: string[];
}

const SHA1_EMPTY = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * One INI file of the repository, its `.copy` when the main one is missing, unreadable or fails its
 * checksum (what pgBackRest itself does). Decrypted with `pass` when it starts `Salted__`.
 */
async function readCheckedIni(
  medium: Medium,
  path: string,
  pass: string | null,
  maxBytes: number,
  onEncryptedWithoutPass: () => LifeboatError,
): Promise<{ ini: Ini; path: string; encrypted: boolean; notes: string[] }> {
  const notes: string[] = [];
  let firstError: LifeboatError | null = null;
  for (const candidate of [path, `${path}.copy`]) {
    try {
      const st = await medium.stat(candidate);
      if (!st) throw new LifeboatError('NOT_FOUND', `${candidate} is missing`);
      if (st.size > maxBytes)
        throw new LifeboatError(
          'FORMAT_INVALID',
          `${candidate} is ${st.size} bytes, over the ${maxBytes} bytes Lifeboat reads`,
        );
      let bytes = await medium.readFile(candidate);
      const encrypted = looksOpenSslSalted(bytes);
      if (encrypted) {
        if (pass === null) throw onEncryptedWithoutPass();
        bytes = openSslDecryptBuffer(bytes, { passphrase: pass, kdf: PGBR_KDF, what: candidate });
      }
      const checked = parseCheckedIni(bytes.toString('utf8'), candidate);
      if (!checked.checksumOk) {
        throw new LifeboatError(
          'CHECKSUM_MISMATCH',
          `${candidate} does not match its own backrest-checksum${checked.checksum ? '' : ' (none recorded)'}`,
        );
      }
      if (firstError) notes.push(`${firstError.message}; read ${candidate} instead`);
      return { ini: checked.ini, path: candidate, encrypted, notes };
    } catch (e) {
      if (e instanceof PgbrNeedsPassphrase) throw e;
      const err = mapError(e);
      if (err.code === 'STORAGE_UNREACHABLE' || err.code === 'CANCELLED') throw err;
      firstError ??= err;
    }
  }
  throw firstError ?? new LifeboatError('NOT_FOUND', `${path} is missing`);
}

/** `backup/<stanza>/backup.info`, checked; `passphrase` is the repository's (null when none is known). */
export async function readBackupInfo(
  medium: Medium,
  root: string,
  stanza: string,
  passphrase: string | null,
): Promise<BackupInfo> {
  const { ini, path, encrypted, notes } = await readCheckedIni(
    medium,
    `${root}backup/${stanza}/backup.info`,
    passphrase,
    JSON_LIMITS.manifestBytes,
    () => new PgbrNeedsPassphrase(stanza),
  );
  const current = ini.get('backup:current');
  if (!current) throw new LifeboatError('FORMAT_INVALID', `${path} has no [backup:current] section.`);
  const db = ini.get('db');
  const backups: BackupInfoEntry[] = [];
  for (const [label, value] of current) {
    const v = json(value);
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new LifeboatError('FORMAT_INVALID', `${path}: entry ${label} is not a JSON object.`);
    const raw = v as Record<string, unknown>;
    const refs = raw['backup-reference'];
    backups.push({
      label,
      type: str(raw['backup-type']),
      prior: str(raw['backup-prior']),
      references: Array.isArray(refs) ? refs.filter((r): r is string => typeof r === 'string') : [],
      timestampStart: num(raw['backup-timestamp-start']),
      timestampStop: num(raw['backup-timestamp-stop']),
      archiveStart: str(raw['backup-archive-start']),
      archiveStop: str(raw['backup-archive-stop']),
      size: num(raw['backup-info-size']),
      repoSize: num(raw['backup-info-repo-size']),
      version: str(raw['backrest-version']),
      raw,
    });
  }
  return {
    stanza,
    path,
    encrypted,
    cipherPass: str(json(ini.get('cipher')?.get('cipher-pass'))),
    backups,
    pgVersion: str(json(db?.get('db-version'))),
    systemId: json(db?.get('db-system-id')) ?? null,
    notes,
  };
}

/** The manifests of big clusters list every file: a larger bound than Lifeboat's own manifests, still a bound on memory. */
export const MANIFEST_MAX_BYTES = 4 * JSON_LIMITS.manifestBytes;

/** One backup's `backup.manifest` (or `.copy`), checked, decrypted with backup.info's cipher-pass when the repository is encrypted. */
export async function readBackupManifest(
  medium: Medium,
  root: string,
  info: BackupInfo,
  label: string,
): Promise<BackupManifest> {
  if (!/^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$/.test(label))
    throw new LifeboatError('FORMAT_INVALID', `${label} is not a pgBackRest backup label.`);
  const { ini, path, notes } = await readCheckedIni(
    medium,
    `${root}backup/${info.stanza}/${label}/backup.manifest`,
    info.cipherPass,
    MANIFEST_MAX_BYTES,
    () => new PgbrNeedsPassphrase(info.stanza),
  );
  const backup: Record<string, unknown> = {};
  for (const [k, v] of ini.get('backup') ?? []) backup[k] = json(v);
  const option = ini.get('backup:option');
  const compressType =
    str(json(option?.get('option-compress-type'))) ?? (json(option?.get('option-compress')) === true ? 'gz' : 'none');
  if (!(compressType in EXT))
    throw new LifeboatError('FORMAT_UNSUPPORTED', `${path}: compression ${compressType} is not one Lifeboat decodes.`);
  const files: ManifestFile[] = [];
  const defaults = ini.get('target:file:default');
  void defaults; // user/group/mode only: not needed to read or check the content
  for (const [name, value] of ini.get('target:file') ?? []) {
    const v = json(value);
    if (typeof v !== 'object' || v === null)
      throw new LifeboatError('FORMAT_INVALID', `${path}: [target:file] ${name} is not JSON.`);
    const f = v as Record<string, unknown>;
    const size = num(f.size);
    if (size === null || size < 0) throw new LifeboatError('FORMAT_INVALID', `${path}: ${name} has no size.`);
    if (name.split('/').some((p) => p === '..' || p === '') || name.startsWith('/')) {
      throw new LifeboatError('UNSAFE_PATH', `${path}: the file name ${name} leaves the backup.`);
    }
    const checksum = str(f.checksum) ?? (size === 0 ? SHA1_EMPTY : null);
    if (checksum === null)
      throw new LifeboatError('FORMAT_INVALID', `${path}: ${name} (${size} bytes) has no checksum.`);
    files.push({
      name,
      size,
      checksum,
      repoChecksum: str(f.rck),
      repoSize: num(f['repo-size']),
      reference: str(f.reference),
      bundleId: num(f.bni),
      bundleOffset: num(f.bno) ?? 0,
      blockIncrSize: num(f.bi) ?? 0,
      blockIncrChecksumSize: num(f.bic) ?? 0,
      blockIncrMapSize: num(f.bim) ?? 0,
      timestamp: num(f.timestamp),
    });
  }
  return {
    label,
    path,
    backup,
    compressType: compressType as CompressType,
    bundleRaw: backup['backup-bundle-raw'] === true,
    cipherPass: str(json(ini.get('cipher')?.get('cipher-pass'))),
    files,
    notes,
  };
}

/**
 * Whether a file is stored in the raw formats (backup-bundle-raw): every file the backup copied, but not the two
 * files pgBackRest writes itself at backup stop from what PostgreSQL returned (backup/backup.c backupFilePut).
 */
export function storedRaw(f: ManifestFile, storedBy: BackupManifest): boolean {
  return storedBy.bundleRaw && f.name !== 'pg_data/backup_label' && f.name !== 'pg_data/tablespace_map';
}

/** Where a manifest file's bytes are: a whole repository file, or a range of a bundle. Null: nothing stored (an empty file in a bundle). */
export interface FileLocation {
  path: string;
  offset: number;
  length: number | null;
  bundled: boolean;
  /** The backup that stored the bytes, whose manifest says how they are encoded. */
  label: string;
}

export function locate(
  root: string,
  stanza: string,
  label: string,
  f: ManifestFile,
  storedBy: BackupManifest,
): FileLocation | null {
  const owner = f.reference ?? label;
  const dir = `${root}backup/${stanza}/${owner}`;
  if (f.bundleId !== null)
    return {
      path: `${dir}/bundle/${f.bundleId}`,
      offset: f.bundleOffset,
      length: f.repoSize,
      bundled: true,
      label: owner,
    };
  // Bundled backups leave empty files out of the repository (no repo-size); unbundled ones store a compressed empty file.
  if (f.size === 0 && f.repoSize === null) return null;
  // A block-incremental file is named .pgbi whatever the compression (its blocks are compressed one by one).
  const ext = f.blockIncrMapSize > 0 ? '.pgbi' : EXT[storedBy.compressType];
  return { path: `${dir}/${f.name}${ext}`, offset: 0, length: f.repoSize, bundled: false, label: owner };
}

/** The backup labels of a stanza's folder layout: `backup/<stanza>/backup.info` found in a listing. */
export function stanzasIn(paths: string[]): Array<{ root: string; stanza: string }> {
  const out = new Map<string, { root: string; stanza: string }>();
  for (const p of paths) {
    const m = /^(.*?)backup\/([^/]+)\/backup\.info(\.copy)?$/.exec(p);
    if (!m || (m[1] !== '' && !m[1]!.endsWith('/'))) continue;
    out.set(`${m[1]}|${m[2]}`, { root: m[1]!, stanza: m[2]! });
  }
  return [...out.values()];
}
