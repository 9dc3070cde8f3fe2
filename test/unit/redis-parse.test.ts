import { describe, expect, it } from 'vitest';
import { diskSyncWarning, parseAofManifest } from '../../electron/engine/backup/redis';
import { describeTarget, parseKeyspace, parseRedisUrl } from '../../electron/engine/redis/client';

describe('Redis URLs', () => {
  it('keeps the password apart from what is shown, takes REDISCLI_AUTH, refuses other schemes', () => {
    const t = parseRedisUrl('redis://app:s%40cret@cache.example:6380');
    expect(t).toMatchObject({ host: 'cache.example', port: 6380, user: 'app', password: 's@cret' });
    expect(describeTarget(t)).toBe('cache.example:6380');
    const saved = process.env.REDISCLI_AUTH;
    process.env.REDISCLI_AUTH = 'from-env';
    try {
      expect(parseRedisUrl('redis://127.0.0.1').password).toBe('from-env');
      expect(parseRedisUrl('redis://127.0.0.1').port).toBe(6379);
    } finally {
      if (saved === undefined) delete process.env.REDISCLI_AUTH;
      else process.env.REDISCLI_AUTH = saved;
    }
    expect(() => parseRedisUrl('rediss://h:1')).toThrow(/redis:\/\//);
    expect(() => parseRedisUrl('not a url')).toThrow(/not a URL/);
  });
});

describe('INFO keyspace and the AOF manifest', () => {
  it('reads keys and expires per database', () => {
    expect(
      parseKeyspace('# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=100\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n'),
    ).toEqual({
      '0': { keys: 12, expires: 3 },
      '3': { keys: 1, expires: 0 },
    });
  });

  it('reads a multi-part AOF manifest and refuses a file name that leaves the directory', () => {
    expect(
      parseAofManifest('file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.5.incr.aof seq 5 type i\n'),
    ).toEqual([
      { file: 'appendonly.aof.2.base.rdb', seq: 2, type: 'b' },
      { file: 'appendonly.aof.5.incr.aof', seq: 5, type: 'i' },
    ]);
    expect(() => parseAofManifest('file ../../etc/passwd seq 1 type b\n')).toThrow(/unsafe file/);
    expect(() => parseAofManifest('file a.aof seq 1 type x\n')).toThrow(/unknown type/);
  });
});

describe('a disk-based SYNC, told to the operator', () => {
  const base = {
    save: '',
    appendonly: 'no',
    replDisklessSync: 'no',
    rdbDelSyncFiles: 'no',
    dir: '/var/lib/redis/',
    dbfilename: 'dump.rdb',
  };
  it(
    'says where the file went, that it stays and loads at the next start, and how to avoid it',
    { timeout: 5_000 },
    () => {
      const w = diskSyncWarning(base)!;
      expect(w).toMatch(/wrote its RDB to \/var\/lib\/redis\/dump\.rdb to serve this backup/);
      expect(w).toMatch(/the file stays, and the server loads it at its next start/);
      expect(w).toMatch(/CONFIG SET repl-diskless-sync yes/);
      expect(w).toMatch(/never changes the server's configuration/);
    },
  );
  it(
    'is silent for a server that saves RDBs anyway; names rdb-del-sync-files, AOF and an unreadable config',
    { timeout: 5_000 },
    () => {
      expect(diskSyncWarning({ ...base, save: '3600 1 300 100' })).toBeNull();
      expect(diskSyncWarning({ ...base, rdbDelSyncFiles: 'yes' })).toMatch(/removed it after the transfer/);
      expect(diskSyncWarning({ ...base, appendonly: 'yes' })).toMatch(/does not load it while appendonly is yes/);
      expect(diskSyncWarning(null)).toMatch(/could not read the server's settings \(CONFIG GET refused\)/);
    },
  );
});
