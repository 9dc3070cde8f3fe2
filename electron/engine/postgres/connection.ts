import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { LifeboatError, mapError } from '../errors';

export interface PgTarget {
  /** The connection URL without its password: safe for argv and logs. */
  url: string;
  password: string | null;
  host: string;
  port: number;
  user: string | null;
  database: string;
}

function badUrl(why: string): LifeboatError {
  // Never echo the URL: a malformed one may hold a password where no parser can find (and hide) it.
  return new LifeboatError('BAD_INPUT', `The PostgreSQL URL is malformed: ${why}.`, {
    hint: 'Use postgres://user@host:port/database, and give the password through PGPASSWORD, ~/.pgpass or a keychain credential (--credential), not in the URL.',
  });
}

function decodePart(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw badUrl(
      `${what} holds an invalid percent-escape (a % must be followed by two hex digits; write a literal % as %25)`,
    );
  }
}

/** libpq's sslmode values (https://www.postgresql.org/docs/current/libpq-ssl.html). */
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** True when the URL carries a password (in its user info or as a `password` parameter). */
export function pgUrlHasPassword(raw: string): boolean {
  try {
    const u = new URL(raw);
    return u.password !== '' || u.searchParams.has('password');
  } catch {
    return /[^\s/@:]+:[^\s@]*@/.test(raw);
  }
}

/**
 * Split a postgres:// URL into a password-free URL and the password (if any). The password may
 * be in the user info or in a `password` query parameter (libpq reads both): neither stays in the
 * URL, which goes to tools' argv and to logs.
 */
export function parsePgUrl(raw: string, password: string | null = null): PgTarget {
  if (!/^postgres(ql)?:\/\//i.test(raw)) throw badUrl('it must start with postgres:// (or postgresql://) and the host');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw badUrl(
      'it cannot be read as a URL (a space, or a /, @ or : in the user name or password that is not percent-encoded?)',
    );
  }
  const fromUrl = u.password ? decodePart(u.password, 'the password') : null;
  const fromQuery = u.searchParams.get('password');
  u.password = '';
  u.searchParams.delete('password');
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode !== null && !(SSL_MODES as readonly string[]).includes(sslmode))
    throw badUrl(`sslmode must be one of ${SSL_MODES.join(', ')}`);
  const database = decodePart(u.pathname.replace(/^\//, ''), 'the database name') || 'postgres';
  const user = u.username ? decodePart(u.username, 'the user name') : null;
  const port = Number(u.port || 5432);
  return {
    url: u.toString(),
    password: password ?? fromUrl ?? fromQuery,
    host: u.hostname || 'localhost',
    port,
    user,
    database,
  };
}

/**
 * The node client's TLS settings for the URL's ssl parameters, with libpq's meaning (pg's own
 * parser treats require as verify-full and warns on every run): require encrypts without checking
 * the certificate, verify-ca checks it against sslrootcert, verify-full also checks the host name.
 * `prefer` (libpq's default) tries TLS without checks and falls back to plain (withPgClient).
 */
export function pgSslOptions(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): { mode: SslMode | null; ssl: pg.ClientConfig['ssl'] } {
  const q = new URL(url).searchParams;
  // As libpq (and so pg_dump) does: the URL's parameter, else PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY.
  const envMode = (SSL_MODES as readonly string[]).includes(env.PGSSLMODE ?? '') ? (env.PGSSLMODE as SslMode) : null;
  const mode = (q.get('sslmode') as SslMode | null) ?? envMode;
  if (mode === null || mode === 'disable' || mode === 'allow') return { mode, ssl: false };
  const read = (param: string): string | undefined => {
    const file = q.get(param) ?? env[`PG${param.toUpperCase()}`];
    if (!file || (param === 'sslrootcert' && file === 'system')) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new LifeboatError('BAD_INPUT', `Cannot read the ${param} file ${file} named in the PostgreSQL URL.`, {
        cause: e,
      });
    }
  };
  const cert = read('sslcert');
  const key = read('sslkey');
  const client = cert && key ? { cert, key } : {};
  if (mode === 'prefer' || mode === 'require') return { mode, ssl: { rejectUnauthorized: false, ...client } };
  const ca = read('sslrootcert');
  const verify = { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...client };
  if (mode === 'verify-ca') return { mode, ssl: { ...verify, checkServerIdentity: () => undefined } };
  return { mode, ssl: verify };
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
  if (
    err.code === 'STORAGE_UNREACHABLE' ||
    /timeout|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|terminated unexpectedly/i.test(err.message)
  ) {
    return new LifeboatError('DB_UNREACHABLE', `PostgreSQL at ${where} cannot be reached.`, {
      hint: 'Check the host, the port, that the server runs and that this machine may connect (pg_hba.conf).',
      cause: e,
    });
  }
  if (err.code === 'DB_AUTH_FAILED') {
    return new LifeboatError(
      'DB_AUTH_FAILED',
      `PostgreSQL at ${where} refused the credentials of ${target.user ?? 'the current user'}.`,
      { hint: err.hint, cause: e },
    );
  }
  if (err.code === 'DB_NOT_FOUND')
    return new LifeboatError(
      'DB_NOT_FOUND',
      `The database ${target.database} does not exist on ${target.host}:${target.port}.`,
      { cause: e },
    );
  if (/does not support SSL/i.test(err.message)) {
    return new LifeboatError(
      'DB_UNREACHABLE',
      `PostgreSQL at ${where} does not accept TLS, and the URL asks for it (sslmode).`,
      { hint: 'Enable ssl on the server, or use sslmode=prefer (or disable) in the URL.', cause: e },
    );
  }
  if (/certificate|self[- ]signed|Hostname\/IP does not match|ERR_TLS|CERT_/i.test(err.message)) {
    return new LifeboatError(
      'DB_UNREACHABLE',
      `PostgreSQL at ${where}: its TLS certificate could not be verified (${err.message.replace(/^Unexpected error: /, '')}).`,
      {
        hint: 'Name the CA that signed it with sslrootcert=<file> in the URL, or use sslmode=require to encrypt without verifying.',
        cause: e,
      },
    );
  }
  if (err.code === 'INTERNAL' && /password/i.test(err.message)) {
    return new LifeboatError('DB_AUTH_FAILED', `PostgreSQL at ${where} asks for a password and none was given.`, {
      hint: 'Provide it through PGPASSWORD, ~/.pgpass or a keychain credential (never on the command line).',
      cause: e,
    });
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
  if (standIn)
    Object.defineProperty(globalThis, 'navigator', {
      value: { userAgent: `Node.js/${process.versions.node}` },
      configurable: true,
      writable: true,
    });
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
  // TLS parameters are mapped here (pgSslOptions), so pg's parser never sees them.
  const { mode, ssl } = pgSslOptions(target.url);
  const bare = new URL(target.url);
  for (const p of ['sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'sslcrl', 'sslpassword']) bare.searchParams.delete(p);
  const fromUrl = parseConnectionString(bare.toString());
  const Client = await pgClientClass();
  const connect = async (tls: pg.ClientConfig['ssl']): Promise<pg.Client> => {
    const client = new Client({
      ...(fromUrl as pg.ClientConfig),
      ...(target.password !== null ? { password: target.password } : { password: undefined }),
      ssl: tls,
      connectionTimeoutMillis: 10_000,
      application_name: 'lifeboat',
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
  };
  let client: pg.Client;
  try {
    client = await connect(ssl).catch((e: unknown) => {
      // libpq's prefer: a server without TLS is spoken to in plain text.
      if (mode === 'prefer' && /does not support SSL/i.test(e instanceof Error ? e.message : '')) return connect(false);
      throw e;
    });
  } catch (e) {
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
      .then(
        (s) => s.rows[0]?.id ?? null,
        () => null,
      );
    const versionNum = Number(row.num);
    return {
      versionNum,
      major: Math.floor(versionNum / 10000),
      version: row.version,
      database: row.db,
      sizeBytes: Number(row.size),
      systemIdentifier,
    };
  });
}
