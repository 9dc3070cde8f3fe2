import { describe, expect, it } from 'vitest';
import { ERROR_CODES, exitCodeFor } from '../../shared/errors';
import { LifeboatError, mapError, toWireError } from '../../electron/engine/errors';

describe('mapError', () => {
  it('keeps a LifeboatError as it is', () => {
    const e = new LifeboatError('CHECKSUM_MISMATCH', 'bad bytes');
    expect(mapError(e)).toBe(e);
  });

  it.each([
    [{ code: '28P01', severity: 'FATAL', message: 'password authentication failed for user "x"' }, 'DB_AUTH_FAILED'],
    [{ code: '3D000', severity: 'FATAL', message: 'database "nope" does not exist' }, 'DB_NOT_FOUND'],
    [{ code: '08006', severity: 'FATAL', message: 'connection failure' }, 'DB_UNREACHABLE'],
    [{ code: '42P01', severity: 'ERROR', message: 'relation "t" does not exist' }, 'DB_ERROR'],
    [{ code: 'ENOSPC', message: 'no space left on device', path: '/mnt/usb/x' }, 'STORAGE_FULL'],
    [{ code: 'EACCES', message: 'permission denied', path: '/mnt/usb' }, 'STORAGE_ACCESS_DENIED'],
    [{ code: 'ENOENT', message: 'no such file' }, 'NOT_FOUND'],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' }, 'STORAGE_UNREACHABLE'],
    [{ code: 'EIO', message: 'i/o error' }, 'STORAGE_ERROR'],
    [{ code: 'SQLITE_CORRUPT', message: 'database disk image is malformed' }, 'CATALOG_CORRUPT'],
    [{ code: 'SQLITE_NOTADB', message: 'file is not a database' }, 'CATALOG_CORRUPT'],
    [{ code: 'SQLITE_READONLY', message: 'attempt to write a readonly database' }, 'CATALOG_READONLY'],
    [
      Object.assign(new Error('table sets has no column named facts_json'), { code: 'SQLITE_ERROR' }),
      'CATALOG_CORRUPT',
    ],
    [Object.assign(new Error('no such table: presence'), { code: 'SQLITE_ERROR' }), 'CATALOG_CORRUPT'],
    [Object.assign(new Error('near "SELEC": syntax error'), { code: 'SQLITE_ERROR' }), 'INTERNAL'],
    [{ name: 'AccessDenied', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' }, 'STORAGE_ACCESS_DENIED'],
    [
      { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 }, message: 'The specified bucket does not exist' },
      'STORAGE_UNREACHABLE',
    ],
    [{ name: 'InternalError', $metadata: { httpStatusCode: 503 }, message: 'Slow down' }, 'STORAGE_UNREACHABLE'],
    [new Error('Cannot autolaunch D-Bus without X11 $DISPLAY'), 'CREDENTIAL_UNAVAILABLE'],
    [new Error('Object does not exist at path “/org/freedesktop/secrets/collection/login”'), 'CREDENTIAL_UNAVAILABLE'],
    [Object.assign(new Error('aborted'), { name: 'AbortError' }), 'CANCELLED'],
    [
      Object.assign(
        new Error(
          '@smithy/node-http-handler - the request socket timed out after 60000 ms of inactivity (configured by client requestHandler).',
        ),
        { name: 'TimeoutError', $metadata: { attempts: 3 } },
      ),
      'STORAGE_UNREACHABLE',
    ],
    [
      Object.assign(
        new Error(
          '@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 30000 ms.',
        ),
        { name: 'TimeoutError' },
      ),
      'STORAGE_UNREACHABLE',
    ],
    [new Error('something odd'), 'INTERNAL'],
    ['a thrown string', 'INTERNAL'],
  ])('maps %j to %s', (raw, code) => {
    expect(mapError(raw).code).toBe(code);
  });

  it('never lets a secret through to the wire', () => {
    const wire = toWireError(
      new Error('connect to postgres://admin:hunter2@db.example:5432/app failed, PGPASSWORD=hunter2'),
    );
    expect(wire.message).not.toContain('hunter2');
    expect(wire.message).toContain('postgres://admin:[redacted]@db.example');
  });

  it('gives every code an exit status of 1 or 2', () => {
    for (const code of ERROR_CODES) expect([1, 2]).toContain(exitCodeFor(code));
    expect(exitCodeFor('BAD_INPUT')).toBe(2);
    expect(exitCodeFor('DB_UNREACHABLE')).toBe(2);
    expect(exitCodeFor('CHECKSUM_MISMATCH')).toBe(1);
  });
});
