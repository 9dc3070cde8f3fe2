/** Compare a validation query's value with its expectation (`> 0`, `>= 10`, `= 42`, or text). */
export function meetsExpectation(value: string | null, expect: string): boolean {
  const m = /^\s*(>=|<=|!=|=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(expect);
  if (!m) return value === expect;
  if (value === null) return false;
  const v = Number(value);
  const n = Number(m[2]);
  if (!Number.isFinite(v)) return false;
  switch (m[1] as '>=' | '<=' | '!=' | '=' | '>' | '<') {
    case '>=':
      return v >= n;
    case '<=':
      return v <= n;
    case '!=':
      return v !== n;
    case '=':
      return v === n;
    case '>':
      return v > n;
    case '<':
      return v < n;
  }
}

/** A query's first value as text, for comparison with an expectation. */
export function sqlValueText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return value.toString();
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}
