import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LifeboatError, mapError } from '../errors';
import { looksOpenSslSalted, openSslDecryptBuffer } from '../crypto/openssl-enc';
import { SafeTree } from './safe-tree';
import { writeAll } from './extract';
import type { Medium } from '../storage/medium';
import {
  decodeLoop,
  decodeWhole,
  openRange,
  plainStages,
  readStored,
  type Encoding,
} from '../foreign/pgbackrest/decode';
import { json, parseCheckedIni } from '../foreign/pgbackrest/ini';
import { loadManifests } from '../foreign/pgbackrest/check';
import { openPlainFile } from '../foreign/pgbackrest/open';
import {
  locate,
  PGBR_KDF,
  readBackupInfo,
  storedRaw,
  type BackupInfo,
  type BackupManifest,
  type ManifestFile,
} from '../foreign/pgbackrest/repo';

/**
 * A pgBackRest backup written into an empty PostgreSQL data directory without pgbackrest: every
 * file of the manifest (its own, or referenced from a prior backup, whole or in a bundle) decoded
 * into a temporary name, its size and SHA-1 checked against the manifest, then renamed into place
 * with the manifest's mode. Paths go through SafeTree (no link followed, `..` refused); `pg_data/x`
 * maps to `<data dir>/x`. Tablespaces and other links (`[target:link]`, e.g. `pg_tblspc/<oid>` or a
 * linked pg_wal) are refused: Lifeboat does not guess where they should go on this machine.
 */

export interface PgbrRestoreInput {
  medium: Medium;
  /** Prefix of the repository on the medium ('' when the medium is the repository). */
  root?: string;
  stanza: string;
  label: string;
  /** The repository passphrase (repo1-cipher-pass), when the repository is encrypted. */
  repoPassphrase: string | null;
  dataDir: string;
  /** Files decoded at once: small files dominate a data directory, so a few overlap their reads. */
  concurrency?: number;
  signal?: AbortSignal;
  onBytes?: (plainBytesDone: number) => void;
}

export interface PgbrRestoreResult {
  files: number;
  bytes: number;
  /** The backup labels whose folders were read (the backup and those it references). */
  labels: string[];
}

/** What the content check needs beyond P1's manifest reading: folders, links, modes. */
interface Layout {
  paths: string[];
  links: string[];
  fileModes: Map<string, number>;
  pathModes: Map<string, number>;
  defaultFileMode: number;
  defaultPathMode: number;
}

function mode(v: unknown, fallback: number): number {
  return typeof v === 'string' && /^[0-7]{3,4}$/.test(v) ? Number.parseInt(v, 8) & 0o777 : fallback;
}

async function readLayout(medium: Medium, manifest: BackupManifest, info: BackupInfo): Promise<Layout> {
  let bytes = await medium.readFile(manifest.path);
  if (looksOpenSslSalted(bytes)) {
    if (info.cipherPass === null)
      throw new LifeboatError('FORMAT_INVALID', `${manifest.path} is encrypted but backup.info has no cipher-pass.`);
    bytes = openSslDecryptBuffer(bytes, { passphrase: info.cipherPass, kdf: PGBR_KDF, what: manifest.path });
  }
  const { ini, checksumOk } = parseCheckedIni(bytes.toString('utf8'), manifest.path);
  if (!checksumOk)
    throw new LifeboatError('CHECKSUM_MISMATCH', `${manifest.path} does not match its own backrest-checksum.`);
  const fd = ini.get('target:file:default');
  const pd = ini.get('target:path:default');
  const defaultFileMode = mode(json(fd?.get('mode')), 0o600);
  const defaultPathMode = mode(json(pd?.get('mode')), 0o700);
  const fileModes = new Map<string, number>();
  for (const [name, value] of ini.get('target:file') ?? []) {
    const v = json(value) as Record<string, unknown> | null;
    if (v && typeof v === 'object' && 'mode' in v) fileModes.set(name, mode(v.mode, defaultFileMode));
  }
  const pathModes = new Map<string, number>();
  for (const [name, value] of ini.get('target:path') ?? []) {
    const v = json(value) as Record<string, unknown> | null;
    if (v && typeof v === 'object' && 'mode' in v) pathModes.set(name, mode(v.mode, defaultPathMode));
  }
  return {
    paths: [...(ini.get('target:path') ?? new Map<string, string>()).keys()],
    links: [...(ini.get('target:link') ?? new Map<string, string>()).keys()],
    fileModes,
    pathModes,
    defaultFileMode,
    defaultPathMode,
  };
}

/** `pg_data/base/1/1259` → `base/1/1259`; anything outside pg_data (a tablespace target) is refused. */
function inDataDir(name: string): string | null {
  if (name === 'pg_data') return null;
  if (!name.startsWith('pg_data/')) {
    throw new LifeboatError(
      'FORMAT_UNSUPPORTED',
      `The backup holds ${name}, outside the data directory (a tablespace): Lifeboat restores only backups without tablespaces.`,
      {
        hint: 'Restore this backup with pgbackrest restore (--tablespace-map), or move the tablespace into the data directory first.',
      },
    );
  }
  return name.slice('pg_data/'.length);
}

const EMPTY_SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
/** Files up to this size (stored and plain) are read and decoded whole; larger ones stream with bounded memory. */
const WHOLE_MAX = 8 * 2 ** 20;

/** A new file, never over anything (O_EXCL) nor through a link (O_NOFOLLOW); its folder was checked by SafeTree. */
const openNew = (abs: Buffer, mode: number): Promise<FileHandle> =>
  open(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode).catch(
    (e: unknown) => {
      if ((e as { code?: unknown }).code === 'EEXIST')
        throw new LifeboatError('FORMAT_INVALID', `${abs.toString()} appears twice in the manifest.`);
      throw mapError(e);
    },
  );

/** fsync of a folder: the names renamed into it are on disk. */
async function syncFolder(abs: Buffer): Promise<void> {
  const fh = await open(abs, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A checking sink: writes to the file (on the libuv pool), counts, hashes, and stops one byte past the manifest's size. */
function fileSink(
  fh: FileHandle,
  f: ManifestFile,
  hash: ReturnType<typeof createHash>,
  counter: { n: number },
): Writable {
  return new Writable({
    write(chunk: Buffer, _e, cb): void {
      counter.n += chunk.length;
      if (counter.n > f.size) {
        cb(
          new LifeboatError(
            'CHECKSUM_MISMATCH',
            `${f.name} decodes to more than the ${f.size} bytes its manifest records.`,
          ),
        );
        return;
      }
      hash.update(chunk);
      writeAll(fh, chunk).then(() => cb(), cb);
    },
  });
}

/**
 * Restore the files of `label` into `dataDir` (which must exist and be empty): returns counts. Throws
 * on the first file whose size or SHA-1 differs from the manifest (nothing of it is left under its name).
 */
export async function restorePgbrBackup(input: PgbrRestoreInput): Promise<PgbrRestoreResult> {
  const root = input.root ?? '';
  const info = await readBackupInfo(input.medium, root, input.stanza, input.repoPassphrase);
  const manifests = await loadManifests(input.medium, root, info, input.label);
  const manifest = manifests.get(input.label)!;
  const layout = await readLayout(input.medium, manifest, info);
  if (layout.links.length) {
    throw new LifeboatError(
      'FORMAT_UNSUPPORTED',
      `The backup ${input.label} holds links (${layout.links.slice(0, 3).join(', ')}): tablespaces or a linked pg_wal. Lifeboat restores only backups without them.`,
      {
        hint: 'Restore this backup with pgbackrest restore (--tablespace-map / --link-map), or on a host that has those paths.',
      },
    );
  }
  const tree = new SafeTree(input.dataDir);
  const ordered = [...layout.paths].sort();
  for (const p of ordered) {
    const rel = inDataDir(p);
    if (rel) await tree.mkdirAsync(Buffer.from(rel));
  }

  // Files grouped by where their bytes are: a bundle is read in offset order, once.
  const jobs: Array<{
    f: ManifestFile;
    rel: string;
    enc: Encoding;
    path: string | null;
    offset: number;
    length: number | null;
  }> = [];
  const names = new Set<string>();
  for (const f of manifest.files) {
    const rel = inDataDir(f.name);
    if (!rel) throw new LifeboatError('FORMAT_INVALID', 'The manifest lists the data directory itself as a file.');
    if (names.has(rel)) throw new LifeboatError('FORMAT_INVALID', `${rel} appears twice in the manifest.`);
    names.add(rel);
    const storedBy = manifests.get(f.reference ?? input.label);
    if (!storedBy)
      throw new LifeboatError(
        'FORMAT_INVALID',
        `${f.name} refers to backup ${f.reference}, whose manifest is not readable.`,
      );
    const loc = locate(root, input.stanza, input.label, f, storedBy);
    const enc: Encoding = {
      compressType: storedBy.compressType,
      raw: storedRaw(f, storedBy),
      cipherPass: info.encrypted ? storedBy.cipherPass : null,
    };
    jobs.push({ f, rel, enc, path: loc?.path ?? null, offset: loc?.offset ?? 0, length: loc?.length ?? null });
  }
  // The large files first (each streams on its own for a while), then the small ones in the order their bytes lie
  // (a bundle read front to back): the small files fill in around the long streams.
  const big = (j: (typeof jobs)[number]): boolean => j.f.size > WHOLE_MAX || j.f.blockIncrMapSize > 0;
  jobs.sort(
    (a, b) =>
      Number(big(b)) - Number(big(a)) ||
      (big(a) ? b.f.size - a.f.size : 0) ||
      (a.path ?? '').localeCompare(b.path ?? '') ||
      a.offset - b.offset,
  );

  let bytes = 0;
  let next = 0;
  const done = (n: number): void => {
    bytes += n;
    input.onBytes?.(bytes);
  };
  const one = async (j: (typeof jobs)[number]): Promise<void> => {
    const relBuf = await tree.parentAsync(Buffer.from(j.rel), true);
    const fileMode = layout.fileModes.get(j.f.name) ?? layout.defaultFileMode;
    if (j.f.size === 0) {
      // Nothing to prove or to lose half-way: created under its name at once (O_EXCL: never over anything).
      if (j.f.checksum && j.f.checksum !== EMPTY_SHA1)
        throw new LifeboatError(
          'CHECKSUM_MISMATCH',
          `${j.f.name}: the manifest records 0 bytes with a SHA-1 of content.`,
        );
      const fh = await openNew(tree.abs(relBuf), fileMode);
      try {
        await fh.chmod(fileMode);
      } finally {
        await fh.close();
      }
      return;
    }
    // Bytes the manifest records but the repository does not hold: 0 of them read, a mismatch.
    if (j.path === null) return check(j, 0, EMPTY_SHA1);
    const path = j.path;
    const slash = j.rel.lastIndexOf('/');
    // The temporary name sits beside the final one (same folder: the rename is atomic); it starts with a dot and names Lifeboat.
    const tmpAbs = tree.abs(
      Buffer.from(`${slash >= 0 ? j.rel.slice(0, slash + 1) : ''}.${j.rel.slice(slash + 1)}.lifeboat-part`),
    );
    const what = `${input.stanza}/${input.label}: ${j.f.name}`;
    const stored = j.length ?? j.f.repoSize;
    // Small files (most of a data directory) are read, decoded and checked whole before a byte is written.
    const whole =
      j.f.blockIncrMapSize === 0 && stored !== null && stored <= WHOLE_MAX && j.f.size <= WHOLE_MAX
        ? decodeWhole(j.enc, await readStored(input.medium, path, j.offset, stored), what, j.f.size)
        : null;
    if (whole) check(j, whole.length, createHash('sha1').update(whole).digest('hex'));
    const fh = await openNew(tmpAbs, 0o600);
    // Unproven bytes never stay in the data directory, not even under the temporary name.
    const discard = async (): Promise<void> => {
      await fh.close().catch(() => undefined);
      await rm(tmpAbs, { force: true });
    };
    try {
      if (whole) await fh.writeFile(whole);
      else {
        const hash = createHash('sha1');
        const counter = { n: 0 };
        // zst or plain on a folder: one loop of reads, decryption and decoding into a reused buffer (decodeLoop);
        // a block-incremental file is assembled from its block map (foreign/pgbackrest/open.ts); any other streams.
        const looped =
          j.f.blockIncrMapSize === 0 &&
          (await decodeLoop(
            input.medium,
            path,
            j.offset,
            j.length,
            j.enc,
            what,
            j.f.size,
            // decodeLoop (foreign/pgbackrest/decode.ts) reuses its buffer once this settles: the write
            // runs on libuv's pool, the main thread free for the app's IPC meanwhile.
            async (b) => {
              counter.n += b.length;
              hash.update(b);
              for (let off = 0; off < b.length;) off += (await fh.write(b, off, b.length - off)).bytesWritten;
            },
            input.signal,
          ));
        if (!looped) {
          const source =
            j.f.blockIncrMapSize > 0
              ? [await openPlainFile(input.medium, root, info, manifests, input.label, j.f.name)]
              : [await openRange(input.medium, path, j.offset, j.length), ...plainStages(j.enc, what, j.f.size)];
          await pipeline([...source, fileSink(fh, j.f, hash, counter)], { signal: input.signal });
        }
        check(j, counter.n, counter.n === 0 ? EMPTY_SHA1 : hash.digest('hex'));
      }
      await fh.chmod(fileMode);
      // Durable before it takes its name: a restore cut by a crash leaves no file that claims to be complete.
      await fh.sync();
      await fh.close();
    } catch (e) {
      await discard();
      throw e instanceof LifeboatError ? e : mapError(e);
    }
    await rename(tmpAbs, tree.abs(relBuf));
    done(j.f.size);
  };
  const check = (j: (typeof jobs)[number], n: number, got: string): void => {
    if (n !== j.f.size || got !== (j.f.checksum || EMPTY_SHA1))
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        `${j.f.name} in ${input.stanza}/${j.f.reference ?? input.label} does not match its manifest (${n} of ${j.f.size} bytes, SHA-1 ${got.slice(0, 12)}… ≠ ${j.f.checksum.slice(0, 12)}…). The data directory is not usable.`,
        {
          hint: 'The repository is damaged: use another backup or another copy of the repository.',
        },
      );
  };
  // The first failure (or a cancel) stops every worker from taking another file, and the restore reports it only
  // once the files in flight have ended: nothing is written into the data directory after the failure is told.
  let failure: unknown = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < jobs.length) {
      try {
        input.signal?.throwIfAborted();
        await one(jobs[next++]!);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(input.concurrency ?? 4, jobs.length)) }, worker));
  if (failure !== null) throw failure instanceof LifeboatError ? failure : mapError(failure);
  // Folders' modes last: a 0500 folder from the manifest must not stop its own files being written. Each folder
  // synced once, after its files' renames: the names are durable too.
  for (const p of ordered.reverse()) {
    const rel = inDataDir(p);
    if (!rel) continue;
    const abs = tree.abs(Buffer.from(rel));
    await chmod(abs, layout.pathModes.get(p) ?? layout.defaultPathMode);
    await syncFolder(abs);
  }
  await syncFolder(Buffer.from(input.dataDir));
  return { files: jobs.length, bytes, labels: [...manifests.keys()] };
}
