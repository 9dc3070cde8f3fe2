import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import type { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LifeboatError, mapError } from '../errors';
import { TarReader, unsafeEntryReason, type TarEntry } from '../format/tar-reader';
import { decodersStopped } from './gate';
import { isTreeRoot, SafeTree } from './safe-tree';

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
 * Extract a tar stream into a folder (dumps in directory format, base backups) without ever
 * following a link: names are checked again here (absolute, `..`, NUL: UNSAFE_PATH), every folder
 * on the way is checked with lstat (a link is refused, not followed), files are created with
 * O_EXCL|O_NOFOLLOW, and links are made last, after every file (GNU tar's delayed links): hard
 * links only to files extracted here, symbolic links whatever their target (a link is data).
 * FIFOs and devices are not made here (counted in `skipped`). Files are written 0600; modes and
 * mtimes are left to the caller, who knows the final tree.
 */
export async function extractTar(
  source: Readable,
  stages: Duplex[],
  dest: string,
  o: ExtractOptions,
): Promise<{ entries: number; files: number; bytes: number; skipped: number }> {
  // Every fs call is asynchronous (the libuv pool): a slow USB disk never blocks the main thread.
  // An entry's folder and file are made in order (TarReader announces entries synchronously: the
  // work is queued and awaited before its data), each chunk written before the next is parsed.
  const tree = new SafeTree(dest);
  const queue = new SerialQueue();
  let file: Promise<FileHandle> | null = null;
  let hash: Hash | null = null;
  let writing: TarEntry | null = null;
  let files = 0;
  let bytes = 0;
  let skipped = 0;
  // Links wait for the end; a base backup or a dump holds a handful.
  const links: Array<{ hard: boolean; name: Buffer; target: Buffer }> = [];
  const reader = new TarReader({
    onEntry: (e) => {
      const unsafe = unsafeEntryReason(e);
      if (unsafe)
        throw new LifeboatError(
          'UNSAFE_PATH',
          `The archive holds an entry that would escape the restore folder: ${unsafe}. Nothing of this archive was put in place.`,
        );
      if (!o.accept(e)) return;
      const name = e.nameBytes ?? Buffer.from(e.name);
      if (e.kind === 'dir') {
        if (!isTreeRoot(name)) void queue.add(() => tree.mkdirAsync(name));
      } else if (isTreeRoot(name))
        throw new LifeboatError(
          'UNSAFE_PATH',
          `The archive holds a ${e.kind} named ${e.name}: it would replace the restore folder itself.`,
        );
      if (e.kind === 'file') {
        file = queue.add(async () => (await tree.createFileAsync(name, true)).fh);
        hash = o.onFile ? createHash('sha256') : null;
        writing = e;
      } else if (e.kind === 'symlink' || e.kind === 'hardlink')
        links.push({ hard: e.kind === 'hardlink', name, target: e.linkBytes ?? Buffer.from(e.linkname) });
      else skipped++;
    },
    onData: async (e, chunk) => {
      await queue.idle();
      if (writing !== e || file === null) return;
      await writeAll(await file, chunk);
      hash?.update(chunk);
      bytes += chunk.length;
      o.onBytes?.(chunk.length);
    },
    onEntryEnd: async (e) => {
      await queue.idle();
      if (writing !== e) return;
      const fh = file;
      file = null;
      writing = null;
      if (fh !== null) await (await fh).close();
      files++;
      if (o.onFile && hash) o.onFile({ path: e.name, size: e.size, sha256: hash.digest('hex') });
    },
  });
  try {
    await pipeline([source, ...stages, reader], o.signal ? { signal: o.signal } : {});
    await queue.idle();
    for (const l of links) if (l.hard) await tree.hardlinkAsync(l.target, l.name);
    for (const l of links) if (!l.hard) await tree.symlinkAsync(l.target, l.name);
  } catch (e) {
    throw e instanceof LifeboatError ? e : mapError(e);
  } finally {
    // Nothing left running once this settles: the decoder's threads are gone, every fs call done.
    await decodersStopped(stages);
    await reader.settled();
    await queue.settled();
    if (file !== null) await closeQuietly(file);
  }
  return { entries: reader.entries, files, bytes, skipped };
}

/** All of `chunk` into the file at its current position. */
export async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

/** Close a file being given up (a failure is already being reported). */
export async function closeQuietly(fh: Promise<FileHandle>): Promise<void> {
  try {
    await (await fh).close();
  } catch {
    // not opened, or already failing
  }
}

/**
 * fs work announced by a synchronous callback (TarReader's onEntry), run in order; `idle()`
 * waits for it and throws its first failure, `settled()` only waits.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private failure: Error | null = null;

  add<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => (this.failure === null ? op() : Promise.reject(this.failure)));
    this.tail = run.catch((e: unknown) => {
      this.failure ??= e instanceof Error ? e : new Error(String(e));
    });
    run.catch(() => undefined);
    return run;
  }

  async idle(): Promise<void> {
    await this.tail;
    if (this.failure !== null) throw this.failure;
  }

  async settled(): Promise<void> {
    await this.tail;
  }
}

/**
 * Jobs (file writes) in flight at once, bounded in number and in the bytes they hold: `run(bytes,
 * job)` waits until both fit (one job always fits), which is the backpressure on its caller (the
 * tar parser, hence the decoder). The first failure is kept: a later `run` and `idle()` throw it;
 * `settled()` only waits until no job is running.
 */
export class WritePool {
  private running = new Set<Promise<void>>();
  private held = 0;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly jobs: number,
    private readonly bytes: number,
  ) {}

  async run(bytes: number, job: () => Promise<void>): Promise<void> {
    for (;;) {
      if (this.failure !== null) throw this.failure;
      if (this.running.size === 0 || (this.running.size < this.jobs && this.held + bytes <= this.bytes)) break;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    this.held += bytes;
    const p: Promise<void> = job()
      .catch((e: unknown) => {
        this.failure ??= e instanceof Error ? e : new Error(String(e));
      })
      .finally(() => {
        this.held -= bytes;
        this.running.delete(p);
        const wake = this.wake;
        this.wake = null;
        wake?.();
      });
    this.running.add(p);
  }

  /** Throws the first failure of a job so far (without waiting). */
  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  async idle(): Promise<void> {
    await this.settled();
    this.check();
  }

  async settled(): Promise<void> {
    while (this.running.size) await Promise.all(this.running);
  }
}

/**
 * Move everything under `from` into `to`: entries absent from `to` are renamed in place (one
 * step each), folders present on both sides are merged, other existing entries are replaced.
 * Safe to run again after an interruption: what was moved is no longer in `from`.
 */
export async function mergeMove(from: string | Buffer, to: string | Buffer): Promise<void> {
  if (!existsSync(to)) await mkdir(to);
  // Names as bytes: a name that is not UTF-8 would not survive a round trip through a string.
  for (const name of await readdir(from, { encoding: 'buffer' })) {
    const src = Buffer.concat([Buffer.from(from), Buffer.from('/'), name]);
    const dst = Buffer.concat([Buffer.from(to), Buffer.from('/'), name]);
    // lstat on both sides: a link already in the target is replaced, never followed.
    const [s, d] = await Promise.all([lstat(src), lstat(dst).catch(() => null)]);
    if (d && s.isDirectory() && d.isDirectory()) {
      // A read-only folder already there (an earlier restore of the same tree) must take entries:
      // its recorded mode is applied again once everything is in place (restore.files does).
      if ((d.mode & 0o300) !== 0o300 && process.getuid?.() !== 0) await chmod(dst, d.mode | 0o700);
      await mergeMove(src, dst);
      await rm(src, { recursive: true, force: true });
      continue;
    }
    if (d) await rm(dst, { recursive: true, force: true });
    await rename(src, dst);
  }
}
