import { afterEach, describe, expect, it } from 'vitest';
import { toolStatus } from '../../electron/engine/tools/tools';
import { tempDir } from '../helpers/temp';

describe('the tools doctor lists', () => {
  const saved = { PATH: process.env.PATH, LIFEBOAT_REDIS_BIN: process.env.LIFEBOAT_REDIS_BIN };
  afterEach(() => {
    process.env.PATH = saved.PATH;
    if (saved.LIFEBOAT_REDIS_BIN === undefined) delete process.env.LIFEBOAT_REDIS_BIN;
    else process.env.LIFEBOAT_REDIS_BIN = saved.LIFEBOAT_REDIS_BIN;
  });

  it(
    'a Redis or MySQL tool not installed says which kind needs it, under every name it may have',
    { timeout: 10_000 },
    async () => {
      const empty = tempDir();
      try {
        process.env.PATH = empty.path;
        delete process.env.LIFEBOAT_REDIS_BIN;
        const tools = await toolStatus('');
        const redis = tools.find((t) => t.name === 'redis-check-aof');
        expect(redis).toMatchObject({ path: null, only: 'redis sets' });
        expect(redis?.problem).toMatch(/redis-check-aof was not found on PATH \(needed only for redis sets\)/);
        expect(tools.find((t) => t.name === 'mariadb-dump | mysqldump')).toMatchObject({
          path: null,
          only: 'mysql sets',
          problem: expect.stringMatching(/mariadb-dump or mysqldump was not found .*needed only for mysql sets/),
        });
        expect(tools.find((t) => t.name === 'tar')).toMatchObject({ path: null, only: null });
      } finally {
        empty.cleanup();
      }
    },
  );
});
