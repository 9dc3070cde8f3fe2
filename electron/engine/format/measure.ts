/**
 * A set's measurements for trends and the ransomware indicator, kept in its manifest's `source`
 * under `measure` (a free-form object of format v1, so older readers ignore it): what a catalog
 * rebuilt from the media needs to judge the set again. Sets made before this measure existed recorded
 * none: their incompressible share and changed files are unknown (gaps), never zero.
 */
export const MEASURE_KEY = 'measure';

export interface SetMeasure {
  /** Plaintext bytes that would not compress, estimated from sampled byte entropy (pipeline/encoder-worker.ts). */
  incompressible_bytes: number | null;
  /** Files sets: regular files in the tree at backup time. */
  files_total: number | null;
  /** Files sets: files new or changed since the previous set of the system (null: nothing to compare with). */
  files_changed: number | null;
}

function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** The measurements of a manifest's source; absent or malformed fields are null (a hostile manifest gives gaps). */
export function readMeasure(source: unknown): SetMeasure {
  const m =
    source !== null && typeof source === 'object' ? (source as Record<string, unknown>)[MEASURE_KEY] : undefined;
  const o = m !== null && typeof m === 'object' ? (m as Record<string, unknown>) : {};
  return {
    incompressible_bytes: count(o.incompressible_bytes),
    files_total: count(o.files_total),
    files_changed: count(o.files_changed),
  };
}
