import { LifeboatError } from '../errors';
/**
 * Checks for the JSON the media hold (manifests, file indexes), written by hand: they run for
 * every manifest a scan reads and at every command's start, where a schema library's load and
 * per-object cost showed up in the measurements. Each failure names the field it is about.
 */
export class Invalid extends Error {
  constructor(
    readonly at: string,
    message: string,
  ) {
    super(message);
  }
}

export type Obj = Record<string, unknown>;

/** The path of `key` inside the object at `at` (`a.b.c`). */
export const field = (at: string, key: string): string => (at ? `${at}.${key}` : key);

/** A JSON object (not null, not a list), with any fields. */
export function plainObject(v: unknown, at: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(at, 'expected an object');
  return v as Obj;
}

export function object(v: unknown, at: string, keys: readonly string[]): Obj {
  const o = plainObject(v, at);
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new Invalid(at, `unknown field "${k}"`);
  return o;
}

/** An object with any fields (kind-specific facts). */
export function record(o: Obj, key: string, at: string): Obj {
  const v = o[key];
  if (v === undefined) throw new Invalid(field(at, key), 'required');
  return plainObject(v, field(at, key));
}

export function string(
  o: Obj,
  key: string,
  at: string,
  pattern?: { test: (s: string) => boolean; what: string },
): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Invalid(field(at, key), v === undefined ? 'required' : 'expected a string');
  if (pattern && !pattern.test(v)) throw new Invalid(field(at, key), `expected ${pattern.what}`);
  return v;
}

export function nullableString(
  o: Obj,
  key: string,
  at: string,
  pattern?: { test: (s: string) => boolean; what: string },
): string | null {
  return o[key] === null ? null : string(o, key, at, pattern);
}

export function count(o: Obj, key: string, at: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new Invalid(field(at, key), v === undefined ? 'required' : 'expected a whole number ≥ 0');
  return v;
}

export function integer(o: Obj, key: string, at: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new Invalid(field(at, key), v === undefined ? 'required' : 'expected a whole number');
  return v;
}

export function finite(o: Obj, key: string, at: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Invalid(field(at, key), v === undefined ? 'required' : 'expected a number');
  return v;
}

export function oneOf<T extends string>(o: Obj, key: string, at: string, values: readonly T[]): T {
  const v = string(o, key, at);
  if (!(values as readonly string[]).includes(v))
    throw new Invalid(field(at, key), `expected one of ${values.join(', ')}`);
  return v as T;
}

export function array(o: Obj, key: string, at: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new Invalid(field(at, key), v === undefined ? 'required' : 'expected a list');
  return v;
}

export function stringList(
  o: Obj,
  key: string,
  at: string,
  pattern?: { test: (s: string) => boolean; what: string },
): string[] {
  const list = array(o, key, at);
  list.forEach((_, i) => string(list as unknown as Obj, String(i), field(at, key), pattern));
  return list as string[];
}

export const regex = (re: RegExp, what: string): { test: (s: string) => boolean; what: string } => ({
  test: (s) => re.test(s),
  what,
});

/**
 * Limits on the JSON Lifeboat reads from media and from its own files (docs/media-format.md, "Limits"). A manifest far
 * larger than any real one, or nested deeper than any real one, is refused before it is parsed: JSON.parse itself copes,
 * but what comes after (JSON.stringify of the facts, validation) recurses and would take the whole scan down with it.
 */
export const JSON_LIMITS = {
  /** A manifest of 10,000 artifacts is about 5 MB. */
  manifestBytes: 16 * 1024 * 1024,
  /** settings.json and lifeboat-medium.json: small files an operator edits. */
  settingsBytes: 4 * 1024 * 1024,
  /** A file set's index (one JSON line per entry, about 200 bytes each): a million files take about 200 MB. */
  indexBytes: 512 * 1024 * 1024,
  /** Objects and lists inside one another; real manifests use 4. */
  maxDepth: 32,
} as const;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The deepest nesting of objects and lists in JSON text, counted on the bytes without recursion (UTF-8 never hides these ASCII bytes in a multi-byte character). Stops past `limit`. */
export function jsonDepth(bytes: Buffer, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) depth--;
  }
  return max;
}

/**
 * JSON.parse of a file read from a medium or the data folder, within a size and a depth limit. Throws FORMAT_INVALID
 * naming `what` and why; the caller decides whether that stops the command or only this file.
 */
export function parseBoundedJson(bytes: Buffer, what: string, limits: { maxBytes: number; maxDepth: number }): unknown {
  if (bytes.length > limits.maxBytes) {
    throw new LifeboatError(
      'FORMAT_INVALID',
      `${what} is ${bytes.length} bytes, over the ${limits.maxBytes >> 20} MiB a Lifeboat file may have.`,
    );
  }
  if (jsonDepth(bytes, limits.maxDepth) > limits.maxDepth)
    throw new LifeboatError('FORMAT_INVALID', `${what} nests objects or lists deeper than ${limits.maxDepth} levels.`);
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (e) {
    throw new LifeboatError('FORMAT_INVALID', `${what} is not valid JSON (${(e as Error).message}).`);
  }
}
