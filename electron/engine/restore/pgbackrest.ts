import { createHash } from 'node:crypto';
import { chmodSync, closeSync, fsync, renameSync, rmSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LifeboatError, mapError } from '../errors';
import { looksOpenSslSalted, openSslDecryptBuffer } from '../crypto/openssl-enc';
import { SafeTree } from './safe-tree';
import type { Medium } from '../storage/medium';
import { openRange, plainStages, type Encoding } from '../foreign/pgbackrest/decode';
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

/** A checking sink: writes to the file descriptor, counts, hashes, and stops one byte past the manifest's size. */
function fileSink(fd: number, f: ManifestFile, hash: ReturnType<typeof createHash>, counter: { n: number }): Writable {
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
      try {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
        cb();
      } catch (e) {
        cb(e as Error);
      }
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
    if (rel) tree.mkdir(Buffer.from(rel));
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
  for (const f of manifest.files) {
    const rel = inDataDir(f.name);
    if (!rel) throw new LifeboatError('FORMAT_INVALID', 'The manifest lists the data directory itself as a file.');
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
  jobs.sort((a, b) => (a.path ?? '').localeCompare(b.path ?? '') || a.offset - b.offset);

  let bytes = 0;
  let next = 0;
  const one = async (j: (typeof jobs)[number]): Promise<void> => {
    const relBuf = Buffer.from(j.rel);
    const slash = j.rel.lastIndexOf('/');
    // The temporary name sits beside the final one (same folder: the rename is atomic); it starts with a dot and names Lifeboat.
    const tmpRel = `${slash >= 0 ? j.rel.slice(0, slash + 1) : ''}.${j.rel.slice(slash + 1)}.lifeboat-part`;
    const { fd, rel: tmpChecked } = tree.createFile(Buffer.from(tmpRel));
    const hash = createHash('sha1');
    const counter = { n: 0 };
    // Unproven bytes never stay in the data directory, not even under the temporary name.
    const discard = (): void => rmSync(tree.abs(tmpChecked), { force: true });
    try {
      if (j.path !== null && j.f.size > 0) {
        const what = `${input.stanza}/${input.label}: ${j.f.name}`;
        // A block-incremental file is assembled from its block map (foreign/pgbackrest/open.ts); any other streams from its bytes.
        const source =
          j.f.blockIncrMapSize > 0
            ? [await openPlainFile(input.medium, root, info, manifests, input.label, j.f.name)]
            : [await openRange(input.medium, j.path, j.offset, j.length), ...plainStages(j.enc, what, j.f.size)];
        await pipeline([...source, fileSink(fd, j.f, hash, counter)], { signal: input.signal });
      }
      // Off the main thread: the workers' fsyncs overlap (a data directory is mostly small files).
      await new Promise<void>((res, rej) => fsync(fd, (e) => (e ? rej(e) : res())));
    } catch (e) {
      closeSync(fd);
      discard();
      throw e instanceof LifeboatError ? e : mapError(e);
    }
    closeSync(fd);
    const got = counter.n === 0 ? 'da39a3ee5e6b4b0d3255bfef95601890afd80709' : hash.digest('hex');
    if (counter.n !== j.f.size || got !== j.f.checksum) {
      discard();
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        `${j.f.name} in ${input.stanza}/${j.f.reference ?? input.label} does not match its manifest (${counter.n} of ${j.f.size} bytes, SHA-1 ${got.slice(0, 12)}… ≠ ${j.f.checksum.slice(0, 12)}…). The data directory is not usable.`,
        {
          hint: 'The repository is damaged: use another backup or another copy of the repository.',
        },
      );
    }
    const target = tree.lstat(relBuf);
    if (target.st) throw new LifeboatError('FORMAT_INVALID', `${j.rel} appears twice in the manifest.`);
    renameSync(tree.abs(tmpChecked), target.abs);
    chmodSync(target.abs, layout.fileModes.get(j.f.name) ?? layout.defaultFileMode);
    bytes += counter.n;
    input.onBytes?.(bytes);
  };
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      input.signal?.throwIfAborted();
      await one(jobs[next++]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(input.concurrency ?? 4, jobs.length)) }, worker));
  // Folders' modes last: a 0500 folder from the manifest must not stop its own files being written.
  for (const p of ordered.reverse()) {
    const rel = inDataDir(p);
    if (rel) chmodSync(tree.abs(Buffer.from(rel)), layout.pathModes.get(p) ?? layout.defaultPathMode);
  }
  return { files: jobs.length, bytes, labels: [...manifests.keys()] };
}
