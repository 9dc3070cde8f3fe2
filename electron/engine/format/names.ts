import { LifeboatError } from '../errors';

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
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export const SET_ID = /^\d{8}T\d{6}Z-(pg-logical|pg-base|files|config)(-\d+)?$/;
