/**
 * The closed list of error codes Lifeboat reports. Every failure that reaches an operator
 * (CLI, app, report) carries one of these, with a message written for a person and never
 * containing a secret. Adding a code is a contract change: the IPC surface snapshot shows it.
 */
export const ERROR_CODES = [
  'BAD_INPUT', // the caller asked for something malformed (a bad flag, an invalid IPC payload)
  'NOT_FOUND', // a file, set, medium or run that does not exist
  'ALREADY_EXISTS', // refusing to overwrite something that is there
  'PRECONDITION_FAILED', // the world is not in the state the action needs (non-empty target, unverified set)
  'CONFIRMATION_REQUIRED', // a typed confirmation is missing or does not match
  'CANCELLED', // the operator (or a signal) stopped the work
  'TOOL_MISSING', // pg_dump, pg_restore, tar... not found
  'TOOL_VERSION_MISMATCH', // e.g. pg_dump older than the server
  'TOOL_FAILED', // an external tool exited non-zero
  'DB_UNREACHABLE', // PostgreSQL cannot be reached
  'DB_AUTH_FAILED', // PostgreSQL refused the credentials
  'DB_NOT_FOUND', // the database does not exist
  'DB_RESTORE_FAILED', // pg_restore or recovery failed
  'DB_ERROR', // another PostgreSQL error
  'STORAGE_UNREACHABLE', // a medium (folder, S3 endpoint) cannot be reached
  'STORAGE_ACCESS_DENIED', // permission denied on a medium
  'STORAGE_FULL', // no space left on a medium
  'STORAGE_ERROR', // another storage error
  'CHECKSUM_MISMATCH', // bytes do not hash to what the manifest says
  'SIGNATURE_INVALID', // a signature does not verify
  'UNTRUSTED_SIGNER', // a valid signature by a key that is not pinned
  'DECRYPTION_FAILED', // no identity can decrypt, or the ciphertext is damaged
  'FORMAT_INVALID', // a manifest or medium that does not follow the format
  'FORMAT_UNSUPPORTED', // a format version this build cannot read
  'UNSAFE_PATH', // `..`, absolute paths, links leaving the target
  'CREDENTIAL_UNAVAILABLE', // the keychain is missing/locked, or a secret is not stored
  'KEY_INVALID', // a malformed or unreadable key file
  'CATALOG_CORRUPT', // the SQLite catalog failed its integrity check
  'CATALOG_READONLY', // the catalog cannot be written
  'RUNBOOK_INVALID', // a runbook that does not validate
  'INTERNAL', // a bug: the message says so and the log has the details
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The shape an error takes when it crosses a process boundary (IPC, bridge, --json). */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** What the operator can do next, when we know. */
  hint?: string;
}

/** Process exit codes of the CLI: 1 the operation failed, 2 bad usage or environment. */
export function exitCodeFor(code: ErrorCode): 1 | 2 {
  switch (code) {
    case 'BAD_INPUT':
    case 'TOOL_MISSING':
    case 'TOOL_VERSION_MISMATCH':
    case 'DB_UNREACHABLE':
    case 'DB_AUTH_FAILED':
    case 'DB_NOT_FOUND':
    case 'STORAGE_UNREACHABLE':
    case 'STORAGE_ACCESS_DENIED':
    case 'CREDENTIAL_UNAVAILABLE':
    case 'KEY_INVALID':
    case 'CATALOG_CORRUPT':
    case 'CATALOG_READONLY':
    case 'RUNBOOK_INVALID':
    case 'FORMAT_UNSUPPORTED':
      return 2;
    case 'NOT_FOUND':
    case 'ALREADY_EXISTS':
    case 'PRECONDITION_FAILED':
    case 'CONFIRMATION_REQUIRED':
    case 'CANCELLED':
    case 'TOOL_FAILED':
    case 'DB_RESTORE_FAILED':
    case 'DB_ERROR':
    case 'STORAGE_FULL':
    case 'STORAGE_ERROR':
    case 'CHECKSUM_MISMATCH':
    case 'SIGNATURE_INVALID':
    case 'UNTRUSTED_SIGNER':
    case 'DECRYPTION_FAILED':
    case 'FORMAT_INVALID':
    case 'UNSAFE_PATH':
    case 'INTERNAL':
      return 1;
  }
}
