import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { shellWord } from '../../../shared/shell-quote';
import { LifeboatError } from '../errors';
import { parsePgUrl, withPgClient } from '../postgres/connection';
import { runPgTool, type RunAs } from '../postgres/scratch-cluster';
import type { WalSpool } from './wal-spool';

/** The major version of the PostgreSQL server binaries in a folder. */
export function serverMajorOf(binDir: string): number {
  const out = execFileSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
  return Number(/\s(\d+)(?:\.\d+)?/.exec(out)?.[1] ?? 0);
}

/** Where replay got to: the last transaction replayed (the achieved recovery point) and the timeline. */
export interface RecoveryPoint {
  at: Date | null;
  tli: number;
}

/**
 * The PostgreSQL server of a point-in-time restore, on the restored data directory: started with
 * pg_ctl (as the postgres user when Lifeboat runs as root), watched until it promotes, stopped.
 */
export class RecoveryServer {
  /** pg_ctl start was run: a failure after it stops the server. */
  started = false;
  readonly log: string;
  private port = 0;

  constructor(
    private readonly binDir: string,
    private readonly dataDir: string,
    private readonly runAs: RunAs | null,
  ) {
    this.log = join(dataDir, 'lifeboat-recovery.log');
  }

  private pgCtl(args: string[]): ReturnType<typeof runPgTool> {
    return runPgTool(join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, ...args], { runAs: this.runAs });
  }

  /** The last lines of the server's log, on one line. */
  logTail(): string {
    return existsSync(this.log) ? readFileSync(this.log, 'utf8').trim().split('\n').slice(-4).join(' / ') : '';
  }

  /** Start it for recovery on 127.0.0.1:port; throws (after `started` is set) when pg_ctl says it did not start. */
  async start(port: number, timeoutSeconds: number, spool: WalSpool): Promise<void> {
    this.port = port;
    // pg_ctl hands -o to a shell: the folder is quoted (a data directory may hold spaces).
    const o = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${shellWord(this.dataDir)}`;
    const start = await this.pgCtl(['-l', this.log, '-w', '-t', String(timeoutSeconds), '-o', o, 'start']);
    this.started = true;
    const fetchFailure = spool.failure();
    if (fetchFailure) throw fetchFailure;
    if (start.code !== 0)
      throw new LifeboatError(
        'DB_RESTORE_FAILED',
        `PostgreSQL did not start for recovery: ${this.logTail() || start.stderr.trim()}`,
      );
  }

  /** A query on the recovered server (trust on 127.0.0.1 is the base backup's own pg_hba: a restore target is not shared). */
  private client<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    return withPgClient(parsePgUrl(`postgres://postgres@127.0.0.1:${this.port}/postgres`), fn);
  }

  /**
   * Wait for promotion: replay has reached the target (PostgreSQL itself refuses to promote short
   * of it) and every file it needed was fetched and proven. A fetch failure, a server that stopped,
   * or the deadline ends the wait with an error.
   */
  async untilPromoted(spool: WalSpool, timeoutSeconds: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      signal.throwIfAborted();
      const fetchFailure = spool.failure();
      if (fetchFailure) throw fetchFailure;
      if (!(await this.inRecovery(spool))) {
        // Promoted: every file replay needed was fetched and proven (a failure would have stopped it).
        await spool.finished();
        const late = spool.failure();
        if (late) throw late;
        return;
      }
      if (Date.now() > deadline)
        throw new LifeboatError('DB_RESTORE_FAILED', `Recovery did not finish within ${timeoutSeconds} s.`, {
          hint: `See ${this.log}.`,
        });
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** True while it replays (or cannot be asked yet but runs); throws when it stopped. */
  private async inRecovery(spool: WalSpool): Promise<boolean> {
    try {
      return await this.client(
        async (c) => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r,
      );
    } catch {
      const status = await this.pgCtl(['status']);
      if (status.code !== 0)
        throw (
          spool.failure() ??
          new LifeboatError('DB_RESTORE_FAILED', `PostgreSQL stopped during recovery: ${this.logTail()}`, {
            hint: 'The WAL may end before the target, or a segment is missing; see lifeboat pitr plan.',
          })
        );
      return true;
    }
  }

  /** The recovery point reached, read from the promoted server. */
  recoveryPoint(): Promise<RecoveryPoint> {
    return this.client(async (c) => {
      const r = await c.query<RecoveryPoint>(
        'SELECT pg_last_xact_replay_timestamp() AS at, (SELECT timeline_id FROM pg_control_checkpoint()) AS tli',
      );
      return r.rows[0]!;
    });
  }

  /** Stop it: `fast` when the restore is done, `immediate` when it failed. */
  async stop(mode: 'fast' | 'immediate'): Promise<void> {
    await this.pgCtl(['-m', mode, '-w', 'stop']);
  }

  /** How to stop the server left running: pg_ctl by its full path (often not on PATH), as the postgres user when Lifeboat ran as root (pg_ctl refuses root). */
  stopCommand(): string {
    return `${this.runAs ? 'runuser -u postgres -- ' : ''}${shellWord(join(this.binDir, 'pg_ctl'))} -D ${shellWord(this.dataDir)} stop`;
  }
}
