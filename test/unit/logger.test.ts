import { describe, expect, it } from 'vitest';
import { createLogger, type LogRecord } from '../../electron/engine/log/logger';
import { redactText, redactValue } from '../../electron/engine/log/redact';

const SECRETS = {
  password: 'hunter2-password',
  ageIdentity: 'AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS3VV4FU',
  awsSecret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  pem: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+abcdefghijklmnopqrstuvwxyz0123456789AB\n-----END PRIVATE KEY-----',
};

describe('redaction', () => {
  it('masks credentials in URLs, key=value pairs, age identities and PEM keys', () => {
    const text = [
      `postgres://backup:${SECRETS.password}@10.0.0.5/app`,
      `password=${SECRETS.password}`,
      `AWS_SECRET_ACCESS_KEY: ${SECRETS.awsSecret}`,
      SECRETS.ageIdentity,
      SECRETS.pem,
      'Authorization: Bearer abc.def.ghi',
    ].join('\n');
    const out = redactText(text);
    for (const secret of Object.values(SECRETS)) expect(out).not.toContain(secret);
    expect(out).not.toContain('abc.def.ghi');
    expect(out).toContain('postgres://backup:[redacted]@10.0.0.5/app');
  });

  it('masks secret-named fields at any depth and leaves the rest', () => {
    const out = redactValue({
      target: { host: 'db', password: SECRETS.password },
      list: [{ secretAccessKey: SECRETS.awsSecret }],
      rows: 12,
    }) as Record<string, unknown>;
    expect(JSON.stringify(out)).not.toContain(SECRETS.password);
    expect(JSON.stringify(out)).not.toContain(SECRETS.awsSecret);
    expect(out.rows).toBe(12);
    expect((out.target as Record<string, unknown>).host).toBe('db');
  });
});

describe('logger', () => {
  it('writes structured records with no secret in any field or the message', () => {
    const records: LogRecord[] = [];
    const log = createLogger((r) => records.push(r), { level: 'debug', base: { front: 'test' } });
    log.info(`connecting to postgres://u:${SECRETS.password}@h/db`, {
      password: SECRETS.password,
      identity: SECRETS.ageIdentity,
      error: new Error(`bad key ${SECRETS.ageIdentity}`),
    });
    log.child({ job: 'j1' }).warn('child', { token: 'tok-123456' });
    const text = JSON.stringify(records);
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
    expect(text).not.toContain('tok-123456');
    expect(records[0]).toMatchObject({ level: 'info', front: 'test' });
    expect(records[1]).toMatchObject({ level: 'warn', job: 'j1', front: 'test' });
  });

  it('drops records below the level', () => {
    const records: LogRecord[] = [];
    const log = createLogger((r) => records.push(r), { level: 'warn' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(records.map((r) => r.level)).toEqual(['warn', 'error']);
  });
});
