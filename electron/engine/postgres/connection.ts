import type pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { LifeboatError, mapError } from '../errors';
import { redactText } from '../log/redact';

export interface PgTarget {
  /** The connection URL without its password: safe for argv and logs. */
  url: string;
  password: string | null;
  host: string;
  port: number;
  user: string | null;
  database: string;
}

/** Split a postgres:// URL into a password-free URL and the password (if any). */
export function parsePgUrl(raw: string, password: string | null = null): PgTarget {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new LifeboatError('BAD_INPUT', `Not a PostgreSQL URL: ${redactText(raw).slice(0, 100)}`, { hint: 'Use postgres://user@host:port/database.' });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new LifeboatError('BAD_INPUT', 'A PostgreSQL URL starts with postgres://', { hint: 'Use postgres://user@host:port/database.' });
  }
  const fromUrl = u.password ? decodeURIComponent(u.password) : null;
  u.password = '';
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
  return {
    url: u.toString(),
    password: password ?? fromUrl,
    host: u.hostname || 'localhost',
    port: Number(u.port || 5432),
    user: u.username ? decodeURIComponent(u.username) : null,
    database,
  };
}

/** Environment for PostgreSQL tools: the password travels here, never in argv. */
export function pgToolEnv(target: PgTarget): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '10' };
  if (target.password !== null) env.PGPASSWORD = target.password;
  return env;
}

/** Map a connection failure to what the operator needs to hear. */
export function pgConnectError(e: unknown, target: PgTarget): LifeboatError {
  const err = mapError(e);
  const where = `${target.host}:${target.port}/${target.database}`;
  if (err.code === 'STORAGE_UNREACHABLE' || /timeout|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|terminated unexpectedly/i.test(err.message)) {
    return new LifeboatError('DB_UNREACHABLE', `PostgreSQL at ${where} cannot be reached.`, { hint: 'Check the host, the port, that the server runs and that this machine may connect (pg_hba.conf).', cause: e });
  }
  if (err.code === 'DB_AUTH_FAILED') {
    return new LifeboatError('DB_AUTH_FAILED', `PostgreSQL at ${where} refused the credentials of ${target.user ?? 'the current user'}.`, { hint: err.hint, cause: e });
  }
  if (err.code === 'DB_NOT_FOUND') return new LifeboatError('DB_NOT_FOUND', `The database ${target.database} does not exist on ${target.host}:${target.port}.`, { cause: e });
  if (err.code === 'INTERNAL' && /password/i.test(err.message)) {
    return new LifeboatError('DB_AUTH_FAILED', `PostgreSQL at ${where} asks for a password and none was given.`, { hint: 'Provide it through PGPASSWORD, ~/.pgpass or a keychain credential (never on the command line).', cause: e });
  }
  return err;
}

let clientClass: typeof pg.Client | null = null;

/** pg's Client class, loaded on first use: commands that never connect (files backups, wal-push) skip its start-up cost. */
export async function pgClientClass(): Promise<typeof pg.Client> {
  if (clientClass) return clientClass;
  // pg asks at load whether it runs in a Cloudflare Worker: without a global `navigator` (Node
  // 20) it builds a fetch Response to find out, which loads Node's whole fetch implementation
  // (~35 ms of every backup's start). A stand-in for the duration of the load answers the
  // question the way Node 21+ does, without it.
  const g = globalThis as { navigator?: unknown };
  const standIn = g.navigator === undefined;
  if (standIn) Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js/${process.versions.node}` }, configurable: true, writable: true });
  try {
    clientClass = (await import('pg')).default.Client;
  } finally {
    if (standIn) delete g.navigator;
  }
  return clientClass;
}

export async function withPgClient<T>(target: PgTarget, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  // Parsed here rather than passed as connectionString: pg lets the URL's empty password
  // override an explicit one.
  const fromUrl = parseConnectionString(target.url);
  const Client = await pgClientClass();
  const client = new Client({
    ...(fromUrl as pg.ClientConfig),
    ...(target.password !== null ? { password: target.password } : { password: undefined }),
    connectionTimeoutMillis: 10_000,
    application_name: 'lifeboat',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw pgConnectError(e, target);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface ServerFacts {
  versionNum: number;
  major: number;
  version: string;
  database: string;
  sizeBytes: number;
  systemIdentifier: string | null;
}

export async function serverFacts(target: PgTarget): Promise<ServerFacts> {
  return withPgClient(target, async (c) => {
    const r = await c.query<{ num: string; version: string; db: string; size: string }>(
      "SELECT current_setting('server_version_num') AS num, version() AS version, current_database() AS db, pg_database_size(current_database())::text AS size",
    );
    const row = r.rows[0]!;
    // Needs pg_monitor or superuser; optional.
    const systemIdentifier = await c
      .query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')
      .then((s) => s.rows[0]?.id ?? null, () => null);
    const versionNum = Number(row.num);
    return { versionNum, major: Math.floor(versionNum / 10000), version: row.version, database: row.db, sizeBytes: Number(row.size), systemIdentifier };
  });
}
