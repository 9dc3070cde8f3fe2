import { createHash, type Hash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, lchown, lutimes, type FileHandle } from 'node:fs/promises';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LifeboatError, mapError } from '../errors';
import { linkLeavesTree, TarReader, unsafeEntryReason, type TarEntry } from '../format/tar-reader';
import type { IndexEntryType } from './index-reader';
import type { IndexStore, StoredEntry } from './index-store';
import { fsFailure, joinParts, nameParts, SafeTree } from './safe-tree';
import type { ForeignSecrets } from '../foreign/types';
import { extractTar, writeAll, WritePool } from './extract';
import { decodersStopped } from './gate';
import { openSeedPlaintext, type SeedCopy } from './seed-copy';

export interface TreeRestoreInput {
  store: IndexStore;
  /** The staging folder (inside the target's file system), created empty by the caller. */
  staging: string;
  /** The decoded plaintext of one set's files tar (the caller owns how artifacts are opened and checked; `consumed` waits for its checks). */
  openTar(set: string): Promise<{
    source: Readable;
    stages: Transform[];
    label: string;
    consumed?: (reading: Promise<void>) => Promise<void>;
  }>;
  /** Restore owners and groups (root only); otherwise setuid/setgid bits are cleared, as GNU tar does. */
  sameOwner: boolean;
  /** Create device nodes (root only); FIFOs are made by anyone. */
  canMakeDevices: boolean;
  /**
   * Leave folders 0700 (the caller applies their metadata once the tree is moved into place): a
   * read-only folder in staging could not be emptied by the move, nor removed after a failure, as non-root.
   */
  deferFolders?: boolean;
  signal?: AbortSignal;
  log(level: 'info' | 'warn', message: string): void;
  progress(p: { bytesDone?: number; itemsDone?: number; current?: string }): void;
}

export interface TreeRestoreReport {
  entries: number;
  files: number;
  bytes: number;
  hashesChecked: number;
  linksOutside: number;
  /** Device nodes not made (not root): their names, the first few. */
  notCreated: { count: number; examples: string[] };
}

const show = (b: Buffer): string => b.toString('utf8');
const PROGRESS_MS = 100;

/**
 * Build exactly the tree a file index describes, in a staging folder: only the index's entries
 * (whatever else the sets' tars hold), each of its kind, then modes, owners and mtimes. Order:
 * folders, file contents set by set (each hashed against the index; several files written at
 * once, each given its owner, mode and mtime on its open handle; all written before the next
 * set), hard links, FIFOs and devices, symbolic links last (so nothing is ever written through
 * one), then the metadata of the rest, folders deepest first. Every step goes through SafeTree:
 * no link on the way is followed.
 */
export async function restoreTree(input: TreeRestoreInput): Promise<TreeRestoreReport> {
  const { store } = input;
  const tree = new SafeTree(input.staging);
  const totals = store.totals();
  for (const d of store.each(['dir'])) await tree.mkdirAsync(d.path);

  let bytesDone = 0;
  let filesDone = 0;
  // Progress at most every PROGRESS_MS (a tree of small files would otherwise say every file).
  let said = 0;
  const tick = (path: Buffer | null): void => {
    const now = Date.now();
    if (now - said < PROGRESS_MS) return;
    said = now;
    input.progress({ bytesDone, itemsDone: filesDone, ...(path ? { current: show(path) } : {}) });
  };
  const sets = store.sets();
  // Read-ahead: the next set's tar is opened (its copy judged, its first bytes read into the gate's
  // buffers, bounded by backpressure) while this one extracts; on a failure it is closed unread.
  const open = (i: number): ReturnType<TreeRestoreInput['openTar']> | null => {
    if (i >= sets.length) return null;
    const opening = input.openTar(sets[i]!);
    opening.catch(() => undefined);
    return opening;
  };
  let next = open(0);
  try {
    for (let i = 0; i < sets.length; i++) {
      const set = sets[i]!;
      input.signal?.throwIfAborted();
      const tar = await next!;
      next = open(i + 1);
      input.log('info', `reading ${tar.label}`);
      const reading = extractIndexed(tar.source, tar.stages, tree, store, set, tar.label, {
        sameOwner: input.sameOwner,
        onBytes: (n) => {
          bytesDone += n;
          tick(null);
        },
        onFile: (path) => {
          filesDone++;
          tick(path);
        },
        signal: input.signal,
      });
      // A gated source: the tar counts only once the whole artifact passed (sizes and hashes).
      await (tar.consumed ? tar.consumed(reading) : reading);
      const missing = store.missing(set);
      if (missing.count)
        throw new LifeboatError(
          'FORMAT_INVALID',
          `${tar.label} lacks ${missing.count} file(s) its index promises, e.g. ${show(missing.first!)}.`,
        );
    }
    input.progress({ bytesDone, itemsDone: filesDone });
  } catch (e) {
    void next?.then(
      (t) => t.source.destroy(),
      () => undefined,
    );
    throw e;
  }

  for (const h of store.each(['hardlink'])) await tree.hardlinkAsync(h.target!, h.path);
  // Counted, with the first few names: a hostile index of millions of devices must not fill memory.
  const notCreated: string[] = [];
  let notCreatedCount = 0;
  for (const n of store.each(['fifo', 'char', 'block'])) {
    if (n.type !== 'fifo' && !input.canMakeDevices) {
      if (notCreatedCount++ < 5) notCreated.push(show(n.path));
      continue;
    }
    await tree.mknodAsync(n.path, n.type as 'fifo' | 'char' | 'block', n.rmaj ?? 0, n.rmin ?? 0);
  }
  if (notCreatedCount)
    input.log(
      'warn',
      `${notCreatedCount} device node(s) not created (restoring device nodes needs root), e.g. ${notCreated[0]}`,
    );
  let linksOutside = 0;
  for (const l of store.each(['symlink'])) {
    await tree.symlinkAsync(l.target!, l.path);
    if (linkLeavesTree(show(l.path), show(l.target!))) linksOutside++;
  }
  await applyMetadata(tree, store, { sameOwner: input.sameOwner, which: 'entries' });
  if (!input.deferFolders) await applyMetadata(tree, store, { sameOwner: input.sameOwner, which: 'dirs' });
  return {
    entries: totals.entries,
    files: totals.files,
    bytes: totals.bytes,
    hashesChecked: totals.hashed,
    linksOutside,
    notCreated: { count: notCreatedCount, examples: notCreated },
  };
}

/** Files in flight at once, and the bytes of buffered bodies they may hold (the rest waits: backpressure on the decoder). */
const WRITE_JOBS = 16;
const WRITE_BYTES = 4 * 2 ** 20;
/** Files up to this size are hashed whole, checked, then written in one call; larger ones stream in order. */
const WHOLE_FILE = 1 * 2 ** 20;

/**
 * The mode a restored file is created with, and the chmod it still needs: its permission bits
 * when the umask (what the kernel takes off a mode given to open) leaves them all (the file is in
 * the private staging folder; its handle is writable whatever the mode), else 0600 and a chmod
 * once written (as for setuid/setgid/sticky).
 * Owners only with `sameOwner` (root); without them setuid/setgid are cleared, as GNU tar does.
 */
function createMode(want: StoredEntry, sameOwner: boolean, umask: number): { create: number; chmod: number | null } {
  const mode = want.mode & (sameOwner && want.uid !== null && want.gid !== null ? 0o7777 : 0o1777);
  return mode & 0o7000 || mode & umask ? { create: 0o600, chmod: mode } : { create: mode, chmod: null };
}

/** Owner, mode (when not given at its creation) and mtime of a restored file, on its open handle (the file this restore created, never a link). */
async function fileMetadata(
  fh: FileHandle,
  want: StoredEntry,
  sameOwner: boolean,
  chmod: number | null,
): Promise<void> {
  // chown before chmod (chown clears setuid bits); a file this process made is already its own.
  if (
    sameOwner &&
    want.uid !== null &&
    want.gid !== null &&
    (want.uid !== process.getuid?.() || want.gid !== process.getgid?.())
  )
    await fh.chown(want.uid, want.gid);
  if (chmod !== null) await fh.chmod(chmod);
  // Seconds as a number, not a Date (which keeps whole milliseconds): the index's sub-millisecond part is kept (to ~1 µs).
  const t = want.mtime_ms / 1000;
  await fh.utimes(t, t);
}

/**
 * One set's tar: the content of the index's files whose content it holds, hashed; all else read
 * past. The tar is parsed in order; a small file's body is copied whole, its size and hash checked
 * against the index, then written by a job of a bounded pool (WRITE_JOBS files, WRITE_BYTES of
 * bodies: a full pool holds the parser, hence the decoder), so many files are in flight at once;
 * a larger file streams in order, each chunk written before the next is parsed. Each file is
 * created by SafeTree (folders checked, O_EXCL|O_NOFOLLOW) and gets its owner, mode and mtime on
 * its open handle. Settles only once every job has: nothing is left writing into staging.
 */
async function extractIndexed(
  source: Readable,
  stages: Transform[],
  tree: SafeTree,
  store: IndexStore,
  set: string,
  label: string,
  o: { sameOwner: boolean; onBytes(n: number): void; onFile(path: Buffer): void; signal?: AbortSignal },
): Promise<void> {
  const pool = new WritePool(WRITE_JOBS, WRITE_BYTES);
  const umask = process.umask();
  interface Writing {
    entry: TarEntry;
    key: Buffer;
    want: StoredEntry;
    hash: Hash;
    written: number;
    /** A small file's body, filled as the tar streams; null for a file streamed to disk. */
    body: Buffer | null;
    file: FileHandle | null;
    mode: { create: number; chmod: number | null };
  }
  let writing: Writing | null = null;
  const checked = (w: Writing): void => {
    const { want, written } = w;
    if (written !== want.size)
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        `${show(want.path)} from ${label} has ${written} bytes where the file index says ${want.size}.`,
      );
    if (want.sha256 && want.sha256 !== w.hash.digest('hex'))
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        `${show(want.path)} from ${label} does not match the file index (SHA-256 differs).`,
      );
  };
  const reader = new TarReader({
    onEntry: (e) => {
      const unsafe = unsafeEntryReason(e);
      if (unsafe)
        throw new LifeboatError(
          'UNSAFE_PATH',
          `${label} holds an entry that would escape the restore folder: ${unsafe}. Nothing was put in place.`,
        );
      if (e.kind !== 'file') return;
      const key = joinParts(nameParts(e.nameBytes ?? Buffer.from(e.name)));
      const want = store.get(key);
      if (!want || want.type !== 'file' || want.inset !== set) return;
      // A second copy of a file this set's tar already gave: deep verification calls it corrupted too.
      if (want.done)
        throw new LifeboatError('CHECKSUM_MISMATCH', `${label} holds ${show(want.path)} twice: corrupted.`);
      writing = {
        entry: e,
        key,
        want,
        hash: createHash('sha256'),
        written: 0,
        body: want.size <= WHOLE_FILE ? Buffer.allocUnsafe(want.size) : null,
        file: null,
        mode: createMode(want, o.sameOwner, umask),
      };
    },
    onData: async (e, chunk) => {
      pool.check();
      const w = writing;
      if (w?.entry !== e) return;
      if (w.written + chunk.length > w.want.size)
        throw new LifeboatError(
          'CHECKSUM_MISMATCH',
          `${show(w.want.path)} from ${label} has more than the ${w.want.size} bytes the file index says.`,
        );
      w.hash.update(chunk);
      if (w.body) chunk.copy(w.body, w.written);
      else {
        w.file ??= (await tree.createFileAsync(w.key, false, w.mode.create)).fh;
        await writeAll(w.file, chunk);
      }
      w.written += chunk.length;
      o.onBytes(chunk.length);
    },
    onEntryEnd: async (e) => {
      const w = writing;
      if (w?.entry !== e) return;
      writing = null;
      if (w.body === null) {
        // A streamed file: checked once whole (its bytes stay in staging, removed on a failure).
        w.file ??= (await tree.createFileAsync(w.key, false, w.mode.create)).fh;
        const fh = w.file;
        try {
          checked(w);
          await fileMetadata(fh, w.want, o.sameOwner, w.mode.chmod);
        } finally {
          w.file = null;
          await fh.close();
        }
        store.markDone(w.want.path);
        o.onFile(w.want.path);
        return;
      }
      // A small file: checked before a byte of it is written.
      checked(w);
      store.markDone(w.want.path);
      const { key, want, body, mode } = w;
      await pool.run(body.length, async () => {
        const { fh } = await tree.createFileAsync(key, false, mode.create);
        try {
          if (body.length) await writeAll(fh, body);
          await fileMetadata(fh, want, o.sameOwner, mode.chmod);
        } finally {
          await fh.close();
        }
        o.onFile(want.path);
      });
    },
  });
  try {
    await pipeline([source, ...stages, reader], o.signal ? { signal: o.signal } : {});
    await pool.idle();
  } catch (e) {
    throw e instanceof LifeboatError ? e : mapError(e);
  } finally {
    // Nothing left running once this settles: the decoder's threads are gone, every fs call done.
    await decodersStopped(stages);
    await reader.settled();
    await pool.settled();
    const left = writing as Writing | null;
    if (left?.file) await left.file.close().catch(() => undefined);
  }
}

const IS: Record<IndexEntryType, (st: Stats) => boolean> = {
  file: (st) => st.isFile(),
  hardlink: (st) => st.isFile(),
  dir: (st) => st.isDirectory(),
  symlink: (st) => st.isSymbolicLink(),
  fifo: (st) => st.isFIFO(),
  char: (st) => st.isCharacterDevice(),
  block: (st) => st.isBlockDevice(),
};

/**
 * Owners, modes and mtimes of the index onto a tree: links, FIFOs and devices first (files got
 * theirs on their open handles as they were written), then folders deepest first (placing an
 * entry touches its folder's mtime), each a separate call (`which`). Each entry is lstat-ed (its
 * folders checked) and must be of its indexed kind: a chmod never follows a link. Owners only
 * with `sameOwner` (root; an owner already right is left alone); then chown comes before chmod
 * (chown clears setuid bits). Without them, or with no owner recorded (v1 indexes), setuid/setgid
 * are cleared.
 */
export async function applyMetadata(
  tree: SafeTree,
  store: IndexStore,
  o: { sameOwner: boolean; which: 'entries' | 'dirs' },
): Promise<void> {
  const apply = async (e: StoredEntry): Promise<void> => {
    const { rel, abs, st } = await tree.lstatAsync(e.path);
    if (!st) return; // a device node not created (reported), or hard link (its file has the metadata)
    if (!IS[e.type](st))
      throw new LifeboatError('FORMAT_INVALID', `${show(rel)} is not a ${e.type} as the file index says.`);
    try {
      const chown = o.sameOwner && e.uid !== null && e.gid !== null;
      if (chown && (st.uid !== e.uid || st.gid !== e.gid)) await lchown(abs, e.uid!, e.gid!);
      if (e.type !== 'symlink') await chmod(abs, e.mode & (chown ? 0o7777 : 0o1777));
      // Seconds as a number, not a Date (which keeps whole milliseconds): the index's sub-millisecond part is kept (to ~1 µs).
      const t = e.mtime_ms / 1000;
      await lutimes(abs, t, t);
    } catch (err) {
      throw fsFailure(err, rel);
    }
  };
  // Files got theirs on their open handles as they were written (extractIndexed).
  if (o.which === 'entries') for (const e of store.each(['symlink', 'fifo', 'char', 'block'])) await apply(e);
  if (o.which === 'dirs') for (const e of store.each(['dir'], 'deepest-first')) await apply(e);
}

// ---- a seed script's tarball (foreign) ----------------------------------------------------------

/** Entries whose mode and mtime are kept for after the extraction, at most (a hostile tar may hold millions). */
const SEED_META_LIMIT = 1_000_000;

/**
 * A seed script's `.tar.gz` (files or configuration; maybe openssl enc) into a staging folder,
 * with the same rules as a Lifeboat set's tar (extract.ts over SafeTree: a `..`, absolute or NUL
 * name refuses the whole archive, no link on the way is followed, links are made last). Its bytes
 * are hashed as they stream and fail the extraction at the end when they do not match the hash
 * the caller requires (seed-copy.ts), so the caller moves nothing into place. Modes (setuid and
 * setgid cleared) and mtimes are applied afterwards, folders deepest first.
 */
export async function extractSeedTarball(
  copy: SeedCopy,
  staging: string,
  o: { secrets?: ForeignSecrets; signal?: AbortSignal; progress(p: { bytesDone?: number }): void },
): Promise<{ entries: number; files: number; bytes: number; skipped: number; metadataApplied: boolean }> {
  const { source, stages } = await openSeedPlaintext(copy, {
    secrets: o.secrets,
    onBytes: (n) => o.progress({ bytesDone: n }),
  });
  let meta: Array<{ name: Buffer; dir: boolean; mode: number; mtimeMs: number }> | null = [];
  const report = await extractTar(source, stages, staging, {
    accept: (e) => {
      if (meta && (e.kind === 'file' || e.kind === 'dir')) {
        if (meta.length >= SEED_META_LIMIT) meta = null;
        else
          meta.push({
            name: e.nameBytes ?? Buffer.from(e.name),
            dir: e.kind === 'dir',
            mode: e.mode,
            mtimeMs: e.mtimeMs,
          });
      }
      return true;
    },
    signal: o.signal,
  });
  const tree = new SafeTree(staging);
  const kept = meta;
  if (kept) {
    const order = [
      ...kept.filter((m) => !m.dir),
      ...kept.filter((m) => m.dir).sort((a, b) => b.name.length - a.name.length),
    ];
    for (const m of order) {
      const { rel, abs, st } = await tree.lstatAsync(m.name);
      if (!st || st.isSymbolicLink()) continue;
      try {
        await chmod(abs, m.mode & 0o1777);
        await lutimes(abs, m.mtimeMs / 1000, m.mtimeMs / 1000);
      } catch (err) {
        throw fsFailure(err, rel);
      }
    }
  }
  return { ...report, metadataApplied: kept !== null };
}
