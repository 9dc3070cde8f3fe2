import type { WireError } from './errors';

/** Every IPC call settles with one of these; nothing is thrown across the boundary. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: WireError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(error: WireError): Result<T> {
  return { ok: false, error };
}
