import { describe, expect, it } from 'vitest';
import { rdbFailure } from '../../electron/engine/verify/redis-consumers';
import { VERDICT_TEXT } from '../../shared/domain/verify';

const TRUNCATED = `[offset 0] Checking RDB file dump.rdb
[offset 27] AUX FIELD redis-ver = '7.0.15'
--- RDB ERROR DETECTED ---
[offset 96] Unexpected EOF reading RDB file
[additional info] While doing: read-aux
[additional info] Reading type 0 (string)
[info] 0 keys read
[info] 0 expires
[info] 0 already expired`;

describe('a Redis set that fails deep verification', () => {
  it("names redis-check-rdb's error, not its closing counters", () => {
    expect(rdbFailure(TRUNCATED)).toBe('[offset 96] Unexpected EOF reading RDB file / While doing: read-aux');
    expect(rdbFailure('something else\nlast line')).toBe('something else / last line');
  });

  it('is not said to be unreadable by pg_restore (the verdict text fits every kind of dump)', () => {
    expect(VERDICT_TEXT['unreadable-dump']).not.toMatch(/pg_restore/);
  });
});

describe('a scratch redis-server that cannot load an RDB', () => {
  it("says why from its log, without the machine's warnings", async () => {
    const { redisLogTail } = await import('../../electron/engine/redis/scratch');
    const log = [
      '1:M 02 Dec 2026 16:29:45.941 # Server initialized',
      '1:M 02 Dec 2026 16:29:45.941 # WARNING Memory overcommit must be enabled! Without it…',
      '1:M 02 Dec 2026 16:29:45.942 # Wrong signature trying to load DB from file',
      '1:M 02 Dec 2026 16:29:45.947 # Fatal error loading the DB: Invalid argument. Exiting.',
    ].join('\n');
    const tail = redisLogTail(log);
    expect(tail).toMatch(/Wrong signature/);
    expect(tail).not.toMatch(/overcommit/);
  });
});
