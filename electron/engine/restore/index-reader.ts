import { Writable } from 'node:stream';
import { LifeboatError } from '../errors';
import { count, finite, integer, Invalid, object, oneOf, string, type Obj } from '../format/check';
import { INDEX_KEYS, INDEX_TYPES } from '../format/file-index';
import { displayName } from '../format/names';
import { unsafeNameReason } from '../format/tar-reader';

/**
 * A file index read as a stream, one line at a time, with a limit per line: an index of millions
 * of entries (or a hostile one that expands to gigabytes) never sits in memory whole. Both index
 * formats are read: v1 (path, type file|dir|symlink, size, mtime_ms, mode, sha256, target, in) and
 * v2 (also hardlinks, FIFOs and devices, uid/gid, rdev, and `path_b64`/`target_b64` holding the raw
 * bytes of names that are not UTF-8).
 */

export const INDEX_LINE_LIMIT = 64 * 1024;

export type IndexEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';

export interface IndexEntry {
  /** The name's raw bytes (authoritative), and its UTF-8 display form. */
  path: Buffer;
  display: string;
  type: IndexEntryType;
  size: number;
  mtimeMs: number;
  mode: number;
  uid: number | null;
  gid: number | null;
  sha256: string | null;
  in: string;
  /** Symlink target, or for a hardlink the path of the entry it links to (raw bytes). */
  target: Buffer | null;
  rdev: [number, number] | null;
}

const SHA256 = /^[0-9a-f]{64}$/;
const MAX_TIME_MS = 8.64e15;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function optional(o: Obj, key: string): boolean {
  return o[key] !== undefined && o[key] !== null;
}

/** A name's bytes and display text: `<key>_b64` holds the raw bytes when they are not UTF-8, and wins. */
function nameOf(o: Obj, key: string): { bytes: Buffer; text: string } | null {
  const b64Key = `${key}_b64`;
  if (optional(o, b64Key)) {
    const v = string(o, b64Key, '');
    if (!B64.test(v) || v.length % 4 !== 0) throw new Invalid(b64Key, 'expected base64');
    const bytes = Buffer.from(v, 'base64');
    // The display form (`caf\xe9.txt`), as the writer's `path` and `find` show it: U+FFFD would make distinct names look alike.
    return { bytes, text: displayName(bytes) };
  }
  if (!optional(o, key)) return null;
  const text = string(o, key, '');
  return { bytes: Buffer.from(text, 'utf8'), text };
}

/** One line's entry, checked field by field; unsafe names are refused (UNSAFE_PATH) whoever verified the set before. */
export function checkIndexEntry(v: unknown): IndexEntry {
  const o = object(v, '', INDEX_KEYS);
  const name = nameOf(o, 'path');
  if (!name) throw new Invalid('path', 'required');
  const path = name.bytes;
  const text = name.text;
  const type = oneOf(o, 'type', '', INDEX_TYPES);
  const size = count(o, 'size', '');
  const mtimeMs = finite(o, 'mtime_ms', '');
  // Past what a date can hold, a time is no file's: refused here rather than failing later as a bug or EINVAL.
  if (Math.abs(mtimeMs) > MAX_TIME_MS) throw new Invalid('mtime_ms', 'expected a time within ±8.64e15 ms of 1970');
  const mode = integer(o, 'mode', '');
  if (mode < 0 || mode > 0o177777) throw new Invalid('mode', 'expected a file mode');
  // Owners are 32-bit; 4294967295 is chown's "leave as is", never an owner.
  const id = (k: string): number | null => {
    if (!optional(o, k)) return null;
    const v = count(o, k, '');
    if (v > 0xfffffffe) throw new Invalid(k, 'expected a user or group id below 4294967295');
    return v;
  };
  const uid = id('uid');
  const gid = id('gid');
  const sha256 = optional(o, 'sha256')
    ? string(o, 'sha256', '', { test: (s) => SHA256.test(s), what: 'a SHA-256 in hex' })
    : null;
  const inSet = string(o, 'in', '');
  const linked = nameOf(o, 'target');
  const target = linked?.bytes ?? null;
  if ((type === 'symlink' || type === 'hardlink') && !target) throw new Invalid('target', `required for a ${type}`);
  let rdev: [number, number] | null = null;
  if (type === 'char' || type === 'block') {
    const r = o.rdev;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0))
      throw new Invalid('rdev', 'expected [major, minor]');
    rdev = [r[0] as number, r[1] as number];
    // Linux device numbers: a 12-bit major and a 20-bit minor (what mknod can make).
    if (rdev[0] > 0xfff || rdev[1] > 0xfffff)
      throw new Invalid('rdev', 'expected a major below 4096 and a minor below 1048576');
  }
  for (const k of ['dev', 'ino', 'ctime_ns'])
    if (optional(o, k) && typeof o[k] !== 'string' && typeof o[k] !== 'number')
      throw new Invalid(k, 'expected a string');
  const why = unsafeNameReason(text);
  if (why) throw new LifeboatError('UNSAFE_PATH', `the file index holds ${why}`);
  if (
    text.endsWith('/') ||
    text.includes('//') ||
    text === '.' ||
    text.startsWith('./') ||
    text.includes('/./') ||
    text.endsWith('/.')
  ) {
    throw new Invalid('path', 'expected a plain relative path (no empty or "." parts)');
  }
  if (type === 'hardlink') {
    const t = unsafeNameReason(linked!.text);
    if (t) throw new LifeboatError('UNSAFE_PATH', `the file index holds a hard link ${text} to ${t}`);
  }
  if (linked?.text.includes('\0')) throw new Invalid('target', 'a NUL byte');
  return { path, display: text, type, size, mtimeMs, mode, uid, gid, sha256, in: inSet, target, rdev };
}

/**
 * A Writable that takes an index's plaintext and calls `onEntry` for each line, in order.
 * A line past INDEX_LINE_LIMIT, bad JSON or a bad field is FORMAT_INVALID naming the line; an
 * unsafe name is UNSAFE_PATH naming the line.
 */
export class IndexReader extends Writable {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  lines = 0;

  constructor(private readonly onEntry: (e: IndexEntry, line: number) => void) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    try {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl < 0) {
          this.keep(chunk.subarray(start));
          break;
        }
        const piece = chunk.subarray(start, nl);
        if (this.partialBytes + piece.length > INDEX_LINE_LIMIT) this.tooLong();
        const line = this.partial.length ? Buffer.concat([...this.partial, piece]) : piece;
        this.partial = [];
        this.partialBytes = 0;
        this.line(line);
        start = nl + 1;
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _final(cb: (error?: Error | null) => void): void {
    try {
      if (this.partialBytes) this.line(Buffer.concat(this.partial));
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  private keep(rest: Buffer): void {
    if (!rest.length) return;
    if (this.partialBytes + rest.length > INDEX_LINE_LIMIT) this.tooLong();
    // A copy: the chunk may be a view of a larger buffer the decoder reuses.
    this.partial.push(Buffer.from(rest));
    this.partialBytes += rest.length;
  }

  private tooLong(): never {
    throw new LifeboatError(
      'FORMAT_INVALID',
      `File index line ${this.lines + 1} is longer than ${INDEX_LINE_LIMIT} bytes: the index is damaged or hostile.`,
    );
  }

  private line(bytes: Buffer): void {
    const n = ++this.lines;
    if (bytes.length === 0) return;
    let entry: IndexEntry;
    try {
      entry = checkIndexEntry(JSON.parse(bytes.toString('utf8')) as unknown);
    } catch (e) {
      if (e instanceof LifeboatError) throw new LifeboatError(e.code, `File index line ${n}: ${e.message}.`);
      const why = e instanceof Invalid ? (e.at ? `${e.at}: ${e.message}` : e.message) : (e as Error).message;
      throw new LifeboatError('FORMAT_INVALID', `File index line ${n} is invalid (${why}).`);
    }
    this.onEntry(entry, n);
  }
}
