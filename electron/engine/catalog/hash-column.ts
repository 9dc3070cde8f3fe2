/**
 * SHA-256 hashes in the catalog's artifacts table (migration 10) are 32-byte blobs, half the
 * 64 hex digits they were: at 100,000 sets the table holds 1,000,000 rows with two hashes each.
 * Hex stays the form everywhere else (the API, IPC, CLI, manifests): every writer converts with
 * `hashToColumn` and every reader selects `hashFromColumn(column)`, so no blob leaves this module's SQL.
 * A value that is not a lowercase 64-digit hex hash (another tool's checksum) is kept as the text it was.
 */

const HEX64 = /^[0-9a-f]{64}$/;

/** The stored form of a hash: 32 bytes for a SHA-256 in hex, else the value itself (null stays null). */
export function hashToColumn(hex: string | null | undefined): Buffer | string | null {
  if (hex === null || hex === undefined) return null;
  return HEX64.test(hex) ? Buffer.from(hex, 'hex') : hex;
}

/** SQL giving a hash column back as the lowercase hex text it was written from, named `alias` (the column's name by default). */
export function hashFromColumn(column: string, alias: string = column.slice(column.lastIndexOf('.') + 1)): string {
  return `CASE typeof(${column}) WHEN 'blob' THEN lower(hex(${column})) ELSE ${column} END AS ${alias}`;
}
