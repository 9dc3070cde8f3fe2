import { isUtf8 } from 'node:buffer';
import { LifeboatError } from '../errors';
import { SET_KINDS } from '../../../shared/domain/kinds';

/**
 * Names inside a medium are plain relative paths. A reader rejects `..`, absolute paths,
 * backslashes, empty segments and control characters, so nothing in a manifest can point
 * outside its set folder.
 */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 1024) return false;
  if (p.startsWith('/') || p.includes('\\') || /^[A-Za-z]:/.test(p)) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

export function assertSafeRelativePath(p: string, what = 'path'): void {
  if (!isSafeRelativePath(p)) {
    throw new LifeboatError('UNSAFE_PATH', `Unsafe ${what} in the set: "${p.slice(0, 120)}"`, {
      hint: 'A set may only name plain relative paths inside its folder; this medium may have been tampered with.',
    });
  }
}

/** System names: also folder names on media. */
export const SYSTEM_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function assertSystemName(name: string): void {
  if (!SYSTEM_NAME.test(name)) {
    throw new LifeboatError('BAD_INPUT', `Not a valid system name: "${name.slice(0, 70)}"`, {
      hint: 'Use lowercase letters, digits, dots, dashes and underscores (e.g. customer-db).',
    });
  }
}

/** `20261121T020000Z` for a date. */
export function compactUtc(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** A set id: the UTC start time and the kind (SET_KINDS), with a suffix for a second set in the same second. */
export const SET_ID = new RegExp(`^\\d{8}T\\d{6}Z-(${SET_KINDS.join('|')})(-\\d+)?$`);

// File names on the source are bytes, not text: Linux allows any byte but `/` and NUL. A name
// is kept as its bytes from the walk to the tar and the index; text forms below are for display
// and for names that happen to be valid UTF-8 (nearly all).

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function utf8SequenceAt(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number): boolean => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1]!;
    // Overlong forms (E0 80..9F) and UTF-16 surrogates (ED A0..BF) are not valid UTF-8.
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1]!;
    if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return 0;
    return 4;
  }
  return 0;
}

/**
 * The display form of a name: the name itself when its bytes are valid UTF-8, else its valid
 * parts decoded and every other byte as `\xNN` (so `caf\xe9.txt` for a Latin-1 `café.txt`).
 * Lossy on purpose (a valid name may contain a literal `\x`): the bytes are what restores use.
 */
export function displayName(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const n = utf8SequenceAt(bytes, i);
    if (n === 0) {
      out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
      i += 1;
    } else {
      out += bytes.toString('utf8', i, i + n);
      i += n;
    }
  }
  return out;
}

/** A name's index fields: `path` (display) plus `path_b64` only when the bytes are not UTF-8. */
export function nameFields(bytes: Buffer): { text: string; b64: string | null } {
  return isUtf8(bytes)
    ? { text: bytes.toString('utf8'), b64: null }
    : { text: displayName(bytes), b64: bytes.toString('base64') };
}
