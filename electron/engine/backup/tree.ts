import { createHash } from 'node:crypto';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { LifeboatError, mapError } from '../errors';
import { TAR_END, tarHeader, tarPadding } from '../format/tar-writer';
import type { ExcludeMatcher } from './glob';
import type { FileEntry } from './file-index';

export interface WalkedEntry {
  /** Path inside the archive: <root name>/<relative path>. */
  path: string;
  abs: string;
  type: FileEntry['type'];
  size: number;
  mtimeMs: number;
  mode: number;
  uid: number;
  gid: number;
  target: string | null;
}

export interface WalkResult {
  roots: Array<{ path: string; name: string }>;
  entries: WalkedEntry[];
  warnings: string[];
}

/**
 * Walk the given directories (sorted, symlinks recorded and never followed, excludes applied).
 * Sockets, FIFOs and devices are skipped with a warning.
 */
export async function walkTrees(paths: string[], excludes: ExcludeMatcher): Promise<WalkResult> {
  const roots: WalkResult['roots'] = [];
  const entries: WalkedEntry[] = [];
  const warnings: string[] = [];
  const names = new Set<string>();
  for (const p of paths) {
    const abs = resolve(p);
    const name = basename(abs) || 'root';
    if (names.has(name)) throw new LifeboatError('BAD_INPUT', `Two paths have the same name "${name}"; back them up as separate systems or sets.`);
    names.add(name);
    let st;
    try {
      st = await lstat(abs);
    } catch (e) {
      const err = mapError(e);
      throw new LifeboatError(err.code === 'NOT_FOUND' ? 'BAD_INPUT' : err.code, `Cannot read ${abs}: ${err.message}`, { cause: e });
    }
    if (!st.isDirectory()) throw new LifeboatError('BAD_INPUT', `${abs} is not a directory.`);
    roots.push({ path: abs, name });
    const visit = async (dirAbs: string, rel: string): Promise<void> => {
      let items: string[];
      try {
        items = (await readdir(dirAbs)).sort();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          warnings.push(`${name}/${rel}: vanished during the backup`);
          return;
        }
        throw mapError(e);
      }
      for (const item of items) {
        const childRel = rel ? `${rel}/${item}` : item;
        if (excludes.excludes(childRel)) continue;
        const childAbs = join(dirAbs, item);
        let s;
        try {
          s = await lstat(childAbs);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
            warnings.push(`${name}/${childRel}: vanished during the backup`);
            continue;
          }
          throw mapError(e);
        }
        const base = { path: `${name}/${childRel}`, abs: childAbs, mtimeMs: Math.floor(s.mtimeMs), mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
        if (s.isSymbolicLink()) {
          entries.push({ ...base, type: 'symlink', size: 0, target: await readlink(childAbs) });
        } else if (s.isDirectory()) {
          entries.push({ ...base, type: 'dir', size: 0, target: null });
          await visit(childAbs, childRel);
        } else if (s.isFile()) {
          entries.push({ ...base, type: 'file', size: s.size, target: null });
        } else {
          warnings.push(`${name}/${childRel}: skipped (not a regular file, directory or link)`);
        }
      }
    };
    entries.push({ path: name, abs, type: 'dir', size: 0, mtimeMs: Math.floor(st.mtimeMs), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, target: null });
    await visit(abs, '');
  }
  return { roots, entries, warnings };
}

/** SHA-256 of a file's content (used to tell a touched file from a changed one). */
export async function hashFile(abs: string): Promise<string | null> {
  try {
    const fh = await open(abs, 'r');
    try {
      const h = createHash('sha256');
      const buf = Buffer.allocUnsafe(1024 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        h.update(buf.subarray(0, bytesRead));
      }
      return h.digest('hex');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw mapError(e);
  }
}

/**
 * The tar stream of the chosen entries, with each file's SHA-256 computed as it is read.
 * A file that vanished is left out; one that changed size while being read is cut or padded to
 * the size in its header (as tar does) and reported.
 */
export function tarStream(entries: WalkedEntry[], results: { hashes: Map<string, string>; warnings: string[]; skipped: Set<string> }, onFile?: (path: string) => void): Readable {
  // 256 KiB reads into fresh buffers: no copy, and each chunk is hashed while still in cache.
  const CHUNK = 256 * 1024;
  async function* generate(): AsyncGenerator<Buffer> {
    for (const e of entries) {
      if (e.type !== 'file') {
        yield tarHeader({ name: e.path, type: e.type, mode: e.mode, size: 0, mtimeMs: e.mtimeMs, uid: e.uid, gid: e.gid, linkname: e.target ?? undefined });
        continue;
      }
      let fh;
      try {
        fh = await open(e.abs, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          results.warnings.push(`${e.path}: vanished during the backup`);
          results.skipped.add(e.path);
          continue;
        }
        throw mapError(err);
      }
      onFile?.(e.path);
      try {
        yield tarHeader({ name: e.path, type: 'file', mode: e.mode, size: e.size, mtimeMs: e.mtimeMs, uid: e.uid, gid: e.gid });
        const h = createHash('sha256');
        let left = e.size;
        while (left > 0) {
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          const chunk = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
          h.update(chunk);
          left -= bytesRead;
          yield chunk;
        }
        if (left > 0) {
          results.warnings.push(`${e.path}: shrank while being read; padded with zeros`);
          const zeros = Buffer.alloc(Math.min(left, CHUNK));
          h.update(Buffer.alloc(left));
          while (left > 0) {
            const n = Math.min(left, zeros.length);
            yield zeros.subarray(0, n);
            left -= n;
          }
        } else {
          const { bytesRead } = await fh.read(Buffer.alloc(1), 0, 1, null);
          if (bytesRead > 0) results.warnings.push(`${e.path}: grew while being read; stored its first ${e.size} bytes`);
        }
        results.hashes.set(e.path, h.digest('hex'));
        yield tarPadding(e.size);
      } finally {
        await fh.close();
      }
    }
    yield TAR_END;
  }
  return Readable.from(generate(), { objectMode: false, highWaterMark: 2 * 1024 * 1024 });
}
