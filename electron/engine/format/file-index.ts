import { count, finite, integer, Invalid, nullableString, object, oneOf, string, type Obj } from '../format/check';
import { LifeboatError } from '../errors';

export type FileEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';

/**
 * The file index of a files/config set: every entry of the tree as of this set (also those
 * whose content lives in a parent set of an incremental chain), one JSON object per line.
 * Format v2 (docs/media-format.md); v1 lines (no owners, ids or byte names) are still read.
 */
export interface FileEntry {
  /** The name as UTF-8 when its bytes are valid UTF-8, else a display form with `\xNN` escapes. */
  path: string;
  /** Base64 of the raw name bytes, present only when they are not valid UTF-8 (then authoritative). */
  path_b64?: string;
  type: FileEntryType;
  size: number;
  mtime_ms: number;
  mode: number;
  uid?: number;
  gid?: number;
  sha256: string | null;
  /** Symlink target, or for a 'hardlink' the path of the entry it links to. */
  target: string | null;
  target_b64?: string;
  /** For char/block devices: [major, minor]. */
  rdev?: [number, number];
  /** Decimal strings, used only by the next incremental to tell an unchanged entry. */
  dev?: string;
  ino?: string;
  ctime_ns?: string;
  /** The set whose tar holds this entry (its content for a file, its header for the others). */
  in: string;
}

/** The fields of a file index line, and its entry types (restore/index-reader.ts reads the same format). */
export const INDEX_KEYS = [
  'path',
  'path_b64',
  'type',
  'size',
  'mtime_ms',
  'mode',
  'uid',
  'gid',
  'sha256',
  'target',
  'target_b64',
  'rdev',
  'dev',
  'ino',
  'ctime_ns',
  'in',
] as const;
export const INDEX_TYPES = ['file', 'dir', 'symlink', 'hardlink', 'fifo', 'char', 'block'] as const;
const B64 = {
  test: (s: string): boolean => /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0 && s.length > 0,
  what: 'base64',
};
const DECIMAL = { test: (s: string): boolean => /^\d{1,20}$/.test(s), what: 'a decimal number' };

function optional(e: Obj, key: string, check: (o: Obj, k: string, at: string) => unknown): void {
  if (e[key] !== undefined) check(e, key, '');
}

function checkEntry(v: unknown): FileEntry {
  const e = object(v, '', INDEX_KEYS);
  string(e, 'path', '');
  oneOf(e, 'type', '', INDEX_TYPES);
  count(e, 'size', '');
  finite(e, 'mtime_ms', '');
  integer(e, 'mode', '');
  nullableString(e, 'sha256', '');
  nullableString(e, 'target', '');
  string(e, 'in', '');
  optional(e, 'path_b64', (o, k, at) => string(o, k, at, B64));
  optional(e, 'target_b64', (o, k, at) => string(o, k, at, B64));
  optional(e, 'uid', count);
  optional(e, 'gid', count);
  for (const k of ['dev', 'ino', 'ctime_ns']) optional(e, k, (o, key, at) => string(o, key, at, DECIMAL));
  if (e.rdev !== undefined) {
    const r = e.rdev;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((n) => Number.isSafeInteger(n) && (n as number) >= 0))
      throw new Invalid('rdev', 'expected [major, minor]');
  }
  if ((e.type === 'symlink' || e.type === 'hardlink') && e.target === null)
    throw new Invalid('target', `required for a ${e.type as string}`);
  return e as unknown as FileEntry;
}

/** The raw bytes of an entry's name (path_b64 when present, else the UTF-8 of path). */
export function entryPathBytes(e: Pick<FileEntry, 'path' | 'path_b64'>): Buffer {
  return e.path_b64 !== undefined ? Buffer.from(e.path_b64, 'base64') : Buffer.from(e.path, 'utf8');
}

/** The raw bytes of a symlink's target or a hardlink's linked path, or null. */
export function entryTargetBytes(e: Pick<FileEntry, 'target' | 'target_b64'>): Buffer | null {
  if (e.target_b64 !== undefined) return Buffer.from(e.target_b64, 'base64');
  return e.target === null ? null : Buffer.from(e.target, 'utf8');
}

/** A lossless string key for a name's bytes (each byte one latin1 character), for maps and sets. */
export function nameKey(bytes: Buffer): string {
  return bytes.toString('latin1');
}

export function serializeIndex(entries: FileEntry[]): Buffer {
  return Buffer.from(entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length ? '\n' : ''), 'utf8');
}

export function parseIndex(bytes: Buffer): FileEntry[] {
  const out: FileEntry[] = [];
  const lines = bytes.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    try {
      out.push(checkEntry(JSON.parse(line)));
    } catch (e) {
      const why = e instanceof Invalid ? `${e.at}: ${e.message}` : (e as Error).message;
      throw new LifeboatError('FORMAT_INVALID', `File index line ${i + 1} is invalid (${why}).`);
    }
  }
  return out;
}
