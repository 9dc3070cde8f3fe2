import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * The one way the engine replaces a file: written beside it under a temporary name, flushed to the
 * disk (fsync), renamed over it, then the folder flushed so the rename itself survives a power cut.
 * A reader (PostgreSQL's restore_command, the CLI after a crash) sees the old file or the whole new
 * one, never half of one, and never an empty file after a power cut.
 */

export interface AtomicWriteOptions {
  /** The new file's mode (default 0o600: the engine's files are the operator's own). */
  mode?: number;
  /** Give the file to another user before it appears (PostgreSQL's spool when running as root). */
  owner?: { uid: number; gid: number };
  /**
   * false: atomic but not durable — no fsync of the file or its folder. Only for scratch files no
   * power cut has to find again (a point-in-time restore's WAL spool, removed when replay ends and
   * useless after a crash): their fsyncs are disk writes the restore waits for, for nothing.
   */
  durable?: boolean;
}

/** A temporary name in the same folder (a rename is atomic only within one file system), unique per writer. */
function tempName(path: string): string {
  // '.tmp-' marks it as not a finished file for the folders that sweep (pitr/wal-async.ts).
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Codes of a folder that cannot be fsynced (Windows, some file systems): the rename is still atomic. */
function unsyncableFolder(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EISDIR' || code === 'EPERM' || code === 'EINVAL' || code === 'EACCES';
}

/** fsync a folder (after a rename or a new entry in it). */
export async function fsyncFolder(path: string): Promise<void> {
  let fh: FileHandle | null = null;
  try {
    fh = await open(path, 'r');
    await fh.sync();
  } catch (e) {
    if (!unsyncableFolder(e)) throw e;
  } finally {
    await fh?.close();
  }
}

function fsyncFolderSync(path: string): void {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch (e) {
    if (!unsyncableFolder(e)) throw e;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Replace `path` with `data`, durably and atomically. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  o: AtomicWriteOptions = {},
): Promise<void> {
  const tmp = tempName(path);
  try {
    const fh = await open(tmp, 'wx', o.mode ?? 0o600);
    try {
      await fh.writeFile(data);
      if (o.owner) await fh.chown(o.owner.uid, o.owner.gid);
      if (o.durable !== false) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  if (o.durable !== false) await fsyncFolder(dirname(path));
}

/** The same, for the synchronous callers (settings, markers, caches written from synchronous code). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, o: AtomicWriteOptions = {}): void {
  const tmp = tempName(path);
  try {
    const fd = openSync(tmp, 'wx', o.mode ?? 0o600);
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
      if (o.owner) chownSync(tmp, o.owner.uid, o.owner.gid);
      if (o.durable !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (o.durable !== false) fsyncFolderSync(dirname(path));
}
