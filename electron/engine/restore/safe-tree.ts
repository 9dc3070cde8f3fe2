import { execFile } from 'node:child_process';
import { constants, linkSync, lstatSync, mkdirSync, openSync, unlinkSync, type Stats } from 'node:fs';
import { link, lstat, mkdir, open, rename, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { LifeboatError, mapError } from '../errors';
import { unsafeNameReason } from '../format/tar-reader';

const SLASH = 0x2f;

/**
 * The parts of a relative name (raw bytes), with `.` and empty parts dropped; a name that is not
 * safe (absolute, `..`, NUL, empty) is refused here too, whatever checked it before: every
 * operation of the tree goes through this.
 */
export function nameParts(name: Buffer): Buffer[] {
  const why = unsafeNameReason(name);
  if (why)
    throw new LifeboatError('UNSAFE_PATH', `Refusing to extract ${why}: it would land outside the restore folder.`);
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || name[i] === SLASH) {
      const part = name.subarray(start, i);
      if (part.length && !(part.length === 1 && part[0] === 0x2e)) parts.push(part);
      start = i + 1;
    }
  }
  if (!parts.length)
    throw new LifeboatError(
      'UNSAFE_PATH',
      `Refusing to extract ${JSON.stringify(name.toString('utf8'))}: it names the restore folder itself.`,
    );
  return parts;
}

/** Whether a name is the folder itself (`.`, `./`): a tar made with `tar -C dir .` starts with it. */
export const isTreeRoot = (name: Buffer): boolean =>
  name
    .toString('latin1')
    .split('/')
    .every((p) => p === '' || p === '.');

export const joinParts = (parts: Buffer[]): Buffer =>
  Buffer.concat(parts.flatMap((p, i) => (i ? [Buffer.of(SLASH), p] : [p])));

const show = (rel: Buffer): string => rel.toString('utf8');

/** fs failures with the entry's name, and a clear word for names past the file system's limits. */
function fsFailure(e: unknown, rel: Buffer): LifeboatError {
  if (e instanceof LifeboatError) return e;
  const code = (e as { code?: unknown }).code;
  if (code === 'ENAMETOOLONG') {
    return new LifeboatError(
      'PRECONDITION_FAILED',
      `The name ${show(rel)} is longer than the restore folder's file system allows.`,
      {
        hint: 'Most file systems allow 255 bytes per name and 4096 per path: restore into a shorter folder, or restore this entry by hand.',
        cause: e,
      },
    );
  }
  const mapped = mapError(e);
  return new LifeboatError(mapped.code, `${show(rel)}: ${mapped.message}`, { hint: mapped.hint, cause: e });
}

const lstatOrNull = (abs: Buffer): Stats | null => {
  try {
    return lstatSync(abs);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return null;
    throw e;
  }
};

const lstatOrNullAsync = async (abs: Buffer): Promise<Stats | null> => {
  try {
    return await lstat(abs);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return null;
    throw e;
  }
};

/** A new file: never over anything, never through a link. */
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** What is on the way to an entry must be a folder: true when it is missing and is to be made. */
function mustMakeFolder(st: Stats | null, rel: Buffer, create: boolean): boolean {
  if (st?.isDirectory()) return false;
  if (st?.isSymbolicLink())
    throw new LifeboatError('UNSAFE_PATH', `${show(rel)} is a symbolic link: refusing to write through it.`);
  if (st)
    throw new LifeboatError('FORMAT_INVALID', `${show(rel)} is not a folder, yet entries are to be placed under it.`);
  if (!create) throw new LifeboatError('NOT_FOUND', `The folder ${show(rel)} is missing.`);
  return true;
}

/** A name taken already (EEXIST), or another failure of the file system, naming the entry. */
function placeFailure(e: unknown, rel: Buffer): LifeboatError {
  if ((e as { code?: unknown }).code === 'EEXIST')
    return new LifeboatError('FORMAT_INVALID', `${show(rel)} appears twice (or as two kinds of entry).`);
  return fsFailure(e, rel);
}

/** A hard link's target must be a regular file extracted in this tree. */
function checkLinkTarget(st: Stats | null, name: Buffer, target: Buffer): void {
  if (!st?.isFile())
    throw new LifeboatError(
      'UNSAFE_PATH',
      `${show(name)} is a hard link to ${show(target)}, which is not a file extracted in the restore folder.`,
    );
}

/** `mknod` with its arguments; its stderr on failure. */
function runMknod(args: string[]): Promise<{ error: { code?: unknown; message: string } | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile('mknod', args, { encoding: 'utf8' }, (error, _out, stderr) => resolve({ error, stderr }));
  });
}

/**
 * A folder that entries are extracted into without ever following a link: every component of
 * every name is checked with lstat from the root down (a link anywhere on the way is refused, not
 * followed), files are opened with O_EXCL|O_NOFOLLOW, and links are created by the caller last,
 * after every file and folder, so that nothing is written through a link of the archive either.
 * The root itself is the caller's (it may be a link the operator chose). The restore paths use
 * the *Async methods (the same checks, on the libuv pool): a slow disk never blocks the main thread.
 */
export class SafeTree {
  private readonly root: Buffer;
  /** The last parent folder checked: tar and index order keep a folder's entries together. */
  private checkedParent: Buffer | null = null;

  constructor(root: string) {
    this.root = Buffer.from(root);
  }

  abs(rel: Buffer): Buffer {
    return Buffer.concat([this.root, Buffer.of(SLASH), rel]);
  }

  /**
   * The folder holding `name`, every component checked (created as a 0700 folder when absent when
   * `create`); returns the entry's relative name. Throws UNSAFE_PATH for a link on the way.
   * (Synchronous; the restore paths use parentAsync.)
   */
  parent(name: Buffer, create: boolean): Buffer {
    const { parts, rel, parentRel } = this.split(name);
    if (this.mustCheck(parts, parentRel)) {
      for (let i = 1; i < parts.length; i++) this.folder(joinParts(parts.slice(0, i)), create);
      this.checkedParent = parentRel;
    }
    return rel;
  }

  /** parent(), every check on the libuv pool: a slow disk never blocks the main thread. */
  async parentAsync(name: Buffer, create: boolean): Promise<Buffer> {
    const { parts, rel, parentRel } = this.split(name);
    if (this.mustCheck(parts, parentRel)) {
      for (let i = 1; i < parts.length; i++) await this.folderAsync(joinParts(parts.slice(0, i)), create);
      this.checkedParent = parentRel;
    }
    return rel;
  }

  private split(name: Buffer): { parts: Buffer[]; rel: Buffer; parentRel: Buffer } {
    const parts = nameParts(name);
    return { parts, rel: joinParts(parts), parentRel: joinParts(parts.slice(0, -1)) };
  }

  private mustCheck(parts: Buffer[], parentRel: Buffer): boolean {
    return parts.length > 1 && !(this.checkedParent && this.checkedParent.equals(parentRel));
  }

  private folder(rel: Buffer, create: boolean): void {
    const abs = this.abs(rel);
    try {
      if (mustMakeFolder(lstatOrNull(abs), rel, create)) mkdirSync(abs, { mode: 0o700 });
    } catch (e) {
      throw fsFailure(e, rel);
    }
  }

  private async folderAsync(rel: Buffer, create: boolean): Promise<void> {
    const abs = this.abs(rel);
    try {
      if (mustMakeFolder(await lstatOrNullAsync(abs), rel, create)) await mkdir(abs, { mode: 0o700 });
    } catch (e) {
      throw fsFailure(e, rel);
    }
  }

  /** A folder (and its missing parents), 0700 until its recorded mode is applied. */
  mkdir(name: Buffer): Buffer {
    const rel = this.parent(name, true);
    this.folder(rel, true);
    return rel;
  }

  async mkdirAsync(name: Buffer): Promise<Buffer> {
    const rel = await this.parentAsync(name, true);
    await this.folderAsync(rel, true);
    return rel;
  }

  /** A new regular file for writing; `replace` removes a regular file already there (a name twice in a tar). */
  createFile(name: Buffer, replace = false): { fd: number; rel: Buffer } {
    const rel = this.parent(name, true);
    const abs = this.abs(rel);
    try {
      if (replace && lstatOrNull(abs)?.isFile()) unlinkSync(abs);
      return { fd: openSync(abs, CREATE, 0o600), rel };
    } catch (e) {
      throw placeFailure(e, rel);
    }
  }

  /** createFile() on the libuv pool; `mode` (0600 unless given, less the umask) is the new file's, its handle writable whatever the mode. */
  async createFileAsync(name: Buffer, replace = false, mode = 0o600): Promise<{ fh: FileHandle; rel: Buffer }> {
    const rel = await this.parentAsync(name, true);
    const abs = this.abs(rel);
    try {
      if (replace && (await lstatOrNullAsync(abs))?.isFile()) await unlink(abs);
      return { fh: await open(abs, CREATE, mode), rel };
    } catch (e) {
      throw placeFailure(e, rel);
    }
  }

  /** A hard link to a regular file already extracted in this tree. */
  hardlink(target: Buffer, name: Buffer): void {
    const targetRel = this.parent(target, false);
    let st: Stats | null;
    try {
      st = lstatOrNull(this.abs(targetRel));
    } catch (e) {
      throw fsFailure(e, targetRel);
    }
    checkLinkTarget(st, name, target);
    const rel = this.parent(name, true);
    try {
      linkSync(this.abs(targetRel), this.abs(rel));
    } catch (e) {
      throw placeFailure(e, rel);
    }
  }

  async hardlinkAsync(target: Buffer, name: Buffer): Promise<void> {
    const targetRel = await this.parentAsync(target, false);
    const st = await lstatOrNullAsync(this.abs(targetRel)).catch((e: unknown) => {
      throw fsFailure(e, targetRel);
    });
    checkLinkTarget(st, name, target);
    const rel = await this.parentAsync(name, true);
    try {
      await link(this.abs(targetRel), this.abs(rel));
    } catch (e) {
      throw placeFailure(e, rel);
    }
  }

  /** A symbolic link, whatever its target (a link is data: it is never followed here). */
  async symlinkAsync(target: Buffer, name: Buffer): Promise<void> {
    const rel = await this.parentAsync(name, true);
    try {
      await symlink(target, this.abs(rel));
    } catch (e) {
      throw placeFailure(e, rel);
    }
  }

  /**
   * A FIFO or device node, made by the `mknod` CLI under a plain temporary name at the root, then
   * renamed into place (names are bytes; a command line is text).
   */
  async mknodAsync(name: Buffer, kind: 'fifo' | 'char' | 'block', major: number, minor: number): Promise<void> {
    const rel = await this.parentAsync(name, true);
    const tmp = `.lifeboat-node-${process.pid}`;
    const tmpAbs = this.abs(Buffer.from(tmp));
    const args =
      kind === 'fifo'
        ? ['-m', '600', tmpAbs.toString(), 'p']
        : ['-m', '600', tmpAbs.toString(), kind === 'char' ? 'c' : 'b', String(major), String(minor)];
    const r = await runMknod(args);
    if (r.error) {
      throw new LifeboatError(
        typeof r.error.code === 'string' ? 'TOOL_MISSING' : 'TOOL_FAILED',
        `Could not create the ${kind === 'fifo' ? 'FIFO' : 'device node'} ${show(rel)}: ${(r.stderr || r.error.message || '').trim()}`,
      );
    }
    try {
      if (await lstatOrNullAsync(this.abs(rel)))
        throw new LifeboatError('FORMAT_INVALID', `${show(rel)} appears twice (or as two kinds of entry).`);
      await rename(tmpAbs, this.abs(rel));
    } catch (e) {
      await unlink(tmpAbs).catch(() => undefined);
      throw fsFailure(e, rel);
    }
  }

  /** lstat of an entry whose folders are checked (null when absent). */
  async lstatAsync(name: Buffer): Promise<{ rel: Buffer; abs: Buffer; st: Stats | null }> {
    const rel = await this.parentAsync(name, false);
    const abs = this.abs(rel);
    try {
      return { rel, abs, st: await lstatOrNullAsync(abs) };
    } catch (e) {
      throw fsFailure(e, rel);
    }
  }
}

export { fsFailure };
