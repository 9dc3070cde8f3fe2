import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { LifeboatError, mapError } from '../errors';
import { TAR_END, tarHeader, tarPadding } from '../format/tar-writer';
import type { BlockWriter } from '../pipeline/threaded-encoder';
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
      // Synchronous calls (a few microseconds each, against a thread-pool round trip each),
      // giving the event loop a turn between directories.
      await new Promise<void>((r) => setImmediate(r));
      let items: string[];
      try {
        items = readdirSync(dirAbs).sort();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          warnings.push(`${name}/${rel}: vanished during the backup`);
          return;
        }
        throw mapError(e);
      }
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        // A directory of a million entries must not hold the event loop (the app) for seconds.
        if (i > 0 && i % 2000 === 0) await new Promise<void>((r) => setImmediate(r));
        const childRel = rel ? `${rel}/${item}` : item;
        if (excludes.excludes(childRel)) continue;
        const childAbs = join(dirAbs, item);
        let s;
        try {
          s = lstatSync(childAbs);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
            warnings.push(`${name}/${childRel}: vanished during the backup`);
            continue;
          }
          throw mapError(e);
        }
        const base = { path: `${name}/${childRel}`, abs: childAbs, mtimeMs: Math.floor(s.mtimeMs), mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
        if (s.isSymbolicLink()) {
          entries.push({ ...base, type: 'symlink', size: 0, target: readlinkSync(childAbs) });
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
 * Reads of 256 KiB: the copy out of the page cache lands in a cache-sized piece of the block and
 * is hashed while still there. Synchronous reads (a fraction of a millisecond each) cost a third
 * of the system time of the thread pool's round trips; the loop yields at every block.
 */
const READ_BYTES = 256 * 1024;

/**
 * The tar of the chosen entries, written into the encoder's blocks (file data is read straight
 * into them), with each file's SHA-256 computed as it is read. A file that vanished is left
 * out; one that changed size while being read is cut or padded to the size in its header (as
 * tar does) and reported.
 */
export function tarSource(entries: WalkedEntry[], results: { hashes: Map<string, string>; warnings: string[]; skipped: Set<string> }, onFile?: (path: string) => void): (w: BlockWriter) => Promise<void> {
  return async (w) => {
    for (const e of entries) {
      if (e.type !== 'file') {
        await w.write(tarHeader({ name: e.path, type: e.type, mode: e.mode, size: 0, mtimeMs: e.mtimeMs, uid: e.uid, gid: e.gid, linkname: e.target ?? undefined }));
        continue;
      }
      let fd: number;
      try {
        fd = openSync(e.abs, 'r');
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
        await w.write(tarHeader({ name: e.path, type: 'file', mode: e.mode, size: e.size, mtimeMs: e.mtimeMs, uid: e.uid, gid: e.gid }));
        const h = createHash('sha256');
        let left = e.size;
        while (left > 0) {
          const room = await w.room();
          const n = readSync(fd, room, 0, Math.min(room.length, left, READ_BYTES), null);
          if (n === 0) break;
          h.update(room.subarray(0, n));
          w.commit(n);
          left -= n;
        }
        if (left > 0) {
          results.warnings.push(`${e.path}: shrank while being read; padded with zeros`);
          const zeros = Buffer.alloc(left);
          h.update(zeros);
          await w.write(zeros);
        } else if (readSync(fd, Buffer.alloc(1), 0, 1, null) > 0) {
          results.warnings.push(`${e.path}: grew while being read; stored its first ${e.size} bytes`);
        }
        results.hashes.set(e.path, h.digest('hex'));
        await w.write(tarPadding(e.size));
      } catch (err) {
        throw err instanceof LifeboatError ? err : mapError(err);
      } finally {
        closeSync(fd);
      }
    }
    await w.write(TAR_END);
  };
}
