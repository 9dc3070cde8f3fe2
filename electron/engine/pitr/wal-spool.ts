import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write';
import { LifeboatError, mapError } from '../errors';
import type { ArchivedWal } from '../format/wal-names';
import type { JobContext } from '../jobs/job-manager';
import { chownTree, type RunAs } from '../postgres/scratch-cluster';
import { RESTORE_COMMAND_SCRIPT } from './recovery-config';

/** WAL files fetched ahead while the base backup is still being extracted. */
const PREFETCH_DURING_EXTRACTION = 4;

/**
 * The local folder a point-in-time restore's WAL goes through. Every file the restore needs is
 * fetched, decrypted, decompressed and hash-checked into it (each renamed into place only once
 * proven) while the base is extracted and while PostgreSQL replays, so decoding overlaps both;
 * PostgreSQL's restore_command (restore-command.sh, copied here) waits for the next file. The
 * spool holds decrypted WAL: `close` removes it as soon as replay is over (or failed).
 */
export class WalSpool {
  readonly dir: string;
  private stopping = false;
  private error: unknown = null;
  private fetching: Promise<void> = Promise.resolve();
  private releaseFetch = (): void => undefined;

  constructor(private readonly runAs: RunAs | null) {
    this.dir = mkdtempSync(join(tmpdir(), 'lifeboat-wal-spool-'));
    chmodSync(this.dir, 0o755);
  }

  /** The restore_command script inside the spool. */
  get scriptPath(): string {
    return join(this.dir, 'restore-command.sh');
  }

  /**
   * Start fetching `needed` in order: only the first few until `extracted` is called (replay can
   * start at once; the rest would compete with the extraction for this thread, and replay is
   * slower than fetching, so fetching the rest during replay keeps ahead of it).
   */
  start(
    needed: ArchivedWal[],
    read: (w: ArchivedWal, use: (plain: Buffer) => Promise<void>) => Promise<void>,
    ctx: Pick<JobContext, 'signal' | 'progress'>,
  ): void {
    // Files the archive does not hold are answered at once: PostgreSQL probes for newer timelines'
    // history files before replaying anything, and must not wait for the whole fetch to end.
    writeFileSync(join(this.dir, '.expected'), needed.map((w) => `${w.name}\n`).join(''), { mode: 0o644 });
    writeFileSync(this.scriptPath, RESTORE_COMMAND_SCRIPT, { mode: 0o755 });
    if (this.runAs) chownTree(this.dir, this.runAs);
    const owner = this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : undefined;
    let fetched = 0;
    ctx.progress({ itemsTotal: needed.length, itemsDone: 0 });
    const extraction = new Promise<void>((r) => (this.releaseFetch = r));
    // One file at a time, written from the reader's reused buffer (wal-archive.ts withArchived):
    // the spool holds one segment in memory, and makes no garbage of segments for V8 to collect.
    const fetchOne = (w: ArchivedWal): Promise<void> =>
      read(w, (plain) => writeFileAtomic(join(this.dir, w.name), plain, { owner, durable: false }));
    this.fetching = (async () => {
      for (const [i, w] of needed.entries()) {
        if (i === PREFETCH_DURING_EXTRACTION) await extraction;
        if (this.stopping) return;
        if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
        await fetchOne(w);
        ctx.progress({ itemsDone: ++fetched, current: w.name });
      }
    })().then(
      () => writeFileSync(join(this.dir, '.done'), ''),
      (e: unknown) => {
        this.error = e;
        try {
          writeFileSync(join(this.dir, '.failed'), '');
        } catch {
          // the spool is already gone: the restore is over
        }
      },
    );
  }

  /** The base backup is in place: the rest of the WAL is fetched now. */
  extracted(): void {
    this.releaseFetch();
  }

  /** Why fetching failed, said as the restore's error (PostgreSQL is stopped on it); null while it has not. */
  failure(): LifeboatError | null {
    if (!this.error) return null;
    const e = this.error instanceof LifeboatError ? this.error : mapError(this.error);
    return new LifeboatError(
      e.code,
      `${e.message} The restore stopped; PostgreSQL was stopped before the data directory could be used.`,
      { hint: e.hint },
    );
  }

  /** Every file fetched and proven (or the fetch failed: see `failure`). */
  async finished(): Promise<void> {
    await this.fetching;
  }

  /** Stop fetching and remove the spool with the decrypted WAL in it. */
  async close(): Promise<void> {
    this.stopping = true;
    this.releaseFetch();
    await this.fetching.catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
