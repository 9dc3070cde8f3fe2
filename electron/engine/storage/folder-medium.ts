import { isUtf8 } from 'node:buffer';
import {
  closeSync,
  constants,
  createReadStream,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
} from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { LifeboatError, mapError, mapErrorAt } from '../errors';
import { fsyncFolder, writeFileAtomic } from '../fs/atomic-write';
import { MEDIUM_FILE, parseMediumInfo, type MediumInfo } from '../format/medium';
import { assertSafeRelativePath } from '../format/names';
import { isPageAligned, PAGE } from './aligned-memory';
import {
  completeSets,
  isAbandoned,
  type ArtifactSink,
  type ListedFile,
  type ListFilesOptions,
  type ListedSet,
  type ListedSetFolder,
  type Medium,
  type ObjectStat,
  type PartialOwner,
  type SetWriter,
} from './medium';
import { makeFolders, removeEmptyFolders } from './make-folders';

const PARTIAL_PREFIX = '.partial-';
const OWNER_FILE = '.owner.json';

async function writeDurable(path: string, bytes: Buffer): Promise<void> {
  const fh = await open(path, 'wx', 0o644);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const WRITEBACK_BYTES = 32 * 1024 * 1024;

/** O_DIRECT where there is one (Linux). */
const DIRECT_FLAG = process.platform === 'linux' ? constants.O_DIRECT : undefined;

/** Write all of `bytes` at `position` (a write may be short); returns how many bytes it wrote. */
async function writeAt(fh: FileHandle, bytes: Buffer, position: number, stopShort = false): Promise<number> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    done += bytesWritten;
    if (stopShort) break;
  }
  return done;
}

export interface FileSink extends ArtifactSink {
  /** Bytes written past the page cache (O_DIRECT). */
  directBytes(): number;
}

/**
 * A Writable on a new file that fsyncs before it reports done.
 *
 * On Linux, whole pages of page-aligned memory (the write path's ring: aligned-memory.ts) at
 * page-aligned offsets go to the disk with O_DIRECT: a backup's artifacts are not read back, and
 * copying hundreds of MB into the page cache was the largest kernel cost of a backup (and, in
 * a VM whose host reclaims free memory, a slow and very variable one). The rest (the tail, small
 * artifacts, chunks from other memory, file systems without O_DIRECT) is written through the
 * page cache, flushed every WRITEBACK_BYTES in the background. Both descriptors write the one
 * file at explicit offsets; the final fsync covers both.
 */
export function fileSink(path: string, o: { direct?: boolean } = {}): FileSink {
  // LIFEBOAT_DIRECT_IO=0 turns it off (read at each file: the tests and the benchmark compare).
  const useDirect = DIRECT_FLAG !== undefined && (o.direct ?? process.env.LIFEBOAT_DIRECT_IO !== '0');
  let handles: Promise<{ fh: FileHandle; direct: FileHandle | null }> | null = null;
  const getHandles = (): Promise<{ fh: FileHandle; direct: FileHandle | null }> =>
    (handles ??= (async () => {
      const fh = await open(path, 'wx', 0o644);
      let direct: FileHandle | null = null;
      if (useDirect) {
        try {
          direct = await open(path, constants.O_WRONLY | DIRECT_FLAG);
        } catch {
          // this file system has no O_DIRECT (EINVAL): the page cache it is
        }
      }
      return { fh, direct };
    })());
  let resolveDone!: () => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => undefined);
  let position = 0;
  let direct = 0;
  // Every WRITEBACK_BYTES through the page cache a flush to the disk starts in the background,
  // so the disk writes while the backup goes on and the final fsync has only the tail left.
  let unsynced = 0;
  let background: Promise<void> = Promise.resolve();
  // Kept, not dropped: after a failed flush (EIO) a later fsync may report success.
  let syncError: unknown = null;
  const writeChunk = async (h: { fh: FileHandle; direct: FileHandle | null }, bytes: Buffer): Promise<void> => {
    let off = 0;
    if (h.direct && position % PAGE === 0 && isPageAligned(bytes)) {
      try {
        off = await writeAt(h.direct, bytes, position, true);
        direct += off;
      } catch (e) {
        // A file system that takes the flag at open but not the write: the page cache from now on.
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        await h.direct.close();
        h.direct = null;
      }
    }
    if (off < bytes.length) {
      const rest = bytes.subarray(off);
      await writeAt(h.fh, rest, position + off);
      unsynced += rest.length;
    }
    position += bytes.length;
  };
  const stream = new Writable({
    highWaterMark: 1024 * 1024,
    writev(chunks, callback) {
      getHandles()
        .then(async (h) => {
          for (const { chunk } of chunks) await writeChunk(h, chunk as Buffer);
          if (unsynced >= WRITEBACK_BYTES) {
            unsynced = 0;
            background = background.then(() => h.fh.datasync()).catch((e: unknown) => void (syncError ??= e));
          }
        })
        .then(
          () => callback(),
          (e: unknown) => callback(mapErrorAt(e, path)),
        );
    },
    final(callback) {
      getHandles()
        .then(async (h) => {
          await background;
          if (syncError) throw mapErrorAt(syncError, path);
          await h.fh.sync();
          await h.direct?.close();
          await h.fh.close();
        })
        .then(
          () => {
            resolveDone();
            callback();
          },
          (e: unknown) => callback(mapErrorAt(e, path)),
        );
    },
    destroy(error, callback) {
      if (error) rejectDone(error);
      if (handles) {
        void handles
          .then(async (h) => {
            await h.direct?.close();
            await h.fh.close();
          })
          .catch(() => undefined)
          .finally(() => callback(error));
      } else {
        callback(error);
      }
    },
  });
  return { stream, done, releasesChunks: true, directBytes: () => direct };
}

/** The names that are valid UTF-8: every name Lifeboat writes is; another is a stray file, never a set. */
function utf8Names(names: Buffer[]): string[] {
  return names.filter((n) => isUtf8(n)).map((n) => n.toString('utf8'));
}

export class FolderMedium implements Medium {
  readonly kind = 'folder' as const;
  readonly location: string;

  constructor(path: string) {
    this.location = resolve(path);
  }

  private abs(rel: string): string {
    assertSafeRelativePath(rel);
    return join(this.location, rel);
  }

  async readInfo(): Promise<MediumInfo | null> {
    try {
      return parseMediumInfo(await readFile(join(this.location, MEDIUM_FILE)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        try {
          await stat(this.location);
        } catch (e2) {
          throw new LifeboatError('STORAGE_UNREACHABLE', `The medium folder is not there: ${this.location}`, {
            hint: 'Is the drive mounted? Check the path.',
            cause: e2,
          });
        }
        return null;
      }
      throw e instanceof LifeboatError ? e : mapError(e);
    }
  }

  async putFile(rel: string, bytes: Buffer): Promise<void> {
    const path = this.abs(rel);
    try {
      await makeFolders(dirname(path));
      await writeFileAtomic(path, bytes, { mode: 0o644 });
    } catch (e) {
      throw mapError(e);
    }
  }

  async writeInfo(info: MediumInfo): Promise<void> {
    try {
      await makeFolders(this.location);
      await writeDurable(join(this.location, MEDIUM_FILE), Buffer.from(`${JSON.stringify(info, null, 2)}\n`));
      await makeFolders(join(this.location, 'sets'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new LifeboatError('ALREADY_EXISTS', `${this.location} is already a Lifeboat medium.`);
      }
      throw mapError(e);
    }
  }

  async beginSet(system: string, setId: string): Promise<SetWriter> {
    const systemDir = this.abs(`sets/${system}`);
    const setPath = `sets/${system}/${setId}`;
    const finalDir = this.abs(setPath);
    const partialDir = join(systemDir, `${PARTIAL_PREFIX}${setId}-${process.pid}`);
    // The folders this set made (sets/, sets/<system>/): a failed or cancelled backup removes them
    // again when they are empty, never one another set lives in.
    const created: string[] = [];
    let madePartial = false;
    try {
      // Fails early and clearly on a read-only or foreign-owned medium.
      await access(this.location, constants.W_OK);
      for (let attempt = 1; ; attempt++) {
        created.push(...(await makeFolders(systemDir)));
        if (await this.stat(setPath))
          throw new LifeboatError('ALREADY_EXISTS', `A set ${setPath} already exists on ${this.location}.`);
        try {
          await mkdir(partialDir);
          madePartial = true;
          break;
        } catch (e) {
          // Another backup's failure removed the empty system folder between the two steps: make it again.
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw e;
        }
      }
      const owner: PartialOwner = { pid: process.pid, host: hostname(), started_at: new Date().toISOString() };
      await writeDurable(join(partialDir, OWNER_FILE), Buffer.from(JSON.stringify(owner)));
    } catch (e) {
      if (madePartial) await rm(partialDir, { recursive: true, force: true }).catch(() => undefined);
      await removeEmptyFolders(created);
      throw mapError(e);
    }
    const sinks: ArtifactSink[] = [];
    return {
      setPath,
      openArtifact: (name) => {
        assertSafeRelativePath(name, 'artifact name');
        const sink = fileSink(join(partialDir, name));
        sinks.push(sink);
        return sink;
      },
      commit: async (files) => {
        try {
          await Promise.all(sinks.map((s) => s.done));
          for (const f of files) {
            assertSafeRelativePath(f.name, 'file name');
            await writeDurable(join(partialDir, f.name), f.bytes);
          }
          await rm(join(partialDir, OWNER_FILE));
          await fsyncFolder(partialDir);
          // The atomic step: before it, readers see nothing; after it, a complete set.
          await rename(partialDir, finalDir);
          await fsyncFolder(systemDir);
        } catch (e) {
          throw mapError(e);
        }
      },
      abort: async () => {
        for (const s of sinks) s.stream.destroy();
        await rm(partialDir, { recursive: true, force: true });
        await removeEmptyFolders(created);
      },
    };
  }

  async listSets(): Promise<ListedSet[]> {
    return completeSets(await this.listSetFolders());
  }

  async listSetFolders(): Promise<ListedSetFolder[]> {
    const out: ListedSetFolder[] = [];
    let systems: string[];
    try {
      systems = utf8Names(await readdir(join(this.location, 'sets'), { encoding: 'buffer' }));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw mapError(e);
    }
    for (const system of systems.sort()) {
      if (system.startsWith('.')) continue;
      let ids: string[];
      try {
        ids = utf8Names(await readdir(join(this.location, 'sets', system), { encoding: 'buffer' }));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
        throw mapError(e);
      }
      const wanted = ids.filter((id) => !id.startsWith('.')).sort();
      // Synchronous lstat of names read from the directory (no path checks needed), yielding to
      // the event loop every 256: a promise per stat cost more than the 10,000 syscalls of a
      // large medium's rescan themselves.
      const base = join(this.location, 'sets', system);
      for (let i = 0; i < wanted.length; i++) {
        if (i > 0 && i % 256 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const setId = wanted[i]!;
        out.push({
          system,
          setId,
          // Joined, not a template: one flat string (at 100,000 sets the parts of templates cost MiBs).
          path: ['sets', system, setId].join('/'),
          manifest: statOf(`${base}/${setId}/manifest.json`),
        });
      }
    }
    return out;
  }

  async listFiles(prefix: string, options: ListFilesOptions = {}): Promise<ListedFile[]> {
    const out: ListedFile[] = [];
    const limit = options.limit ?? 100_000;
    const maxDepth = options.maxDepth ?? 8;
    const walk = async (rel: string, depth: number): Promise<void> => {
      if (out.length >= limit) return;
      let raw;
      try {
        raw = await readdir(rel ? join(this.location, rel) : this.location, {
          withFileTypes: true,
          encoding: 'buffer',
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && rel === prefix) return;
        throw mapError(e);
      }
      // Names read as bytes: one that is not UTF-8 (a stray file copied onto the drive) is no
      // Lifeboat file, and as text it would name another file (U+FFFD) that stat cannot find.
      const entries = raw
        .filter((d) => isUtf8(d.name))
        .map((d) => ({
          name: d.name.toString('utf8'),
          isDirectory: () => d.isDirectory(),
          isFile: () => d.isFile(),
          isSymbolicLink: () => d.isSymbolicLink(),
        }));
      for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        if (entry.name.startsWith('.')) continue;
        const childRel = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (depth === 0 && options.skip?.includes(entry.name)) continue;
          if (depth < maxDepth) await walk(childRel, depth + 1);
          else options.onDeeper?.(childRel);
        } else if (entry.isSymbolicLink()) {
          options.onLink?.(childRel);
        } else if (entry.isFile()) {
          const st = await stat(join(this.location, childRel));
          out.push({ path: childRel, size: st.size, mtimeMs: st.mtimeMs, etag: null });
          if (out.length >= limit) return;
        }
      }
    };
    await walk(prefix.replace(/\/+$/, ''), 0);
    return out;
  }

  // Small files (manifests, signatures, indexes) are read synchronously: one system call
  // instead of four thread-pool round trips each, which is what makes a 10,000-set scan fast.
  /** A link anywhere on the way (a symlinked set folder) is refused: the medium's files only, never what a link points at. */
  private refuseLinks(rel: string): void {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const on = parts.slice(0, i).join('/');
      if (statOf(this.abs(on))?.symlink)
        throw new LifeboatError('UNSAFE_PATH', `${on} is a symbolic link; Lifeboat never follows links on a medium.`);
    }
  }

  /** The medium folder's own path with its links resolved (its mount point may be reached through one); null if unknown. */
  private realLocation: string | null | undefined;

  /**
   * A small file read whole, never through a link: opened with O_NOFOLLOW (the file itself), then,
   * on Linux, the path the kernel actually opened (/proc/self/fd) must be the one asked for under
   * the medium folder — a link on the way (a symlinked set or system folder) resolves elsewhere.
   * That is three system calls fewer per manifest than an lstat of every part of the path, and it
   * checks the file that was opened rather than the path a moment before. Elsewhere (no /proc),
   * the lstat of every part, as before. A scan of 100,000 sets reads 100,000 manifests this way.
   */
  private readNoLinks(rel: string): Buffer {
    const abs = this.abs(rel);
    let fd: number;
    try {
      fd = openSync(abs, constants.O_RDONLY | NOFOLLOW);
    } catch (e) {
      // The file itself is a link (ELOOP; EMLINK on some BSDs): said by name.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'EMLINK') this.refuseLinks(rel);
      throw mapError(e);
    }
    try {
      const opened = openedPath(fd);
      const expected =
        opened === null ? null : join((this.realLocation ??= realLocationOf(this.location)) ?? this.location, rel);
      if (opened === null || expected === null) this.refuseLinks(rel);
      else if (opened !== expected) {
        this.refuseLinks(rel);
        // A file system that ignores case (vfat, exFAT: the USB drives of a DR site) may name what
        // was opened in its own case: with no link on the way (checked just above, part by part),
        // that is the same file.
        if (opened.toLowerCase() === expected.toLowerCase()) return readFileSync(fd);
        // No link left to name (it changed since, or the medium folder moved): refused all the same.
        throw new LifeboatError(
          'UNSAFE_PATH',
          `${rel} is reached through a symbolic link; Lifeboat never follows links on a medium.`,
        );
      }
      return readFileSync(fd);
    } catch (e) {
      throw mapError(e);
    } finally {
      closeSync(fd);
    }
  }

  async readFile(rel: string): Promise<Buffer> {
    return this.readNoLinks(rel);
  }

  async readOptional(rel: string): Promise<Buffer | null> {
    // Checked first: most sets of a scan may have no signature, and a thrown ENOENT costs more
    // than the file system call. lstat, not exists: a link pointing nowhere is still a link,
    // refused below rather than read as 'no signature'.
    if (!lstatSync(this.abs(rel), { throwIfNoEntry: false })) return null;
    try {
      return this.readNoLinks(rel);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || mapError(e).code === 'NOT_FOUND') return null;
      throw e;
    }
  }

  async openRead(rel: string): Promise<Readable> {
    const path = this.abs(rel);
    const s = await this.stat(rel);
    if (!s) throw new LifeboatError('NOT_FOUND', `Not on the medium: ${rel}`);
    this.refuseLinks(rel);
    return createReadStream(path, { highWaterMark: 1024 * 1024 });
  }

  async stat(rel: string): Promise<ObjectStat | null> {
    return statOf(this.abs(rel));
  }

  async listNamed(dir: string, namePrefix: string): Promise<ListedFile[]> {
    let names: string[];
    try {
      names = utf8Names(await readdir(this.abs(dir), { encoding: 'buffer' }));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw mapError(e);
    }
    const out: ListedFile[] = [];
    for (const name of names.filter((n) => n.startsWith(namePrefix) && !n.startsWith('.'))) {
      const st = await stat(join(this.abs(dir), name));
      if (st.isFile()) out.push({ path: `${dir}/${name}`, size: st.size, mtimeMs: st.mtimeMs, etag: null });
    }
    return out;
  }

  async removeFile(rel: string): Promise<void> {
    try {
      await rm(this.abs(rel), { force: true });
    } catch (e) {
      throw mapError(e);
    }
  }

  async removeSet(setPath: string): Promise<void> {
    const dir = this.abs(setPath);
    const doomed = join(dir, '..', `.deleting-${setPath.split('/').pop() ?? 'set'}-${process.pid}`);
    try {
      await rename(dir, doomed);
      await rm(doomed, { recursive: true, force: true });
    } catch (e) {
      throw mapError(e);
    }
  }

  async cleanupPartials(): Promise<string[]> {
    const removed: string[] = [];
    let systems: string[];
    try {
      systems = await readdir(join(this.location, 'sets'));
    } catch {
      return removed;
    }
    for (const system of systems) {
      let entries: string[];
      try {
        entries = await readdir(join(this.location, 'sets', system));
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (!entry.startsWith(PARTIAL_PREFIX) && !entry.startsWith('.deleting-')) continue;
        const dir = join(this.location, 'sets', system, entry);
        const owner = await readFile(join(dir, OWNER_FILE), 'utf8').then(
          (t) => JSON.parse(t) as PartialOwner,
          () => null,
        );
        const age = Date.now() - (await stat(dir)).mtimeMs;
        if (entry.startsWith('.deleting-') || isAbandoned(owner, age, hostname())) {
          await rm(dir, { recursive: true, force: true });
          removed.push(`sets/${system}/${entry}`);
        }
      }
    }
    return removed;
  }

  localPath(rel: string): string | null {
    // '.' is the medium folder itself: a restic repository scanned at its own root lives there.
    if (rel === '.' || rel === '') return this.location;
    return this.abs(rel);
  }
}

/** O_NOFOLLOW where there is one (not on Windows, where the lstat of every part decides). */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** The path the kernel opened for a descriptor (Linux), or null when this system cannot say. */
function openedPath(fd: number): string | null {
  if (process.platform !== 'linux') return null;
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

function realLocationOf(location: string): string | null {
  try {
    return realpathSync.native(location);
  } catch {
    return null;
  }
}

/** lstat of an absolute path: null when it does not exist, never following a link. */
function statOf(path: string): ObjectStat | null {
  try {
    const s = lstatSync(path, { throwIfNoEntry: false });
    return s ? { size: s.size, mtimeMs: s.mtimeMs, etag: null, symlink: s.isSymbolicLink() } : null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw mapError(e);
  }
}
