import { execFile, spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { dieWithParent } from '../process/child';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LifeboatError, mapError } from '../errors';
import { redactText } from '../log/redact';
import { findExecutable } from '../tools/tools';

/**
 * A MySQL/MariaDB server and database: `mysql://user[:pass]@host[:port]/database` (or `mariadb://`).
 * The password never goes on a command line: the tools read it from a 0600 option file
 * (`--defaults-extra-file`, see `withOptionFile`); it is never logged, journaled or recorded.
 */
export interface MysqlTarget {
  user: string;
  password: string | null;
  host: string;
  port: number;
  /** A unix socket instead of host:port (`?socket=/path`, and the scratch servers). */
  socket: string | null;
  database: string;
}

export const MYSQL_DB_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function parseMysqlUrl(url: string, password: string | null = null): MysqlTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new LifeboatError('BAD_INPUT', `Not a MySQL URL: ${redactText(url)}`, {
      hint: 'Use mysql://user@host:3306/database (the password from --credential or MYSQL_PWD).',
    });
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:')
    throw new LifeboatError('BAD_INPUT', `Not a MySQL URL (${u.protocol}): ${redactText(url)}`, {
      hint: 'Use mysql://user@host:3306/database.',
    });
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!MYSQL_DB_NAME.test(database))
    throw new LifeboatError('BAD_INPUT', `The URL must name one database (letters, digits, _): got "${database}".`, {
      hint: 'mysql://user@host:3306/shop — one database per set.',
    });
  const user = decodeURIComponent(u.username);
  if (!user) throw new LifeboatError('BAD_INPUT', 'The MySQL URL must name a user: mysql://user@host/database.');
  return {
    user,
    password: password ?? (u.password ? decodeURIComponent(u.password) : null),
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    socket: u.searchParams.get('socket'),
    database,
  };
}

/** The URL as it may be shown and stored: no password. */
export function mysqlDisplayUrl(t: MysqlTarget, database = t.database): string {
  return `mysql://${encodeURIComponent(t.user)}@${t.host}:${t.port}/${database}${t.socket ? `?socket=${t.socket}` : ''}`;
}

/** A value in a MySQL option file: double-quoted, backslash and quote escaped. */
function optionValue(v: string): string {
  if (/[\n\r\0]/.test(v)) throw new LifeboatError('BAD_INPUT', 'The MySQL password holds a line break or NUL.');
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Run `fn` with the connection's option file: `[client]` user, password, host/port or socket in a
 * 0600 file in a private 0700 folder, removed afterwards on every path. Its first argument must be
 * `--defaults-extra-file=<path>` (the tools read it only in first position).
 */
export async function withOptionFile<T>(t: MysqlTarget, fn: (args: string[]) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(process.env.LIFEBOAT_TMPDIR ?? tmpdir(), 'lifeboat-my-'));
  try {
    const lines = ['[client]', `user=${optionValue(t.user)}`];
    if (t.password !== null) lines.push(`password=${optionValue(t.password)}`);
    if (t.socket) lines.push(`socket=${optionValue(t.socket)}`, 'protocol=SOCKET');
    else lines.push(`host=${optionValue(t.host)}`, `port=${t.port}`, 'protocol=TCP');
    const file = join(dir, 'client.cnf');
    writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
    return await fn([`--defaults-extra-file=${file}`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The environment of a MySQL tool: no MYSQL_PWD inherited (the option file carries the password). */
export function mysqlToolEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.MYSQL_PWD;
  return env;
}

export type MysqlToolName = 'dump' | 'client';

/** mariadb-dump/mariadb, else mysqldump/mysql (whichever is installed). */
export function findMysqlTool(which: MysqlToolName): string {
  const names = which === 'dump' ? ['mariadb-dump', 'mysqldump'] : ['mariadb', 'mysql'];
  for (const n of names) {
    const found = findExecutable(n);
    if (found) return found;
  }
  throw new LifeboatError('TOOL_MISSING', `${names.join(' or ')} was not found.`, {
    hint: 'Install the MariaDB or MySQL client tools (Debian: apt-get install mariadb-client).',
  });
}

/**
 * Run SQL through the client and collect its tab-separated rows (`--batch --skip-column-names`).
 * The SQL is given on stdin, never on the command line.
 */
export async function mysqlQuery(
  t: MysqlTarget,
  sql: string,
  options: { database?: string | null; client?: string } = {},
): Promise<string[][]> {
  const client = options.client ?? findMysqlTool('client');
  const db = options.database === undefined ? t.database : options.database;
  return withOptionFile(
    t,
    (auth) =>
      new Promise<string[][]>((resolve, reject) => {
        const child = execFile(
          client,
          [
            ...auth,
            '--batch',
            '--skip-column-names',
            '--raw',
            '--sandbox',
            '--local-infile=0',
            '--default-character-set=utf8mb4',
            ...(db ? [db] : []),
          ],
          { env: mysqlToolEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
          (error, stdout, stderr) => {
            if (error) {
              // "(using password: YES)" says whether one was sent, not what it was: kept readable.
              const msg = redactText(
                (stderr || error.message).replace(/\(using password: (YES|NO)\)/g, (_m, yes: string) =>
                  yes === 'YES' ? '(a password was sent)' : '(no password was sent)',
                ),
              )
                .trim()
                .split('\n')
                .slice(-3)
                .join(' / ');
              reject(
                new LifeboatError('TOOL_FAILED', `MySQL at ${mysqlDisplayUrl(t)}: ${msg}`, {
                  hint: 'Check the URL, the user and its password (--credential, MYSQL_PWD), and that the server is reachable.',
                }),
              );
              return;
            }
            resolve(
              stdout
                .split('\n')
                .filter((l) => l !== '')
                .map((l) => l.split('\t')),
            );
          },
        );
        child.stdin?.end(sql);
      }),
  );
}

/** A name as a quoted identifier. */
export const quoteMysqlIdent = (name: string): string => `\`${name.replace(/`/g, '``')}\``;

/**
 * The client fed a SQL stream on its stdin (a restore): resolves when it exits 0 and the stream
 * was read whole; rejects with its last stderr lines (redacted) otherwise. It dies with this
 * process (dieWithParent) and with the signal.
 */
export async function feedClient(
  client: string,
  args: string[],
  input: NodeJS.ReadableStream,
  o: { signal: AbortSignal; what: string },
): Promise<void> {
  const { cmd, argv } = dieWithParent(client, args);
  const child = spawn(cmd, argv, { env: mysqlToolEnv(), stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)));
  const kill = (): void => {
    child.kill('SIGTERM');
  };
  o.signal.addEventListener('abort', kill, { once: true });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', (e) =>
      reject(new LifeboatError('TOOL_MISSING', `${o.what} could not be started: ${e.message}`, { cause: e })),
    );
    child.once('close', (code) => resolve(code));
  });
  // The client stops reading at its first error: a broken pipe then is not the failure to report.
  child.stdin.on('error', () => undefined);
  const fed = pipeline(input, child.stdin).catch((e: unknown) => e);
  try {
    const code = await exited;
    if (o.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
    if (code !== 0) {
      const lines = redactText(stderr).trim().split('\n').slice(-4).join(' / ');
      throw new LifeboatError('DB_RESTORE_FAILED', `${o.what} failed (exit ${code}): ${lines || 'no message'}`);
    }
    const feedError = await fed;
    if (feedError) throw mapError(feedError);
  } finally {
    o.signal.removeEventListener('abort', kill);
  }
}
