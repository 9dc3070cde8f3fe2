import { describe, expect, it } from 'vitest';
import { LifeboatError, toWireError } from '../../electron/engine/errors';
import { redactText } from '../../electron/engine/log/redact';
import { parsePgUrl, pgSslOptions, pgUrlHasPassword } from '../../electron/engine/postgres/connection';

const CANARY = 'Canary-7f3a9c';

/** URLs an operator can mistype, each carrying the canary as its password. */
const MALFORMED = [
  `postgres//u:${CANARY}@host/db`,
  `postgres:/u:${CANARY}@host/db`,
  `postgres:u:${CANARY}@host/db`,
  `u:${CANARY}@host/db`,
  `postgres://u:${CANARY}@ho st/db`,
  `postgres://u:a/${CANARY}@host/db`,
  `postgres://u:${CANARY}@host:99999/db`,
  `postgres://u:${CANARY}%ZZ@host/db`,
  `postgres://u%ZZ:${CANARY}@host/db`,
  `postgres://u:${CANARY}@host/db%ZZ`,
  `postgres://u:${CANARY}@host/db?sslmode=bogus`,
];

describe('PostgreSQL URLs never leak their password', () => {
  for (const raw of MALFORMED) {
    it(`refuses ${raw.replace(CANARY, '<canary>')} with a named error that does not echo it`, () => {
      let caught: unknown;
      try {
        parsePgUrl(raw);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(LifeboatError);
      const wire = toWireError(caught);
      expect(wire.code).toBe('BAD_INPUT');
      expect(wire.hint).toMatch(/PGPASSWORD/);
      expect(JSON.stringify(wire)).not.toContain(CANARY);
    });
  }

  it('redacts the password of well-formed and malformed URLs in free text, idempotently', () => {
    for (const raw of [
      ...MALFORMED,
      `postgres://u:${CANARY}@host/db`,
      `postgresql://u:${CANARY}@[::1]:5432/db`,
      `--db=postgres://u:${CANARY}@h/db`,
      `(postgres://u:${CANARY}@h/db)`,
    ]) {
      const once = redactText(`failed: ${raw} (see log)`);
      expect(once, raw).not.toContain(CANARY);
      expect(redactText(once)).toBe(once);
    }
    // The user and the host stay readable where the URL is well formed.
    expect(redactText(`postgres://backup:${CANARY}@db1:5432/app`)).toBe('postgres://backup:[redacted]@db1:5432/app');
    // Text without user info is left alone.
    expect(redactText('postgres://db1:5432/app and 10:30 at 2026-01-01')).toBe(
      'postgres://db1:5432/app and 10:30 at 2026-01-01',
    );
  });

  it('an unexpected error holding a malformed URL is redacted on its way out', () => {
    const wire = toWireError(new Error(`connect failed for postgres//u:${CANARY}@host/db`));
    expect(wire.message).not.toContain(CANARY);
  });

  it('takes the password out of the user info and out of a password parameter', () => {
    const a = parsePgUrl(`postgres://u:${CANARY}@db1:6543/app?sslmode=require`);
    expect(a.url).not.toContain(CANARY);
    expect(a.password).toBe(CANARY);
    expect(a).toMatchObject({ host: 'db1', port: 6543, user: 'u', database: 'app' });
    expect(a.url).toContain('sslmode=require');
    const b = parsePgUrl(`postgres://u@db1/app?password=${CANARY}&application_name=x`);
    expect(b.url).not.toContain(CANARY);
    expect(b.password).toBe(CANARY);
    // An explicit password (PGPASSWORD, keychain) wins; none at all is fine.
    expect(parsePgUrl(`postgres://u:${CANARY}@db1/app`, 'other').password).toBe('other');
    expect(parsePgUrl('postgres://u@db1/app').password).toBeNull();
    expect(pgUrlHasPassword(`postgres://u:${CANARY}@db1/app`)).toBe(true);
    expect(pgUrlHasPassword(`postgres://u@db1/app?password=${CANARY}`)).toBe(true);
    expect(pgUrlHasPassword(`postgres//u:${CANARY}@db1/app`)).toBe(true);
    expect(pgUrlHasPassword('postgres://u@db1/app')).toBe(false);
  });

  it('maps sslmode with libpq meanings', () => {
    expect(pgSslOptions('postgres://h/db', {}).ssl).toBe(false);
    // PGSSLMODE applies when the URL says nothing, as for pg_dump.
    expect(pgSslOptions('postgres://h/db', { PGSSLMODE: 'require' }).ssl).toEqual({ rejectUnauthorized: false });
    expect(pgSslOptions('postgres://h/db?sslmode=disable', { PGSSLMODE: 'require' }).ssl).toBe(false);
    expect(pgSslOptions('postgres://h/db?sslmode=disable').ssl).toBe(false);
    expect(pgSslOptions('postgres://h/db?sslmode=require').ssl).toEqual({ rejectUnauthorized: false });
    expect(pgSslOptions('postgres://h/db?sslmode=verify-full').ssl).toEqual({ rejectUnauthorized: true });
    const ca = pgSslOptions('postgres://h/db?sslmode=verify-ca').ssl as {
      rejectUnauthorized: boolean;
      checkServerIdentity: () => unknown;
    };
    expect(ca.rejectUnauthorized).toBe(true);
    expect(ca.checkServerIdentity()).toBeUndefined();
    expect(() => pgSslOptions('postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem')).toThrow(
      /sslrootcert/,
    );
  });
});

describe('the Azure SAS signature', () => {
  it('masks sig= values and leaves a message about manifest.json.sig whole', () => {
    expect(redactText(`GET /c/b?sv=2025&sig=${CANARY}%2B%3D&se=x`)).not.toContain(CANARY);
    expect(redactText(`SIG=${CANARY}`)).not.toContain(CANARY);
    expect(redactText('Azure read of sets/s/1/manifest.json.sig: Could not reach the server (ETIMEDOUT).')).toBe(
      'Azure read of sets/s/1/manifest.json.sig: Could not reach the server (ETIMEDOUT).',
    );
  });
});
