import { z } from 'zod';
import { formatBytes, formatDuration } from '../../../../shared/format';
import { LifeboatError } from '../../errors';
import { replicaFactsWith } from '../../monitor/replica';
import { withPgClient, type PgTarget } from '../../postgres/connection';
import { resolvePgTarget } from './pg-target';
import { ConfirmationNeeded, defineAction, type ActionContext } from './types';

interface Checkpoint {
  promoting: true;
  lastReplayedAt: string | null;
  lagBytes: number;
  /** When pg_promote() was called: a resumed step measures the RPO to it, not to the resume. */
  promotedAt?: string;
}

/** The achieved RPO: from the last transaction the standby holds to when the primary was lost (or now). */
function rpoSeconds(lastReplayedAt: string | null, lostAt: string | undefined, now: Date): number | null {
  if (!lastReplayedAt) return null;
  const end = lostAt ? Date.parse(lostAt) : now.getTime();
  return Math.max(0, Math.round((end - Date.parse(lastReplayedAt)) / 1000));
}

async function acceptsWrites(target: PgTarget): Promise<boolean> {
  try {
    return await withPgClient(target, async (c) => {
      const r = await c.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
      if (r.rows[0]?.recovery !== false) return false;
      // A transaction id is assigned only on a server that accepts writes.
      await c.query('SELECT txid_current()');
      return true;
    });
  } catch {
    return false;
  }
}

async function waitForWrites(target: PgTarget, timeoutS: number, ctx: ActionContext): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutS * 1000) {
    ctx.signal.throwIfAborted();
    if (await acceptsWrites(target)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new LifeboatError(
    'DB_ERROR',
    `The standby ${target.host}:${target.port} did not accept writes within ${timeoutS} s of pg_promote().`,
    { hint: "Look at the standby's server log; resume the run to wait again (the promotion is not asked twice)." },
  );
}

/**
 * pg.promote: make a streaming standby the primary. Shows the standby's lag as the RPO about to be achieved,
 * asks for `promote:<host>:<port>` to be typed, calls pg_promote(), waits until it accepts writes and
 * returns the achieved RPO (journaled with the step's output). A drill measures and promotes nothing.
 */
export const pgPromote = defineAction({
  params: z
    .object({
      target: z.string().min(1),
      credential: z.string().optional(),
      /** When the primary was lost (the incident): the RPO runs from the last replayed transaction to it. */
      lost_at: z.string().datetime({ offset: true }).optional(),
      timeout: z.number().int().min(1).max(3600).default(60),
    })
    .strict(),
  describe: (p) => `promote the standby ${p.target.replace(/^postgres(ql)?:\/\/([^@/]*@)?/, '')} to primary`,
  async run(p, ctx) {
    // A drill never touches a live server: resolvePgTarget would give the scratch cluster, which is no standby.
    if (ctx.drill) {
      ctx.log('info', 'Drill: the standby is not promoted (a drill never touches a live server).');
      return { promoted: false, drill: true, target: p.target };
    }
    const target = await resolvePgTarget(ctx, p.target, p.credential);
    const where = `${target.host}:${target.port}`;
    const cp = ctx.checkpoint as Checkpoint | null;
    const facts = await withPgClient(target, (c) => replicaFactsWith(c, target));
    if (!facts.standby && !cp?.promoting)
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `${where} is not a standby (not in recovery): nothing to promote.`,
        {
          hint: 'Give the standby of the DR site (pg_basebackup -R made it), or skip this step if it was promoted by hand.',
        },
      );
    const now = !facts.standby && cp?.promotedAt ? new Date(cp.promotedAt) : new Date();
    if (facts.standby) {
      const rpo = rpoSeconds(facts.lastReplayedAt, p.lost_at, now);
      const lagText =
        `last replayed transaction ${facts.lastReplayedAt ?? 'none yet'}` +
        (facts.lagBytes
          ? `, ${formatBytes(facts.lagBytes)} received but not replayed yet`
          : ', everything received is replayed') +
        (facts.streaming ? ', still streaming from its primary' : ', not streaming (the primary is gone)');
      const expect = `promote:${where}`;
      if (ctx.confirmation !== expect) {
        throw new ConfirmationNeeded(
          `Promote the standby ${where} to primary: ${lagText}. The RPO about to be achieved: ${rpo === null ? 'unknown' : formatDuration(rpo)} of transactions lost at most.`,
          expect,
          ctx.confirmation !== null,
        );
      }
      ctx.saveCheckpoint({
        promoting: true,
        lastReplayedAt: facts.lastReplayedAt,
        lagBytes: facts.lagBytes,
        promotedAt: now.toISOString(),
      } satisfies Checkpoint);
      ctx.log('info', `pg_promote() on ${where} (${lagText})`);
      await withPgClient(target, (c) => c.query('SELECT pg_promote(true, $1)', [p.timeout]));
    }
    const waited = await waitForWrites(target, p.timeout, ctx);
    const lastReplayedAt = facts.standby ? facts.lastReplayedAt : (cp?.lastReplayedAt ?? null);
    const rpo = rpoSeconds(lastReplayedAt, p.lost_at, now);
    ctx.log('info', `${where} accepts writes; achieved RPO ${rpo === null ? 'unknown' : formatDuration(rpo)}`);
    return {
      promoted: true,
      host: target.host,
      port: target.port,
      last_replayed_at: lastReplayedAt,
      lag_bytes_at_promotion: facts.standby ? facts.lagBytes : (cp?.lagBytes ?? 0),
      rpo_seconds: rpo,
      rpo_from: p.lost_at ? 'lost_at' : 'promotion',
      waited_ms: waited,
    };
  },
  condition: (p, checkpoint) =>
    (checkpoint as Checkpoint | null)?.promoting
      ? `pg_promote() was called on ${p.target}: it may be the primary now; check before writing to the old primary`
      : `${p.target} untouched (still a standby)`,
});
