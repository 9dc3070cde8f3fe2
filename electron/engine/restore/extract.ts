import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { chmod, lstat, lutimes, mkdir, readdir, rename, rm, symlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LifeboatError, mapError } from '../errors';
import { TarReader, unsafeEntryReason, type TarEntry } from '../format/tar-reader';

export interface ExtractedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface ExtractOptions {
  /** Which entries to write (the rest are read past). */
  accept(entry: TarEntry): boolean;
  /** Called for each file written, with its content hash; throw to stop. */
  onFile?(file: ExtractedFile): void;
  onBytes?(n: number): void;
  signal?: AbortSignal;
}

/**
 * Extract a tar stream into a folder, refusing any entry that would land outside it (absolute
 * names, `..`, links pointing out): the first such entry stops the extraction with UNSAFE_PATH.
 * Files are written with their mode; mtimes are left to the caller, who knows the final tree.
 */
export async function extractTar(source: Readable, stages: Transform[], dest: string, o: ExtractOptions): Promise<{ entries: number; files: number; bytes: number }> {
  // Writes are synchronous: each is a copy into the page cache of at most a decoder chunk (a
  // fraction of a millisecond), where a thread-pool round trip per chunk held the whole
  // pipeline back. Each file's hash is taken only when the caller wants it.
  let fd: number | null = null;
  let hash: Hash | null = null;
  let writing: TarEntry | null = null;
  // An accepted entry is opened on its first data (or at its end, when it has none): onEntry is
  // synchronous, the folder and file creation are not.
  let pending: TarEntry | null = null;
  let files = 0;
  let bytes = 0;
  const made = new Set<string>();
  const ensureDir = async (dir: string): Promise<void> => {
    if (made.has(dir)) return;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    made.add(dir);
  };
  const fileDone = (e: TarEntry): void => {
    if (fd !== null) closeSync(fd);
    fd = null;
    writing = null;
    files++;
    if (o.onFile && hash) o.onFile({ path: e.name, size: e.size, sha256: hash.digest('hex') });
  };
  const begin = async (e: TarEntry): Promise<void> => {
    pending = null;
    const abs = join(dest, e.name);
    if (e.kind === 'dir') return ensureDir(abs);
    await ensureDir(dirname(abs));
    if (e.kind === 'symlink') {
      await rm(abs, { force: true, recursive: true });
      await symlink(e.linkname, abs);
      return;
    }
    if (e.kind !== 'file') return;
    await rm(abs, { force: true, recursive: true });
    fd = openSync(abs, 'wx', 0o600);
    hash = o.onFile ? createHash('sha256') : null;
    writing = e;
  };
  const reader = new TarReader({
    onEntry: (e) => {
      const unsafe = unsafeEntryReason(e);
      if (unsafe) throw new LifeboatError('UNSAFE_PATH', `The archive holds an entry that would escape the restore folder: ${unsafe}. Nothing of this archive was put in place.`);
      pending = o.accept(e) ? e : null;
    },
    onData: async (e, chunk) => {
      if (pending === e) await begin(e);
      if (writing !== e || fd === null) return;
      for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
      hash?.update(chunk);
      bytes += chunk.length;
      o.onBytes?.(chunk.length);
    },
    onEntryEnd: async (e) => {
      if (pending === e) await begin(e);
      if (writing === e) fileDone(e);
    },
  });
  try {
    await pipeline([source, ...stages, reader], o.signal ? { signal: o.signal } : {});
  } catch (e) {
    throw e instanceof LifeboatError ? e : mapError(e);
  } finally {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already failing
      }
    }
  }
  return { entries: reader.entries, files, bytes };
}

export interface TreeEntryMeta {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  mtimeMs: number;
}

/** Put modes and mtimes on a restored tree: files and links first, folders deepest first last. */
export async function applyMetadata(root: string, entries: TreeEntryMeta[]): Promise<void> {
  for (const e of entries) {
    if (e.type === 'dir') continue;
    const abs = join(root, e.path);
    const t = new Date(e.mtimeMs);
    if (e.type === 'symlink') await lutimes(abs, t, t).catch(() => undefined);
    else {
      await chmod(abs, e.mode & 0o7777);
      await utimes(abs, t, t);
    }
  }
  const dirs = entries.filter((e) => e.type === 'dir').sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  for (const d of dirs) {
    const abs = join(root, d.path);
    await chmod(abs, d.mode & 0o7777);
    const t = new Date(d.mtimeMs);
    await utimes(abs, t, t);
  }
}

/**
 * Move everything under `from` into `to`: entries absent from `to` are renamed in place (one
 * step each), folders present on both sides are merged, other existing entries are replaced.
 * Safe to run again after an interruption: what was moved is no longer in `from`.
 */
export async function mergeMove(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const name of await readdir(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const [s, d] = await Promise.all([lstat(src), lstat(dst).catch(() => null)]);
    if (d && s.isDirectory() && d.isDirectory()) {
      await mergeMove(src, dst);
      await rm(src, { recursive: true, force: true });
      continue;
    }
    if (d) await rm(dst, { recursive: true, force: true });
    await rename(src, dst);
  }
}
