import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parsePgUrl, type PgTarget } from '../postgres/connection';
import { postgresRunAs, runPgTool, ScratchCluster } from '../postgres/scratch-cluster';
import { LifeboatError } from '../errors';
import type { RunRecord } from './types';

/**
 * What a run owns on disk: its private work folder under the data dir (decoded dumps, staging) and a drill's scratch
 * PostgreSQL and folders under $TMPDIR. All of it goes when the run ends or is cancelled.
 */
export class RunScratch {
  private cluster: ScratchCluster | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly pgBinDir: string,
  ) {}

  /** The run's private folder (mode 700). */
  workDir(run: RunRecord): string {
    const dir = join(this.dataDir, 'runs', run.id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** The drill's scratch folder; traversable (not listable) so the postgres user can reach its cluster. */
  private base(run: RunRecord): string {
    const base = run.state.scratch.base;
    mkdirSync(base, { recursive: true });
    chmodSync(base, 0o711);
    return base;
  }

  /** A named scratch folder of the drill. */
  dir(run: RunRecord, name: string): string {
    const dir = join(this.base(run), name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** The drill's scratch server: adopted when an interrupted process of this run left one, else started (`started`). */
  async postgres(run: RunRecord, started: (c: ScratchCluster) => void): Promise<PgTarget> {
    if (!run.drill) throw new LifeboatError('INTERNAL', 'A scratch server was asked for outside a drill.');
    const recorded = run.state.scratch.pg;
    if (!this.cluster && recorded && existsSync(join(recorded.dir, 'data'))) {
      const cluster = ScratchCluster.adopt(recorded.dir, recorded.binDir, recorded.port);
      if (!(await cluster.isRunning())) await cluster.startServer();
      this.cluster = cluster;
    }
    if (!this.cluster) {
      this.base(run);
      const cluster = await ScratchCluster.start({
        baseDir: run.state.scratch.base,
        binDir: this.pgBinDir || undefined,
      });
      this.cluster = cluster;
      run.state.scratch.pg = { dir: cluster.dir, binDir: cluster.binDir, port: cluster.port };
      started(cluster);
    }
    return parsePgUrl(this.cluster.url());
  }

  /** Make a server a step started (a PITR restore) the drill's scratch server. */
  adopt(run: RunRecord, dir: string, binDir: string, port: number): void {
    this.cluster = ScratchCluster.adopt(dir, binDir, port);
    run.state.scratch.pg = { dir, binDir, port };
  }

  /** Remove the scratch server and folders, and the run's work dir (decoded dumps are plaintext); says what went. */
  async cleanup(run: RunRecord): Promise<string[]> {
    const removed: string[] = [];
    if (this.cluster) {
      await this.cluster.destroy().catch(() => undefined);
      removed.push(`scratch PostgreSQL on port ${this.cluster.port}`);
      this.cluster = null;
    }
    const base = run.state.scratch.base;
    if (existsSync(base)) {
      removed.push(...(await this.stopLeftServers(run, base)));
      rmSync(base, { recursive: true, force: true });
      removed.push(`scratch folders in ${base}`);
    }
    rmSync(join(this.dataDir, 'runs', run.id), { recursive: true, force: true });
    return [...new Set(removed)];
  }

  /** A server left by a crashed process of this run is stopped before its files go. */
  private async stopLeftServers(run: RunRecord, base: string): Promise<string[]> {
    const stopped: string[] = [];
    const pg = run.state.scratch.pg;
    for (const name of readdirSync(base)) {
      const data = join(base, name, 'data');
      if (!pg || !existsSync(join(data, 'postmaster.pid'))) continue;
      await runPgTool(join(pg.binDir, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], {
        runAs: postgresRunAs(),
      }).catch(() => undefined);
      stopped.push(`scratch PostgreSQL in ${join(base, name)}`);
    }
    return stopped;
  }
}
