import { createHash } from 'node:crypto';
import { LifeboatError } from '../../errors';
import { JSON_LIMITS, jsonDepth } from '../../format/check';

/**
 * pgBackRest's INI files (backup.info, archive.info, backup.manifest): `[section]` then `key=value`,
 * each value JSON. Every one of them ends with `[backrest] backrest-checksum`, the SHA-1 of the whole
 * content rendered as `{"section":{"key":value,…},…}` (src/info/info.c: keys JSON-quoted, values as
 * written, the checksum line itself left out). Checking it is what tells a damaged or hand-edited info
 * file from a good one without the pgbackrest binary.
 */

export type Ini = Map<string, Map<string, string>>;

/** Lenient reading (the catalog's first reader kept it): trims lines, skips comments. */
export function parseIni(text: string): Ini {
  const out: Ini = new Map();
  let current: Map<string, string> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = out.get(section[1]!) ?? new Map<string, string>();
      out.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current)
      throw new LifeboatError('FORMAT_INVALID', `Not an INI line: ${printable(line.slice(0, 80))}`);
    current.set(line.slice(0, eq).replace(/^"|"$/g, ''), line.slice(eq + 1));
  }
  return out;
}

/** A line of a file that turned out not to be text (an encrypted info file) is shown escaped, never as raw binary. */
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** JSON.stringify of a key, as pgBackRest's jsonFromStr writes it (the same escapes for the characters keys hold). */
function jsonKey(key: string): string {
  return JSON.stringify(key);
}

export interface CheckedIni {
  ini: Ini;
  /** The checksum the file states, and whether the content hashes to it. */
  checksum: string | null;
  checksumOk: boolean;
}

/**
 * Strict reading with the checksum verified: values are not trimmed, every line is a section or a
 * key=value pair (pgBackRest writes no comments), and the SHA-1 is computed while reading.
 */
export function parseCheckedIni(text: string, what: string): CheckedIni {
  const ini: Ini = new Map();
  const hash = createHash('sha1');
  hash.update('{');
  let section: string | null = null;
  let current: Map<string, string> | null = null;
  let firstInSection = true;
  let firstSection = true;
  let checksum: string | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    if (line.startsWith('[') && line.endsWith(']')) {
      section = line.slice(1, -1);
      current = ini.get(section) ?? new Map<string, string>();
      ini.set(section, current);
      firstInSection = true;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || current === null || section === null) {
      throw new LifeboatError(
        'FORMAT_INVALID',
        `${what}: line ${i + 1} is not a pgBackRest INI line: ${printable(line.slice(0, 80))}`,
        {
          hint: 'An encrypted repository starts its info files with "Salted__"; otherwise the file is damaged.',
        },
      );
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    current.set(key, value);
    if (section === 'backrest' && key === 'backrest-checksum') {
      const v = json(value);
      checksum = typeof v === 'string' ? v : null;
      continue;
    }
    if (firstInSection) {
      hash.update(`${firstSection ? '' : '},'}"${section}":{`);
      firstSection = false;
      firstInSection = false;
    } else hash.update(',');
    hash.update(`${jsonKey(key)}:`);
    hash.update(value);
  }
  hash.update('}}');
  const actual = hash.digest('hex');
  return { ini, checksum, checksumOk: checksum !== null && checksum === actual };
}

/** A JSON value of the INI, or the text when it is not JSON (or nested past the limit: facts are stored with JSON.stringify). */
export function json(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  if (jsonDepth(Buffer.from(value, 'utf8'), JSON_LIMITS.maxDepth) > JSON_LIMITS.maxDepth) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
