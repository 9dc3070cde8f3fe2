import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openSslDecryptBuffer } from '../../crypto/openssl-enc';
import { LifeboatError, mapError } from '../../errors';
import type { Medium } from '../../storage/medium';
import { needsSecret } from '../secrets';
import { decodeLoop, plainStages } from './decode';
import { json, parseCheckedIni, type Ini } from './ini';

/**
 * pgBackRest's WAL archive, read natively (no pgbackrest binary): `archive/<stanza>/archive.info`
 * (plain or encrypted), then `archive/<stanza>/<pg-version>-<db-id>/<timeline+log>/` holding
 * `<segment>-<sha1>[.gz|.zst|.lz4|.bz2]`, `<timeline>.history[-sha1…]` and `.backup` files. The
 * SHA-1 in a segment's name is that of its plain content (pgBackRest's archive-push computes it
 * before compressing): it is how a segment is proven here, as pgBackRest's archive-get does.
 */

export type PgbrCompression = 'gz' | 'zst' | 'lz4' | 'bz2';

export interface PgbrWal {
  /** The PostgreSQL file name (`000000010000000000000003`, `00000002.history`, `….backup`). */
  name: string;
  kind: 'segment' | 'history' | 'backup' | 'partial';
  timeline: number;
  /** Path on the medium, stored size and time (the archive time of a segment). */
  path: string;
  bytes: number;
  mtimeMs: number;
  /** SHA-1 of the plain content from the stored name; null for `.backup` files (pgBackRest names them without one). */
  sha1: string | null;
  compression: PgbrCompression | null;
  /** `<pg-version>-<db-id>`: the archive a file belongs to. */
  archiveId: string;
}

export interface PgbrArchiveInfo {
  stanza: string;
  /** True when archive.info itself is encrypted (the repository has a cipher). */
  encrypted: boolean;
  /** The passphrase of the archive's files (archive.info's [cipher] cipher-pass); null when not encrypted. */
  cipherPass: string | null;
  dbVersion: string;
  dbId: number;
  systemId: string;
  /** The current archive's folder name, `<pg-version>-<db-id>`. */
  archiveId: string;
}

/** What a reader of an encrypted repository needs: the repository passphrase (repo1-cipher-pass). */
export interface PgbrKeys {
  repoPassphrase: string | null;
}

const SALTED = Buffer.from('Salted__');
const WAL_FILE_MAX = 2 ** 30;

/** pgBackRest's cipher: OpenSSL's `enc` format, AES-256-CBC, EVP_BytesToKey with SHA-1 (cipherBlock.c). */
export function decryptPgbr(data: Buffer, passphrase: string, what: string): Buffer {
  return openSslDecryptBuffer(data, { passphrase, kdf: { kind: 'evp', digest: 'sha1' }, what });
}

/** The stanza of `archive/<stanza>/…` or `backup/<stanza>/…`. */
const stanzaOf = (path: string): string => path.split('/')[1] ?? path;

/**
 * Read a pgBackRest info file (archive.info or backup.info, falling back to its `.copy`), decrypting
 * it with the repository passphrase when it is encrypted. Checks pgBackRest's own checksum of it.
 */
export async function readPgbrInfo(
  medium: Medium,
  path: string,
  keys: PgbrKeys,
): Promise<{ ini: Ini; encrypted: boolean }> {
  let lastError: LifeboatError | null = null;
  for (const p of [path, `${path}.copy`]) {
    const raw = await medium.readOptional(p);
    if (!raw) continue;
    try {
      const encrypted = raw.subarray(0, 8).equals(SALTED);
      if (encrypted && !keys.repoPassphrase) {
        throw new LifeboatError(
          'CREDENTIAL_UNAVAILABLE',
          `encrypted pgBackRest repository ${stanzaOf(p)}: give its passphrase (repo1-cipher-pass).`,
          {
            hint: `Give ${needsSecret('pgbackrest-cipher', stanzaOf(p))}.`,
          },
        );
      }
      const checked = parseCheckedIni(
        (encrypted ? decryptPgbr(raw, keys.repoPassphrase!, p) : raw).toString('utf8'),
        p,
      );
      if (!checked.checksumOk)
        throw new LifeboatError(
          'CHECKSUM_MISMATCH',
          `${p} does not match its own backrest-checksum (changed or damaged).`,
        );
      return { ini: checked.ini, encrypted };
    } catch (e) {
      lastError = e instanceof LifeboatError ? e : mapError(e);
      if (lastError.code === 'CREDENTIAL_UNAVAILABLE') throw lastError;
    }
  }
  throw lastError ?? new LifeboatError('NOT_FOUND', `${path} is not on the medium.`);
}

/** The stanza's archive.info: its database, and the passphrase of its WAL files when encrypted. */
export async function readArchiveInfo(medium: Medium, stanza: string, keys: PgbrKeys): Promise<PgbrArchiveInfo> {
  const { ini, encrypted } = await readPgbrInfo(medium, `archive/${stanza}/archive.info`, keys);
  const db = ini.get('db');
  const version = json(db?.get('db-version'));
  const dbVersion = typeof version === 'string' || typeof version === 'number' ? String(version) : '';
  const dbId = Number(json(db?.get('db-id')));
  if (!dbVersion || !Number.isInteger(dbId))
    throw new LifeboatError('FORMAT_INVALID', `archive/${stanza}/archive.info has no [db] db-version / db-id.`);
  const pass = json(ini.get('cipher')?.get('cipher-pass'));
  return {
    stanza,
    encrypted,
    cipherPass: typeof pass === 'string' ? pass : null,
    dbVersion,
    dbId,
    systemId: String(db?.get('db-system-id') ?? ''),
    archiveId: `${dbVersion}-${dbId}`,
  };
}

const STORED = /^([0-9A-F]{24}|[0-9A-F]{8}\.history|[0-9A-F]{24}\.partial)-([0-9a-f]{40})(?:\.(gz|zst|lz4|bz2))?$/;
const BACKUP_PLAIN = /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/;

/** A stored archive file's facts from its path alone; null for anything else. */
export function parsePgbrStored(path: string, bytes: number, mtimeMs: number, archiveId: string): PgbrWal | null {
  const base = path.slice(path.lastIndexOf('/') + 1);
  let name: string;
  let sha1: string | null = null;
  let compression: PgbrCompression | null = null;
  const m = STORED.exec(base);
  if (m) {
    name = m[1]!;
    sha1 = m[2]!;
    compression = (m[3] as PgbrCompression | undefined) ?? null;
  } else if (BACKUP_PLAIN.test(base) || /^[0-9A-F]{8}\.history$/.test(base)) name = base;
  else return null;
  const kind: PgbrWal['kind'] = name.endsWith('.history')
    ? 'history'
    : name.endsWith('.backup')
      ? 'backup'
      : name.endsWith('.partial')
        ? 'partial'
        : 'segment';
  return {
    name,
    kind,
    timeline: Number.parseInt(name.slice(0, 8), 16),
    path,
    bytes,
    mtimeMs,
    sha1,
    compression,
    archiveId,
  };
}

/**
 * Every file of the stanza's current archive (`<pg-version>-<db-id>` from archive.info), sorted by
 * name. History files sit beside the first folder (`archive/<stanza>/<id>/<tl>.history`).
 */
export async function listPgbrArchive(medium: Medium, info: PgbrArchiveInfo): Promise<PgbrWal[]> {
  const root = `archive/${info.stanza}/${info.archiveId}`;
  const files = await medium.listFiles(root, { limit: 10_000_000, maxDepth: 2 });
  return files
    .map((f) => parsePgbrStored(f.path, f.size, f.mtimeMs, info.archiveId))
    .filter((x): x is PgbrWal => x !== null)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * One archived file's plain bytes: decrypted with archive.info's passphrase, decompressed, and its
 * SHA-1 checked against the one in its name. Never returns unproven bytes.
 */
export async function readPgbrWal(medium: Medium, info: PgbrArchiveInfo, w: PgbrWal): Promise<Buffer> {
  const what = `The archived ${w.name}`;
  const chunks: Buffer[] = [];
  let total = 0;
  const sink = new Writable({
    write(chunk: Buffer, _e, cb): void {
      total += chunk.length;
      // A byte past the largest segment PostgreSQL makes is damage (or a bomb), not memory to spend.
      if (total > WAL_FILE_MAX)
        return cb(new LifeboatError('CHECKSUM_MISMATCH', `decodes to more than ${WAL_FILE_MAX} bytes`));
      chunks.push(chunk);
      cb();
    },
  });
  // The repository's decoder (decrypt, then gz/zst/lz4/bz2), bounded at the largest WAL file PostgreSQL makes:
  // zst or plain on a folder in one loop (no stream per stage: less CPU beside a replaying server), else streamed.
  const enc = { compressType: w.compression ?? 'none', raw: false, cipherPass: info.cipherPass } as const;
  try {
    const looped = await decodeLoop(medium, w.path, 0, null, enc, what, WAL_FILE_MAX, (b) => {
      total += b.length;
      chunks.push(Buffer.from(b));
    });
    if (!looped) await pipeline([await medium.openRead(w.path), ...plainStages(enc, what, WAL_FILE_MAX), sink]);
  } catch (e) {
    const err = mapError(e);
    if (err.code === 'STORAGE_UNREACHABLE') throw err;
    throw new LifeboatError(
      err.code === 'DECRYPTION_FAILED' ? err.code : 'CHECKSUM_MISMATCH',
      `${what} cannot be decoded: ${err.message}. It was not handed to PostgreSQL.`,
      {
        hint: 'The file is damaged (or the passphrase is wrong): restore to a time before it, or use another copy of the repository.',
      },
    );
  }
  const plain = Buffer.concat(chunks);
  if (w.sha1 !== null && createHash('sha1').update(plain).digest('hex') !== w.sha1) {
    throw new LifeboatError(
      'CHECKSUM_MISMATCH',
      `${what} is corrupted: its content does not match the SHA-1 in its name. It was not handed to PostgreSQL.`,
      {
        hint: 'Restore to a time before this segment, or use another copy of the repository.',
      },
    );
  }
  return plain;
}

export interface WalRange {
  timeline: string;
  first: string;
  last: string;
  segments: number;
}

/** Contiguous ranges of WAL segment names (24 hex digits), per timeline, 16 MiB segments. */
export function walRanges(segmentNames: string[]): WalRange[] {
  const byTimeline = new Map<string, bigint[]>();
  for (const name of segmentNames) {
    const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})/.exec(name);
    if (!m) continue;
    const n = BigInt(`0x${m[2]}`) * 256n + BigInt(`0x${m[3]}`);
    const list = byTimeline.get(m[1]!) ?? [];
    list.push(n);
    byTimeline.set(m[1]!, list);
  }
  const toName = (tl: string, n: bigint): string =>
    `${tl}${(n / 256n).toString(16).toUpperCase().padStart(8, '0')}${(n % 256n).toString(16).toUpperCase().padStart(8, '0')}`;
  const out: WalRange[] = [];
  for (const [tl, list] of [...byTimeline.entries()].sort()) {
    list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let start = list[0]!;
    let prev = start;
    let count = 1;
    for (const n of list.slice(1)) {
      if (n === prev) continue;
      if (n !== prev + 1n) {
        out.push({ timeline: tl, first: toName(tl, start), last: toName(tl, prev), segments: count });
        start = n;
        count = 0;
      }
      prev = n;
      count++;
    }
    out.push({ timeline: tl, first: toName(tl, start), last: toName(tl, prev), segments: count });
  }
  return out;
}
