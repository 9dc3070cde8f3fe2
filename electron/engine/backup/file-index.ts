import { count, finite, integer, Invalid, nullableString, object, oneOf, string } from '../format/check';
import { LifeboatError } from '../errors';

/**
 * The file index of a files/config set: every entry of the tree as of this set (also those
 * whose content lives in a parent set of an incremental chain), one JSON object per line.
 */
export interface FileEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mtime_ms: number;
  mode: number;
  sha256: string | null;
  target: string | null;
  /** The set whose tar holds this entry's content. */
  in: string;
}

const KEYS = ['path', 'type', 'size', 'mtime_ms', 'mode', 'sha256', 'target', 'in'] as const;
const TYPES = ['file', 'dir', 'symlink'] as const;

function checkEntry(v: unknown): FileEntry {
  const e = object(v, '', KEYS);
  string(e, 'path', '');
  oneOf(e, 'type', '', TYPES);
  count(e, 'size', '');
  finite(e, 'mtime_ms', '');
  integer(e, 'mode', '');
  nullableString(e, 'sha256', '');
  nullableString(e, 'target', '');
  string(e, 'in', '');
  return e as unknown as FileEntry;
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
