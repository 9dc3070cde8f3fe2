import type { ErrorCode, WireError } from '../../shared/errors';
import { redactText } from './log/redact';

/**
 * The one error type the engine throws. `message` is for the operator and must never hold a
 * secret (it is redacted again on its way out, as a second line of defence); `cause` keeps the
 * low-level error for the log.
 */
export class LifeboatError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LifeboatError';
    this.code = code;
    this.hint = options.hint;
  }
}

interface ErrnoLike {
  code?: unknown;
  errno?: unknown;
  syscall?: unknown;
  path?: unknown;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A path for a message: whole when it is of a readable length, else its start and its end (a 5,000-character name helps no one). */
function shownPath(p: string): string {
  return p.length <= 240 ? p : `${p.slice(0, 120)}…${p.slice(-100)} (${p.length} characters)`;
}

/** What a system call reported, from Node's `CODE: what, syscall 'path'` message: "name too long". */
function errnoText(e: ErrnoLike & { message?: unknown }): string {
  const m = /^E[A-Z0-9]+: ([^,]+)/.exec(str(e.message) ?? '');
  return m?.[1] ?? 'system error';
}

function fsError(code: string, e: ErrnoLike & { message?: unknown }): LifeboatError | undefined {
  const path = str(e.path);
  const where = path ? ` (${shownPath(path)})` : '';
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new LifeboatError('STORAGE_FULL', `No space left on the medium${where}.`, {
        hint: 'Free space or choose another medium; nothing was left half-written.',
        cause: e,
      });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new LifeboatError('STORAGE_ACCESS_DENIED', `Permission denied${where}.`, {
        hint: 'Check the folder is writable (and not mounted read-only) by this user.',
        cause: e,
      });
    case 'ENOENT':
      return new LifeboatError('NOT_FOUND', `Not found${where}.`, { cause: e });
    case 'EEXIST':
      return new LifeboatError('ALREADY_EXISTS', `Already exists${where}.`, { cause: e });
    case 'EIO':
      return new LifeboatError('STORAGE_ERROR', `The medium returned an I/O error${where}.`, {
        hint: 'The drive may be failing or was removed; copy what you can to another medium.',
        cause: e,
      });
    case 'ENOTDIR':
      return new LifeboatError('BAD_INPUT', `A part of this path is a file where a folder is needed${where}.`, {
        hint: 'Name a folder (or a path whose parent folders exist), not a file.',
        cause: e,
      });
    case 'EISDIR':
      return new LifeboatError('BAD_INPUT', `This is a folder where a file is needed${where}.`, {
        hint: 'Name a file, not a folder.',
        cause: e,
      });
    case 'ENAMETOOLONG':
      return new LifeboatError('STORAGE_ERROR', `A name is too long for this file system${where}.`, {
        hint: 'Most file systems allow 255 bytes per name and 4096 per path: choose a shorter folder, or restore that file elsewhere.',
        cause: e,
      });
    case 'ELOOP':
      return new LifeboatError(
        'UNSAFE_PATH',
        `Too many symbolic links (or a link where none may be) on the way${where}.`,
        { cause: e },
      );
    case 'EMFILE':
    case 'ENFILE':
      return new LifeboatError('STORAGE_ERROR', `Too many open files${where}.`, {
        hint: 'Raise the open-file limit (ulimit -n) and retry.',
        cause: e,
      });
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case 'EAI_AGAIN':
      return new LifeboatError('STORAGE_UNREACHABLE', `Could not reach the server (${code}).`, {
        cause: e,
      });
    default:
      // Any other failed system call on a file is the file system's answer, not a bug: say which
      // call, what the OS said and on which path.
      if (/^E[A-Z0-9]+$/.test(code) && str(e.syscall) && path) {
        return new LifeboatError(
          'STORAGE_ERROR',
          `The file system refused ${str(e.syscall)}: ${errnoText(e)} (${code})${where}.`,
          { cause: e },
        );
      }
      return undefined;
  }
}

/**
 * mapError for an error raised while working on `path`: a write or fsync on an open file reports
 * no path of its own, and with several media ("No space left on the medium") the operator must be
 * told which one.
 */
export function mapErrorAt(e: unknown, path: string): LifeboatError {
  if (
    e &&
    typeof e === 'object' &&
    !(e instanceof LifeboatError) &&
    typeof (e as ErrnoLike).code === 'string' &&
    (e as ErrnoLike).path === undefined
  ) {
    try {
      (e as ErrnoLike).path = path;
    } catch {
      // a frozen error: mapped without the path
    }
  }
  return mapError(e);
}

/** PostgreSQL SQLSTATE classes that matter to an operator. */
function pgError(sqlstate: string, message: string, e: unknown): LifeboatError {
  if (sqlstate === '28P01' || sqlstate === '28000') {
    return new LifeboatError('DB_AUTH_FAILED', 'PostgreSQL refused the credentials.', {
      hint: 'Check the user and password (PGPASSWORD, ~/.pgpass or the keychain entry).',
      cause: e,
    });
  }
  if (sqlstate === '3D000') {
    return new LifeboatError('DB_NOT_FOUND', `The database does not exist: ${message}`, { cause: e });
  }
  if (sqlstate.startsWith('08') || sqlstate === '57P03') {
    return new LifeboatError('DB_UNREACHABLE', `PostgreSQL is not accepting connections: ${message}`, {
      cause: e,
    });
  }
  return new LifeboatError('DB_ERROR', `PostgreSQL error ${sqlstate}: ${message}`, { cause: e });
}

function s3Error(name: string, status: number | undefined, e: unknown): LifeboatError | undefined {
  if (name === 'NoSuchBucket') {
    return new LifeboatError('STORAGE_UNREACHABLE', 'The S3 bucket does not exist.', {
      hint: 'Check the bucket name and endpoint.',
      cause: e,
    });
  }
  if (name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || status === 403) {
    return new LifeboatError('STORAGE_ACCESS_DENIED', 'S3 denied access.', {
      hint: 'Check the access key, its secret and the bucket policy.',
      cause: e,
    });
  }
  if (name === 'NoSuchKey' || status === 404) {
    return new LifeboatError('NOT_FOUND', 'The S3 object does not exist.', { cause: e });
  }
  if (status !== undefined && status >= 500) {
    return new LifeboatError('STORAGE_UNREACHABLE', `S3 answered with HTTP ${status}.`, { cause: e });
  }
  return undefined;
}

/** SQLite errors (better-sqlite3 puts the extended code on `code`). */
function sqliteError(code: string, e: unknown): LifeboatError {
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new LifeboatError('CATALOG_CORRUPT', 'The catalog database is damaged.', {
      hint: 'Run `lifeboat scan --rebuild`: the sets are rebuilt from the media; pinned keys, runs and the verification ledger are carried over from the old file as far as it can be read, and it says what could not.',
      cause: e,
    });
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN')) {
    return new LifeboatError('CATALOG_READONLY', 'The catalog cannot be written.', {
      hint: 'Check the data directory is writable, or set LIFEBOAT_HOME to a writable folder.',
      cause: e,
    });
  }
  // A catalog whose tables are not the ones this version's migrations made (made or altered by
  // another build): SQLite names the missing column or table.
  const text = e instanceof Error ? e.message : '';
  if (code === 'SQLITE_ERROR' && /no such (column|table)|has no column named/.test(text)) {
    return new LifeboatError(
      'CATALOG_CORRUPT',
      `The catalog's tables do not match this version of Lifeboat (SQLite: ${text}).`,
      {
        hint: 'Run `lifeboat scan --rebuild`: the sets are rebuilt from the media; pinned keys, runs and the verification ledger are carried over from the old file as far as it can be read, and it says what could not.',
        cause: e,
      },
    );
  }
  if (code === 'SQLITE_FULL') {
    return new LifeboatError('STORAGE_FULL', 'The disk holding the catalog is full.', { cause: e });
  }
  return new LifeboatError('INTERNAL', `Catalog error (${code}).`, { cause: e });
}

/** Keychain failures, as libsecret and keytar report them on Linux, macOS and Windows. */
export function isKeychainUnavailableMessage(message: string): boolean {
  return /autolaunch D-Bus|Could not connect|org\.freedesktop\.secrets|Object does not exist at path|DBUS_SESSION_BUS_ADDRESS|secret service|No such interface|Cannot create an item in a locked collection|keychain|Credential Manager/i.test(
    message,
  );
}

/**
 * A medium that goes out of reach mid-check (S3 lost, its connection gone silent) says nothing
 * about what was being checked: that error is thrown again, naming the medium, what was being
 * read and what it leaves undone. Any other error is returned, to become a verdict.
 */
export function unlessUnreachable(e: unknown, medium: string, reading: string, undone: string): LifeboatError {
  const err = mapError(e);
  if (err.code !== 'STORAGE_UNREACHABLE') return err;
  throw new LifeboatError(
    'STORAGE_UNREACHABLE',
    `${medium} went out of reach while ${reading} was being read: ${err.message} ${undone}`,
    {
      hint: err.hint ?? 'Reconnect the medium and verify again.',
      cause: e,
    },
  );
}

/**
 * Map any thrown value to a LifeboatError with a code from the closed list. Messages of
 * unknown errors are kept (redacted) so nothing is lost, under INTERNAL.
 */
export function mapError(e: unknown): LifeboatError {
  if (e instanceof LifeboatError) return e;
  if (e instanceof Error && e.name === 'AbortError') {
    return new LifeboatError('CANCELLED', 'Cancelled.', { cause: e });
  }
  const rec = (typeof e === 'object' && e !== null ? e : {}) as ErrnoLike & {
    name?: unknown;
    $metadata?: { httpStatusCode?: number };
    severity?: unknown;
    message?: unknown;
  };
  const message = redactText(str(rec.message) ?? String(e));
  const code = str(rec.code);

  // pg errors carry a five-character SQLSTATE in `code` and a `severity`.
  if (code && /^[0-9A-Z]{5}$/.test(code) && str(rec.severity)) return pgError(code, message, e);
  if (code?.startsWith('SQLITE_')) return sqliteError(code, e);
  // The HTTP handler's own timeouts (a connection that never opens, or goes silent).
  if (str(rec.name) === 'TimeoutError' && /smithy|socket|connection/i.test(message)) {
    return new LifeboatError(
      'STORAGE_UNREACHABLE',
      /establish a connection/.test(message)
        ? 'Could not connect to the server in time.'
        : 'The server stopped answering (the connection went silent).',
      {
        hint: 'Check the network path to the storage. On a slow link, allow more time with LIFEBOAT_S3_IDLE_TIMEOUT=<seconds> (default 60).',
        cause: e,
      },
    );
  }
  if (rec.$metadata && str(rec.name)) {
    const mapped = s3Error(str(rec.name) ?? '', rec.$metadata.httpStatusCode, e);
    if (mapped) return mapped;
  }
  if (code) {
    const mapped = fsError(code, rec);
    if (mapped) return mapped;
  }
  // The AWS SDK found no credentials in any of its sources: the environment, not the operation.
  if (str(rec.name) === 'CredentialsProviderError' || /Could not load credentials from any providers/.test(message)) {
    return new LifeboatError('CREDENTIAL_UNAVAILABLE', 'No S3 credentials were found for this medium.', {
      // Keys live on Credentials and are chosen with the medium's Edit on Media: Settings has neither.
      hint:
        'In the app: add the S3 keys on Credentials, then choose them with Edit on the medium (Media). With the CLI: ' +
        'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE for a profile of ~/.aws/credentials.',
      cause: e,
    });
  }
  // yaml's guard against alias bombs (billion laughs); YAML is read for runbooks only.
  if (/Excessive alias count/.test(message)) {
    return new LifeboatError(
      'RUNBOOK_INVALID',
      'The runbook expands its YAML aliases too many times (an alias bomb): refused.',
      {
        hint: 'A runbook needs no more than a few aliases (&name / *name); write the values out.',
        cause: e,
      },
    );
  }
  if (isKeychainUnavailableMessage(message)) {
    return new LifeboatError('CREDENTIAL_UNAVAILABLE', 'The OS keychain is not available.', {
      hint: 'Unlock the keychain (on Linux: a Secret Service such as gnome-keyring must run).',
      cause: e,
    });
  }
  return new LifeboatError('INTERNAL', `Unexpected error: ${message}`, {
    hint: 'This is a bug in Lifeboat; the log has the details.',
    cause: e,
  });
}

/** The error as it crosses a process boundary, redacted. */
export function toWireError(e: unknown): WireError {
  const err = mapError(e);
  const wire: WireError = { code: err.code, message: redactText(err.message) };
  if (err.hint) wire.hint = redactText(err.hint);
  return wire;
}
