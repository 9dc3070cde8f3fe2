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

export function string(o: Obj, key: string, at: string, pattern?: { test: (s: string) => boolean; what: string }): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Invalid(field(at, key), v === undefined ? 'required' : 'expected a string');
  if (pattern && !pattern.test(v)) throw new Invalid(field(at, key), `expected ${pattern.what}`);
  return v;
}

export function nullableString(o: Obj, key: string, at: string, pattern?: { test: (s: string) => boolean; what: string }): string | null {
  return o[key] === null ? null : string(o, key, at, pattern);
}

export function count(o: Obj, key: string, at: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Invalid(field(at, key), v === undefined ? 'required' : 'expected a whole number ≥ 0');
  return v;
}

export function integer(o: Obj, key: string, at: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Invalid(field(at, key), v === undefined ? 'required' : 'expected a whole number');
  return v;
}

export function finite(o: Obj, key: string, at: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Invalid(field(at, key), v === undefined ? 'required' : 'expected a number');
  return v;
}

export function oneOf<T extends string>(o: Obj, key: string, at: string, values: readonly T[]): T {
  const v = string(o, key, at);
  if (!(values as readonly string[]).includes(v)) throw new Invalid(field(at, key), `expected one of ${values.join(', ')}`);
  return v as T;
}

export function array(o: Obj, key: string, at: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new Invalid(field(at, key), v === undefined ? 'required' : 'expected a list');
  return v;
}

export function stringList(o: Obj, key: string, at: string, pattern?: { test: (s: string) => boolean; what: string }): string[] {
  const list = array(o, key, at);
  list.forEach((_, i) => string(list as unknown as Obj, String(i), field(at, key), pattern));
  return list as string[];
}

export const regex = (re: RegExp, what: string): { test: (s: string) => boolean; what: string } => ({ test: (s) => re.test(s), what });
