import { describe, expect, it } from 'vitest';
import { warnPasswordInArgv } from '../../electron/cli/index';

function warned(...argv: string[]): string {
  let err = '';
  const io = { stdout: { write: () => true }, stderr: { write: (s: string) => ((err += s), true) } };
  warnPasswordInArgv(argv, io as unknown as Parameters<typeof warnPasswordInArgv>[1]);
  return err;
}

describe('a password in a URL on the command line', () => {
  it('is warned about for MySQL as for PostgreSQL and Redis, and never shown', () => {
    const mysql = warned('backup', 'mysql', '--db', 'mysql://backup:S3cret!x@db2:3306/shop');
    expect(mysql).toMatch(/visible to every user of this machine/);
    expect(mysql).toMatch(/MYSQL_PWD/);
    expect(mysql).not.toContain('S3cret');
    expect(warned('restore', 'mysql', 's/1', '--db=mysql://u:p@h/db')).toMatch(/warning/);
    expect(warned('backup', 'mysql', '--db', 'mysql://backup@db2:3306/shop')).toBe('');
  });
});
