import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { TarReader, type TarEntry } from '../format/tar-reader';

/**
 * PostgreSQL's own `backup_manifest`, inside a pg-base set's base.tar, checked as
 * pg_verifybackup does: every file the manifest lists is in the tar with its size and checksum
 * (the manifest's Checksum-Algorithm per file), and the tar holds no file the manifest does not
 * list. Our SHA-256 of the whole artifact proves the bytes we stored; this proves they are the
 * bytes the server sent, so a fault (or a change) between the server and our hashing is caught.
 * pg_basebackup writes the manifest as the tar's last member: every file is hashed as it
 * streams (SHA-256, and CRC-32C — PostgreSQL's default — unless the set says which), and the
 * comparison is made when the tar ends.
 */

/** pg_verifybackup's default ignore list: files pg_basebackup itself may write or change, and the WAL (checked on its own). */
const IGNORED = ['backup_manifest', 'pg_wal', 'postgresql.auto.conf', 'recovery.signal', 'standby.signal'];

function ignored(path: string): boolean {
  return IGNORED.some((p) => path === p || path.startsWith(`${p}/`));
}

// CRC-32C (Castagnoli, reflected 0x82F63B78), slicing by 8: PostgreSQL's default manifest checksum.
const CRC_TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0]![n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0]![n]!;
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8);
      t[k]![n] = c >>> 0;
    }
  }
  return t;
})();

export class Crc32c {
  private crc = 0xffffffff;

  update(buf: Buffer): this {
    const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES as [
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
    ];
    let crc = this.crc;
    let i = 0;
    const end8 = buf.length - (buf.length % 8);
    for (; i < end8; i += 8) {
      const a = (crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))) >>> 0;
      crc =
        t7[a & 0xff]! ^
        t6[(a >>> 8) & 0xff]! ^
        t5[(a >>> 16) & 0xff]! ^
        t4[a >>> 24]! ^
        t3[buf[i + 4]!]! ^
        t2[buf[i + 5]!]! ^
        t1[buf[i + 6]!]! ^
        t0[buf[i + 7]!]!;
    }
    for (; i < buf.length; i++) crc = t0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
    this.crc = crc >>> 0;
    return this;
  }

  /** As PostgreSQL writes it in a manifest: the finished CRC's four bytes in little-endian order, in hex. */
  digestHex(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32LE((this.crc ^ 0xffffffff) >>> 0);
    return out.toString('hex');
  }
}

interface ManifestFile {
  path: string;
  size: number;
  algorithm: string;
  checksum: string | null;
}

/** What was seen of one tar member: its size and the digests taken while it streamed, in the order of the check's algorithms (small: one per file). */
interface Seen {
  size: number;
  digests: string[];
}

export interface BackupManifestResult {
  ok: boolean;
  /** False when the tar holds no backup_manifest (a pg-base set made without one): nothing was compared. */
  present: boolean;
  files: number;
  algorithm: string | null;
  /** One line per problem, naming the file. */
  problems: string[];
}

/** Manifest checksum algorithms this check computes while streaming, by manifest name. */
const NODE_HASH: Record<string, string> = { SHA224: 'sha224', SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512' };

/** Largest backup_manifest kept in memory (about 150 bytes a file: a million files is far below). */
const MANIFEST_MAX = 512 * 1024 * 1024;

function parseBackupManifest(text: string): { files: ManifestFile[] } | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'backup_manifest is not JSON';
  }
  const o = v as { 'PostgreSQL-Backup-Manifest-Version'?: unknown; Files?: unknown; 'Manifest-Checksum'?: unknown };
  if (typeof o !== 'object' || o === null || !Array.isArray(o.Files)) return 'backup_manifest has no Files list';
  // The manifest's own checksum: SHA-256 of everything before its last line.
  const at = text.lastIndexOf('"Manifest-Checksum"');
  if (typeof o['Manifest-Checksum'] !== 'string' || at < 0) return 'backup_manifest has no Manifest-Checksum';
  const own = createHash('sha256').update(text.slice(0, at), 'utf8').digest('hex');
  if (own !== o['Manifest-Checksum']) return 'backup_manifest does not match its own Manifest-Checksum';
  const files: ManifestFile[] = [];
  for (const f of o.Files as Array<Record<string, unknown>>) {
    const path =
      typeof f.Path === 'string'
        ? f.Path
        : typeof f['Encoded-Path'] === 'string'
          ? Buffer.from(f['Encoded-Path'], 'hex').toString('utf8')
          : null;
    if (path === null || typeof f.Size !== 'number') return 'backup_manifest has a file entry without a path or size';
    const algorithm = typeof f['Checksum-Algorithm'] === 'string' ? f['Checksum-Algorithm'].toUpperCase() : 'NONE';
    files.push({
      path,
      size: f.Size,
      algorithm,
      checksum: typeof f.Checksum === 'string' ? f.Checksum.toLowerCase() : null,
    });
  }
  return { files };
}

/**
 * Tar handlers that take each member's size and digests, keep backup_manifest, and compare at
 * the end. `algorithms`: what to compute while streaming (the set's recorded algorithm, or
 * PostgreSQL's default and ours when unknown).
 */
export class BackupManifestCheck {
  private readonly seen = new Map<string, Seen>();
  private manifest: Buffer[] | null = null;
  private manifestBytes = 0;
  private hashes: Array<[string, Hash | Crc32c]> = [];
  private readonly algorithms: string[];

  constructor(algorithms: string[] = ['CRC32C', 'SHA256']) {
    this.algorithms = algorithms.map((a) => a.toUpperCase()).filter((a) => a === 'CRC32C' || a in NODE_HASH);
  }

  onEntry(e: TarEntry): void {
    this.hashes = [];
    if (e.kind !== 'file') return;
    const name = e.name.replace(/^\.\//, '');
    if (name === 'backup_manifest') {
      this.manifest = [];
      return;
    }
    if (ignored(name)) return;
    this.hashes = this.algorithms.map((a) => [a, a === 'CRC32C' ? new Crc32c() : createHash(NODE_HASH[a]!)]);
  }

  onData(e: TarEntry, chunk: Buffer): void {
    if (this.manifest && e.name.replace(/^\.\//, '') === 'backup_manifest') {
      this.manifestBytes += chunk.length;
      if (this.manifestBytes <= MANIFEST_MAX) this.manifest.push(chunk);
      return;
    }
    for (const [, h] of this.hashes) h.update(chunk);
  }

  onEntryEnd(e: TarEntry): void {
    if (e.kind !== 'file') return;
    const name = e.name.replace(/^\.\//, '');
    if (name === 'backup_manifest' || ignored(name)) return;
    this.seen.set(name, {
      size: e.size,
      digests: this.hashes.map(([, h]) => (h instanceof Crc32c ? h.digestHex() : h.digest('hex'))),
    });
    this.hashes = [];
  }

  result(): BackupManifestResult {
    if (!this.manifest) return { ok: true, present: false, files: 0, algorithm: null, problems: [] };
    if (this.manifestBytes > MANIFEST_MAX)
      return {
        ok: false,
        present: true,
        files: 0,
        algorithm: null,
        problems: [`backup_manifest is larger than ${MANIFEST_MAX} bytes`],
      };
    const parsed = parseBackupManifest(Buffer.concat(this.manifest).toString('utf8'));
    if (typeof parsed === 'string') return { ok: false, present: true, files: 0, algorithm: null, problems: [parsed] };
    const problems: string[] = [];
    const algorithms = new Set<string>();
    let files = 0;
    for (const f of parsed.files) {
      if (ignored(f.path)) continue;
      files++;
      algorithms.add(f.algorithm);
      const s = this.seen.get(f.path);
      if (!s) {
        problems.push(`${f.path}: listed in backup_manifest, missing from the tar`);
        continue;
      }
      this.seen.delete(f.path);
      if (s.size !== f.size) {
        problems.push(`${f.path}: ${s.size} bytes in the tar, ${f.size} in backup_manifest`);
        continue;
      }
      if (f.algorithm === 'NONE' || !f.checksum) continue;
      const at = this.algorithms.indexOf(f.algorithm);
      const got = at >= 0 ? s.digests[at] : undefined;
      if (got === undefined)
        problems.push(
          `${f.path}: its ${f.algorithm} checksum was not computed (this check takes ${this.algorithms.join(', ')})`,
        );
      else if (got !== f.checksum)
        problems.push(`${f.path}: ${f.algorithm} checksum ${got} in the tar, ${f.checksum} in backup_manifest`);
    }
    for (const path of this.seen.keys()) problems.push(`${path}: in the tar, not listed in backup_manifest`);
    return { ok: problems.length === 0, present: true, files, algorithm: [...algorithms].join(', ') || null, problems };
  }
}

/**
 * A pass-through stage for a tar stream that runs the check on the side (a second tar parse of
 * the same bytes, held to the pace of the main one); `result()` once the stream has ended.
 */
export class BackupManifestTap extends Transform {
  readonly check: BackupManifestCheck;
  private readonly reader: TarReader;
  private failure: Error | null = null;

  constructor(algorithms?: string[]) {
    super();
    this.check = new BackupManifestCheck(algorithms);
    const c = this.check;
    this.reader = new TarReader({
      onEntry: (e) => c.onEntry(e),
      onData: (e, chunk) => c.onData(e, chunk),
      onEntryEnd: (e) => c.onEntryEnd(e),
    });
    // A damaged tar fails this stage (through the write callbacks), never as an unhandled 'error'.
    this.reader.on('error', (e) => (this.failure ??= e));
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    this.reader.write(chunk, (err) => (err ? cb(err) : cb(null, chunk)));
  }

  override _flush(cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    // The end callback is given the tar's own failure (a truncated archive) before 'error' is emitted.
    this.reader.end((err?: Error | null) => cb(err ?? this.failure));
  }

  result(): BackupManifestResult {
    return this.check.result();
  }
}

/** The problems as one line for a verdict or an error (the first few, and how many more). */
export function describeProblems(r: BackupManifestResult): string {
  const more = r.problems.length > 3 ? `; and ${r.problems.length - 3} more` : '';
  return `${r.problems.slice(0, 3).join('; ')}${more}`;
}

/** The algorithms to compute for a pg-base set, from what its manifest's source records (sets before this change record none). */
export function manifestAlgorithms(source: Record<string, unknown> | null | undefined): string[] {
  const a = source?.backup_manifest_checksums;
  return typeof a === 'string' && a ? [a] : ['CRC32C', 'SHA256'];
}
