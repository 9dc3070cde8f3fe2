import { formatDuration, formatBytes } from '../../../shared/format';
import { withPgClient, type PgTarget } from '../postgres/connection';
import type pg from 'pg';
import type { CheckResult, CheckStatus, ReplicaFacts } from './check';

/**
 * A streaming standby's state, read on the standby itself (its primary may be gone):
 * whether it is still in recovery, whether its WAL receiver streams, what it received and replayed.
 * The lag in time is 0 when it streams and everything received is replayed, else the age of the last replayed
 * transaction — an upper bound (an idle primary commits nothing, so that age grows with no data behind).
 */
export async function replicaFactsWith(client: pg.Client, target: PgTarget): Promise<ReplicaFacts> {
  const r = await client.query<{
    standby: boolean;
    received: string | null;
    replayed: string | null;
    lag_bytes: number | null;
    xact_age: number | null;
    replayed_at: Date | null;
    streaming: boolean;
  }>(
    `SELECT pg_is_in_recovery() AS standby,
            pg_last_wal_receive_lsn()::text AS received,
            pg_last_wal_replay_lsn()::text AS replayed,
            pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS lag_bytes,
            extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 AS xact_age,
            pg_last_xact_replay_timestamp() AS replayed_at,
            EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming`,
  );
  const row = r.rows[0]!;
  const lagBytes = Math.max(0, row.lag_bytes ?? 0);
  // Caught up with what it received says nothing of what it did not: a standby cut off from its primary is
  // judged on the age of its last replayed transaction (an upper bound), not a lag of 0.
  const caughtUp = row.received !== null && lagBytes === 0 && row.streaming;
  return {
    host: target.host,
    port: target.port,
    standby: row.standby,
    streaming: row.streaming,
    receivedLsn: row.received,
    replayedLsn: row.replayed,
    lagBytes,
    lagSeconds: !row.standby ? null : caughtUp ? 0 : row.xact_age === null ? null : Math.max(0, row.xact_age),
    lastReplayedAt: row.replayed_at ? row.replayed_at.toISOString() : null,
  };
}

export function replicaFacts(target: PgTarget): Promise<ReplicaFacts> {
  return withPgClient(target, (c) => replicaFactsWith(c, target));
}

/** Judge a standby: not in recovery or not streaming is CRITICAL / WARNING; the lag against max-lag (CRITICAL past twice it). */
export function judgeReplica(f: ReplicaFacts, maxLagSeconds: number | null): NonNullable<CheckResult['replica']> {
  const where = `standby ${f.host}:${f.port}`;
  let status: CheckStatus;
  let text: string;
  const lag =
    f.lagSeconds === null
      ? 'replay lag unknown (no transaction replayed yet)'
      : `replay lag ${formatDuration(f.lagSeconds)}${f.lagBytes ? ` (${formatBytes(f.lagBytes)} received, not replayed)` : ''}`;
  if (!f.standby) {
    status = 'CRITICAL';
    text = `${where} is not in recovery: it was promoted, or this is a primary`;
  } else if (maxLagSeconds === null) {
    status = 'UNKNOWN';
    text = `${where}: ${lag}, no objective to judge it (give --max-lag, or --system with a tier)`;
  } else if (f.lagSeconds === null) {
    status = 'UNKNOWN';
    text = `${where}: ${lag}`;
  } else {
    status = f.lagSeconds > 2 * maxLagSeconds ? 'CRITICAL' : f.lagSeconds > maxLagSeconds ? 'WARNING' : 'OK';
    text = `${where}: ${lag} (max ${formatDuration(maxLagSeconds)})`;
  }
  if (f.standby && !f.streaming) {
    status = status === 'CRITICAL' ? status : status === 'OK' || status === 'UNKNOWN' ? 'WARNING' : status;
    text += ', NOT streaming from its primary';
  }
  return { ...f, status, text, maxLagSeconds };
}
