import { createHash } from 'node:crypto';
import {
  closeSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  type BigIntStats,
} from 'node:fs';
import { lstat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { LifeboatError, mapError } from '../errors';
import { displayName } from '../format/names';
import { TAR_END, tarHeader, tarPadding } from '../format/tar-writer';
import type { BlockWriter } from '../pipeline/threaded-encoder';
import { nameKey, type FileEntryType } from '../format/file-index';
import type { ExcludeMatcher } from './glob';

export interface WalkedEntry {
  /** Path inside the archive, as bytes: <root name>/<relative path>. */
  path: Buffer;
  /** `path` as a lossless string (nameKey), for maps. */
  key: string;
  abs: Buffer;
  type: FileEntryType;
  size: number;
  mtimeMs: number;
  mtimeNs: bigint;
  mode: number;
  uid: number;
  gid: number;
  /** Symlink target, or for a hardlink the archive path of the first entry of its inode. */
  target: Buffer | null;
  rdev: [number, number] | null;
  dev: string;
  ino: string;
  ctimeNs: string;
}

export interface WalkResult {
  roots: Array<{ path: string; name: string }>;
  entries: WalkedEntry[];
  warnings: string[];
}

const SLASH = Buffer.from('/');

function join2(a: Buffer, b: Buffer): Buffer {
  return Buffer.concat([a, SLASH, b]);
}

/** Linux's dev_t encoding (glibc's gnu_dev_major/minor). */
function majorMinor(rdev: bigint): [number, number] {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return [major, minor];
}

function typeOf(s: BigIntStats): FileEntryType | null {
  if (s.isSymbolicLink()) return 'symlink';
  if (s.isDirectory()) return 'dir';
  if (s.isFile()) return 'file';
  if (s.isFIFO()) return 'fifo';
  if (s.isCharacterDevice()) return 'char';
  if (s.isBlockDevice()) return 'block';
  return null;
}

/**
 * Walk the given directories (each directory's names in byte order, symlinks recorded and never
 * followed, excludes applied). Names are read as bytes, so a name that is not valid UTF-8 is
 * kept exactly. Regular files with several links are recorded once as 'file' (the first met)
 * and then as 'hardlink' to it; FIFOs and devices are recorded (never opened). Sockets cannot be
 * stored (as in GNU tar) and are skipped with a warning.
 */
export async function walkTrees(paths: string[], excludes: ExcludeMatcher): Promise<WalkResult> {
  const roots: WalkResult['roots'] = [];
  const entries: WalkedEntry[] = [];
  const warnings: string[] = [];
  const names = new Set<string>();
  // dev:ino of regular files with more than one link -> archive path of the first one met.
  const firstLink = new Map<string, Buffer>();
  for (const p of paths) {
    const abs = resolve(p);
    const name = basename(abs) || 'root';
    if (names.has(name))
      throw new LifeboatError(
        'BAD_INPUT',
        `Two paths have the same name "${name}"; back them up as separate systems or sets.`,
      );
    names.add(name);
    let st;
    try {
      st = await lstat(abs);
    } catch (e) {
      const err = mapError(e);
      throw new LifeboatError(err.code === 'NOT_FOUND' ? 'BAD_INPUT' : err.code, `Cannot read ${abs}: ${err.message}`, {
        cause: e,
      });
    }
    if (!st.isDirectory()) throw new LifeboatError('BAD_INPUT', `${abs} is not a directory.`);
    roots.push({ path: abs, name });
    const record = (path: Buffer, entryAbs: Buffer, s: BigIntStats, type: FileEntryType): WalkedEntry => {
      const e: WalkedEntry = {
        path,
        key: nameKey(path),
        abs: entryAbs,
        type,
        size: type === 'file' ? Number(s.size) : 0,
        // Milliseconds with their fraction (to ~0.25 µs in a double): a restore puts mtimes back to the microsecond.
        mtimeMs: Number(s.mtimeNs) / 1e6,
        mtimeNs: s.mtimeNs,
        mode: Number(s.mode) & 0o7777,
        uid: Number(s.uid),
        gid: Number(s.gid),
        target: null,
        rdev: type === 'char' || type === 'block' ? majorMinor(s.rdev) : null,
        dev: String(s.dev),
        ino: String(s.ino),
        ctimeNs: String(s.ctimeNs),
      };
      if (type === 'file' && s.nlink > 1n) {
        const id = `${s.dev}:${s.ino}`;
        const first = firstLink.get(id);
        if (first) {
          e.type = 'hardlink';
          e.size = 0;
          e.target = first;
        } else firstLink.set(id, path);
      }
      return e;
    };
    const visit = async (dirAbs: Buffer, rel: Buffer | null, relText: string): Promise<void> => {
      // Synchronous calls (a few microseconds each, against a thread-pool round trip each),
      // giving the event loop a turn between directories.
      await new Promise<void>((r) => setImmediate(r));
      let items: Buffer[];
      try {
        items = readdirSync(dirAbs, { encoding: 'buffer' }).sort((a, b) => Buffer.compare(a, b));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          warnings.push(`${name}/${relText}: vanished during the backup`);
          return;
        }
        throw mapError(e);
      }
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        // A directory of a million entries must not hold the event loop (the app) for seconds.
        if (i > 0 && i % 2000 === 0) await new Promise<void>((r) => setImmediate(r));
        const childRel = rel ? join2(rel, item) : item;
        const childText = displayName(childRel);
        if (excludes.excludes(childText)) continue;
        const childAbs = join2(dirAbs, item);
        let s: BigIntStats;
        try {
          s = lstatSync(childAbs, { bigint: true });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
            warnings.push(`${name}/${childText}: vanished during the backup`);
            continue;
          }
          throw mapError(e);
        }
        const type = typeOf(s);
        if (type === null) {
          warnings.push(`${name}/${childText}: skipped (a socket cannot be stored)`);
          continue;
        }
        const entry = record(join2(Buffer.from(name, 'utf8'), childRel), childAbs, s, type);
        if (type === 'symlink') {
          try {
            entry.target = readlinkSync(childAbs, { encoding: 'buffer' });
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
              warnings.push(`${name}/${childText}: vanished during the backup`);
              continue;
            }
            throw mapError(e);
          }
        }
        entries.push(entry);
        if (type === 'dir') await visit(childAbs, childRel, childText);
      }
    };
    const rootAbs = Buffer.from(abs, 'utf8');
    entries.push(record(Buffer.from(name, 'utf8'), rootAbs, lstatSync(rootAbs, { bigint: true }), 'dir'));
    await visit(rootAbs, null, '');
  }
  return { roots, entries, warnings };
}

/** uid -> user name and gid -> group name from /etc/passwd and /etc/group (for tar's uname/gname). */
function ownerNames(): { users: Map<number, string>; groups: Map<number, string> } {
  const read = (file: string): Map<number, string> => {
    const m = new Map<number, string>();
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return m; // no names: tar then falls back on the numeric ids, which are always written
    }
    for (const line of text.split('\n')) {
      const [n, , id] = line.split(':');
      if (n && id && /^\d+$/.test(id) && !m.has(Number(id))) m.set(Number(id), n);
    }
    return m;
  };
  return { users: read('/etc/passwd'), groups: read('/etc/group') };
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
export function tarSource(
  entries: WalkedEntry[],
  results: { hashes: Map<string, string>; warnings: string[]; skipped: Set<string> },
  onFile?: (path: string) => void,
): (w: BlockWriter) => Promise<void> {
  return async (w) => {
    const { users, groups } = ownerNames();
    for (const e of entries) {
      const owner = { uid: e.uid, gid: e.gid, uname: users.get(e.uid), gname: groups.get(e.gid) };
      if (e.type !== 'file') {
        // A hardlink to a file that vanished before it was read would point at nothing.
        if (e.type === 'hardlink' && e.target && results.skipped.has(nameKey(e.target))) {
          results.warnings.push(`${displayName(e.path)}: vanished during the backup`);
          results.skipped.add(e.key);
          continue;
        }
        const dev = e.rdev ? { devmajor: e.rdev[0], devminor: e.rdev[1] } : {};
        await w.write(
          tarHeader({
            name: e.path,
            type: e.type,
            mode: e.mode,
            size: 0,
            mtimeMs: e.mtimeMs,
            mtimeNs: e.mtimeNs,
            ...owner,
            ...dev,
            linkname: e.target ?? undefined,
          }),
        );
        continue;
      }
      let fd: number;
      try {
        fd = openSync(e.abs, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          results.warnings.push(`${displayName(e.path)}: vanished during the backup`);
          results.skipped.add(e.key);
          continue;
        }
        throw mapError(err);
      }
      onFile?.(displayName(e.path));
      try {
        await w.write(
          tarHeader({
            name: e.path,
            type: 'file',
            mode: e.mode,
            size: e.size,
            mtimeMs: e.mtimeMs,
            mtimeNs: e.mtimeNs,
            ...owner,
          }),
        );
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
          results.warnings.push(`${displayName(e.path)}: shrank while being read; padded with zeros`);
          const zeros = Buffer.alloc(left);
          h.update(zeros);
          await w.write(zeros);
        } else if (readSync(fd, Buffer.alloc(1), 0, 1, null) > 0) {
          results.warnings.push(`${displayName(e.path)}: grew while being read; stored its first ${e.size} bytes`);
        }
        results.hashes.set(e.key, h.digest('hex'));
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
