import { z } from 'zod';
import { LifeboatError } from '../../errors';
import { redisRestoreCondition, restoreRedis as restore } from '../../restore/redis';
import { defineAction } from './types';

/**
 * restore.redis: a redis set (restore/redis.ts). In a drill, or without `into`, a scratch
 * redis-server loads it (unix socket only), the key counts and sampled keys the manifest recorded
 * are checked, and the server is stopped. Live, the RDB (or with `aof: true` the AOF directory) is
 * placed into the stopped target's data directory `into` after a typed confirmation of that path.
 */
export const restoreRedis = defineAction({
  params: z
    .object({
      set: z.string().min(1),
      into: z.string().optional(),
      port: z.number().int().min(1).max(65535).default(6379),
      aof: z.boolean().default(false),
      allow_unsigned: z.boolean().default(false),
    })
    .strict(),
  describe: (p) =>
    `restore the ${p.aof ? 'AOF directory' : 'RDB'} of ${p.set} ${p.into ? `into ${p.into} (the server on port ${p.port} stopped)` : 'into a scratch redis-server and check it'}${p.allow_unsigned ? ' — UNSIGNED OR UNTRUSTED SET ALLOWED by the operator' : ''}`,
  condition: (p, checkpoint, drill) => redisRestoreCondition(p, checkpoint, drill),
  run(p, ctx) {
    if (!ctx.drill && p.into === undefined)
      throw new LifeboatError('BAD_INPUT', 'restore.redis outside a drill needs the data directory (into:).', {
        hint: 'Give into: <the stopped server’s data directory>, or run the runbook as a drill.',
      });
    return restore(ctx.drill ? { ...p, into: undefined } : p, ctx);
  },
});
