import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LifeboatError } from '../errors';
import { dieWithParent } from '../process/child';
import { chownTree, freePort, runPgTool, serviceUserRunAs, type RunAs } from '../postgres/scratch-cluster';
import { findExecutable } from '../tools/tools';
import { mysqlQuery, quoteMysqlIdent, type MysqlTarget } from './connection';

/** As root, the `mysql` user's uid/gid (mariadbd refuses to run as root without --user). */
export function mysqlRunAs(): RunAs | null {
  return serviceUserRunAs(
    'mysql',
    () =>
      new LifeboatError(
        'PRECONDITION_FAILED',
        'Running as root, but there is no `mysql` user to run a scratch MariaDB as.',
        {
          hint: 'Install mariadb-server (it creates the user) or run Lifeboat as a normal user.',
        },
      ),
  );
}

function serverBinaries(): { installDb: string; mariadbd: string } {
  const installDb = findExecutable('mariadb-install-db', { preferDirs: ['/usr/bin'] });
  const mariadbd = findExecutable('mariadbd', { preferDirs: ['/usr/sbin', '/usr/libexec'] });
  if (!installDb || !mariadbd)
    throw new LifeboatError(
      'TOOL_MISSING',
      'The MariaDB server (mariadbd, mariadb-install-db) was not found: no scratch MariaDB can run here.',
      {
        hint: 'Install it (Debian: apt-get install mariadb-server; the system service need not run).',
      },
    );
  return { installDb, mariadbd };
}

/**
 * A private, throwaway MariaDB in a temp dir: a unix socket in that dir and a loopback port, no
 * binary log, `secure_file_priv` an empty folder of its own (so `SELECT … INTO OUTFILE` and
 * `LOAD DATA INFILE` reach nothing else even for a user with FILE), started with the host's
 * binaries; as root it runs as the `mysql` user. The target of drills and the tests' real server.
 */
export class ScratchMariadb {
  private child: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly runAs: RunAs | null,
  ) {}

  get socket(): string {
    return join(this.dir, 'mysqld.sock');
  }

  /** The folder `secure_file_priv` names (kept empty). */
  get filesDir(): string {
    return join(this.dir, 'files');
  }

  /** The server's root account (socket, no password: the scratch server has no other door). */
  get admin(): MysqlTarget {
    return { user: 'root', password: null, host: '127.0.0.1', port: this.port, socket: this.socket, database: 'mysql' };
  }

  static async start(options: { baseDir?: string } = {}): Promise<ScratchMariadb> {
    const { installDb, mariadbd } = serverBinaries();
    const runAs = mysqlRunAs();
    // The mysql user must reach its folder: a drill's scratch folder is made traversable (not listable).
    if (runAs && options.baseDir) chmodSync(options.baseDir, 0o711);
    const dir = mkdtempSync(join(options.baseDir ?? tmpdir(), 'lifeboat-my-'));
    try {
      mkdirSync(join(dir, 'data'), { mode: 0o700 });
      mkdirSync(join(dir, 'files'), { mode: 0o700 });
      if (runAs) chownTree(dir, runAs);
      const init = await runPgTool(
        installDb,
        [
          '--no-defaults',
          `--datadir=${join(dir, 'data')}`,
          ...(runAs ? ['--user=mysql'] : []),
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          '--skip-name-resolve',
        ],
        {},
      );
      if (init.code !== 0)
        throw new LifeboatError(
          'TOOL_FAILED',
          `mariadb-install-db failed: ${(init.stderr || init.stdout).trim().split('\n').slice(-3).join(' ')}`,
        );
      if (runAs) chownTree(join(dir, 'data'), runAs);
      const server = new ScratchMariadb(dir, await freePort(), runAs);
      await server.startServer(mariadbd);
      return server;
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  private async startServer(mariadbd: string): Promise<void> {
    const args = [
      '--no-defaults',
      `--datadir=${join(this.dir, 'data')}`,
      `--socket=${this.socket}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--secure-file-priv=${this.filesDir}`,
      `--pid-file=${join(this.dir, 'mysqld.pid')}`,
      `--log-error=${join(this.dir, 'error.log')}`,
      '--skip-log-bin',
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=32M',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      '--innodb-flush-log-at-trx-commit=0',
      '--event-scheduler=OFF',
    ];
    // Started as the mysql user (not with --user, which changes credentials and so would clear the
    // parent-death signal): the kernel stops it if this process dies however it dies.
    const { cmd, argv } = dieWithParent(mariadbd, args);
    const child = spawn(cmd, argv, {
      stdio: 'ignore',
      ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
    });
    this.child = child;
    let exited = false;
    child.once('exit', () => (exited = true));
    child.once('error', () => (exited = true));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) break;
      if (existsSync(this.socket)) {
        try {
          await mysqlQuery(this.admin, 'SELECT 1', { database: null });
          return;
        } catch {
          // not ready yet
        }
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const log = existsSync(join(this.dir, 'error.log')) ? readFileSync(join(this.dir, 'error.log'), 'utf8') : '';
    await this.stop(true);
    throw new LifeboatError(
      'TOOL_FAILED',
      `The scratch MariaDB did not start: ${log.trim().split('\n').slice(-3).join(' / ')}`,
    );
  }

  /**
   * A database and an ordinary user owning only it (ALL on that database: tables, views, routines,
   * triggers, events; no FILE, SUPER or any global right), with a random password.
   */
  async restoreUser(database: string, user = 'lifeboat_restore'): Promise<MysqlTarget> {
    const password = randomBytes(18).toString('base64url');
    const db = quoteMysqlIdent(database);
    await mysqlQuery(
      this.admin,
      `CREATE DATABASE IF NOT EXISTS ${db} CHARACTER SET utf8mb4;
       CREATE USER IF NOT EXISTS '${user}'@'localhost' IDENTIFIED BY '${password}';
       ALTER USER '${user}'@'localhost' IDENTIFIED BY '${password}';
       GRANT ALL PRIVILEGES ON ${db}.* TO '${user}'@'localhost';`,
      { database: null },
    );
    return { user, password, host: '127.0.0.1', port: this.port, socket: this.socket, database };
  }

  /** `kill`: SIGKILL at once (the files are removed next: nothing to shut down cleanly for). */
  async stop(kill = false): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(kill ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  /** Stop the server and remove every file of it. */
  async destroy(): Promise<void> {
    try {
      await this.stop(true);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
