import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { LifeboatError } from '../errors';
import { redactText } from '../log/redact';
import { withPgClient, type PgTarget } from './connection';

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677, as libpq's
 * PQencryptPasswordConn builds it): given in ALTER ROLE … PASSWORD, it is kept as is, so the
 * password itself never reaches the server's statement log.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * Restores run no code of the backup with a superuser's rights. A dump holds whatever SQL
 * production's users could plant (an index on an immutable function that calls a volatile one
 * doing `COPY … TO PROGRAM`, run by CREATE INDEX during the restore): restored as a superuser,
 * it runs commands on the restoring machine. So the restore connects as (scratch clusters) or
 * switches to (`--role`, live targets) a role that owns the target database and nothing more:
 * no superuser, no CREATEROLE (which could grant itself the roles below), and none of the roles
 * that reach the server's programs and files.
 */
export const RESTORE_ROLE = 'lifeboat_restore';

/** Built-in roles that let SQL run programs or read/write files as the server's OS user. */
export const SERVER_ACCESS_ROLES = [
  'pg_execute_server_program',
  'pg_read_server_files',
  'pg_write_server_files',
] as const;

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Why `role` may not run a restore (superuser, CREATEROLE, a server-access role), or null when it is safe. */
export async function roleProblem(c: pg.Client, role: string): Promise<string | null> {
  const r = await c.query<{ rolsuper: boolean; rolcreaterole: boolean; access: string[] | null }>(
    `SELECT r.rolsuper, r.rolcreaterole,
            (SELECT array_agg(b) FROM unnest($2::text[]) AS b WHERE pg_has_role(r.oid, b, 'USAGE')) AS access
       FROM pg_roles r WHERE r.rolname = $1`,
    [role, [...SERVER_ACCESS_ROLES]],
  );
  const row = r.rows[0];
  if (!row) return null;
  if (row.rolsuper) return `${role} is a superuser`;
  if (row.rolcreaterole) return `${role} has CREATEROLE (it could grant itself ${SERVER_ACCESS_ROLES[0]})`;
  if (row.access?.length) return `${role} holds ${row.access.join(', ')}`;
  return null;
}

/**
 * Make `role` (created when missing: NOSUPERUSER NOCREATEDB NOCREATEROLE; LOGIN only when the
 * restore connects as it) the owner of `database`, which the caller created, and check it holds
 * nothing that reaches the server's programs or files. `admin` is the superuser (or CREATEROLE)
 * connection that created the database; it is made a member of the role so that
 * `pg_restore --role` can switch to it. Returns the role's name.
 */
export async function prepareRestoreRole(
  admin: PgTarget,
  database: string,
  options: { role?: string; login?: boolean } = {},
): Promise<string> {
  const role = options.role ?? RESTORE_ROLE;
  if (!ROLE_NAME.test(role))
    throw new LifeboatError('BAD_INPUT', `Not a plain role name: ${role.slice(0, 70)}`, {
      hint: 'Use lower-case letters, digits and _.',
    });
  return withPgClient(admin, async (c) => {
    const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;
    if (!exists) {
      await c.query(
        `CREATE ROLE ${quoteIdent(role)} ${options.login ? 'LOGIN' : 'NOLOGIN'} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
      );
    } else if (options.login) {
      await c.query(`ALTER ROLE ${quoteIdent(role)} LOGIN`);
    }
    const problem = await roleProblem(c, role);
    if (problem) {
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `The restore role ${problem}: restoring as it would let the dump run programs or reach files on the server.`,
        {
          hint: `Use another role (--role), or revoke that from ${role}; restoring as a superuser is an explicit choice (--as-superuser).`,
        },
      );
    }
    const me = await c.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    // A superuser may SET ROLE to anyone; any other admin needs the membership.
    if (!me.rows[0]?.rolsuper) await c.query(`GRANT ${quoteIdent(role)} TO CURRENT_USER`).catch(() => undefined);
    await c.query(`ALTER DATABASE ${quoteIdent(database)} OWNER TO ${quoteIdent(role)}`);
    return role;
  });
}

/** A table-of-contents line of `pg_restore --list`: `<id>; <catalog oid> <oid> <TYPE WORDS> <schema> <name> <owner>`. */
const TOC_EXTENSION = /^\d+;\s+\d+\s+\d+\s+EXTENSION\s+-\s+(\S+)/;
const TOC_LANGUAGE = /^\d+;\s+\d+\s+\d+\s+PROCEDURAL LANGUAGE\s+-\s+(\S+)/;

/**
 * What a dump (its `pg_restore --list`) would install that a restore role cannot and must not:
 * extensions that only a superuser may create (untrusted ones: plperlu, plpython3u, file_fdw,
 * adminpack…) or that this server lacks, and procedural languages made without an extension.
 * Reported, never installed.
 */
export async function forbiddenInstalls(c: pg.Client, toc: string): Promise<string[]> {
  const extensions = new Set<string>();
  const languages = new Set<string>();
  for (const line of toc.split('\n')) {
    const e = TOC_EXTENSION.exec(line);
    if (e) extensions.add(e[1]!);
    const l = TOC_LANGUAGE.exec(line);
    if (l) languages.add(l[1]!);
  }
  const found: string[] = [];
  if (extensions.size > 0) {
    const r = await c.query<{ name: string; trusted: boolean; superuser: boolean }>(
      'SELECT name, bool_or(trusted) AS trusted, bool_and(superuser) AS superuser FROM pg_available_extension_versions WHERE name = ANY($1) GROUP BY name',
      [[...extensions]],
    );
    const known = new Map(r.rows.map((x) => [x.name, x]));
    for (const name of [...extensions].sort()) {
      const x = known.get(name);
      if (!x) found.push(`extension ${name} (not available on this server)`);
      else if (x.superuser && !x.trusted)
        found.push(
          `extension ${name} (superuser only${/u$/.test(name) && name.startsWith('pl') ? ', an untrusted language' : ''})`,
        );
    }
  }
  for (const name of [...languages].sort())
    found.push(`procedural language ${name}${/u$/.test(name) ? ' (untrusted)' : ''}`);
  return found;
}

/**
 * pg_restore's stderr as one line naming what failed: its ERROR (with the statement that ran it)
 * and the command it was running — e.g. "ERROR: must be superuser or have privileges of the
 * pg_execute_server_program role to COPY to or from an external program".
 */
export function restoreFailureText(stderr: string): string {
  const lines = redactText(stderr)
    .split('\n')
    .map((l) => l.trim());
  const errors = lines
    .filter((l) => /(^|\s)(ERROR|FATAL):\s/.test(l))
    .map((l) => l.replace(/^pg_restore: (error: )?(could not execute query: )?/, ''));
  const context = lines.find((l) => l.startsWith('CONTEXT:'));
  const command = lines.find((l) => l.startsWith('Command was:'));
  const parts = [
    errors[0] ?? lines.filter(Boolean).slice(-2).join(' '),
    context,
    command ? command.slice(0, 200) : undefined,
  ].filter(Boolean);
  return parts.join(' — ');
}

export interface RestoreRoleChoice {
  /** The role pg_restore connects as, or null on the confirmed superuser path (the admin connection's own user). */
  role: string | null;
  /** pg_restore's `-U` and the environment that carries the role's one-time password. */
  user: string | null;
  env: NodeJS.ProcessEnv;
  /** One line for the run's log and report. */
  note: string;
  /** Takes the role's login away again (and any membership lent for the restore); call when pg_restore has ended, whatever the outcome. */
  done: () => Promise<void>;
}

/**
 * The role model of a live restore (restore.pg-logical, drills, `lifeboat restore pg`). By
 * default pg_restore CONNECTS as a non-superuser role — not `--role` (SET ROLE) or SET SESSION
 * AUTHORIZATION, which the dump's own code can undo: a CHECK constraint evaluated during the
 * data load may run `RESET ROLE` and be superuser again. The role (default lifeboat_restore) is
 * given a one-time password and LOGIN for the restore only, and owns the database this restore
 * created; for an existing database (a clean restore) it is lent membership in the database's
 * owner (which must itself be safe) so it can replace that owner's objects. `asSuperuser` is the
 * explicit (and, at the call site, confirmed) choice to restore with the admin connection's rights.
 * On a scratch server (`scratch`: a drill's, destroyed with the run) the role keeps its login, so
 * the drill's checks can query the restored database as it too (ownerTarget).
 */
export async function restoreRoleFor(
  admin: PgTarget,
  database: string,
  o: { created: boolean; role?: string; asSuperuser: boolean; scratch?: boolean },
): Promise<RestoreRoleChoice> {
  if (o.asSuperuser) {
    return {
      role: null,
      user: admin.user,
      env: {},
      note: `as ${admin.user ?? 'the connecting user'} (superuser path chosen and confirmed: the dump's code runs with its rights)`,
      done: async () => undefined,
    };
  }
  const role = o.role ?? RESTORE_ROLE;
  let lent: string | null = null;
  if (o.created) {
    await prepareRestoreRole(admin, database, { role, login: true });
  } else {
    const owner = await withPgClient(
      admin,
      async (c) =>
        (
          await c.query<{ owner: string }>(
            'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1',
            [database],
          )
        ).rows[0]?.owner ?? null,
    );
    const ownerProblem = owner && owner !== role ? await withPgClient(admin, (c) => roleProblem(c, owner)) : null;
    if (ownerProblem) {
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `The existing database ${database} is owned by ${owner}, and ${ownerProblem}: a restore acting for it could let the dump run programs or reach files on the server.`,
        {
          hint: 'Give the database to a plain role (ALTER DATABASE … OWNER TO …), or choose the superuser path explicitly (as_superuser: true in a runbook step, confirmed; lifeboat restore pg --as-superuser <database>).',
        },
      );
    }
    await withPgClient(admin, async (c) => {
      if ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 0) {
        await c.query(
          `CREATE ROLE ${quoteIdent(role)} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
        );
      }
      const problem = await roleProblem(c, role);
      if (problem)
        throw new LifeboatError('PRECONDITION_FAILED', `The restore role ${problem}.`, {
          hint: 'Use another role (role: <name>) or revoke that from it.',
        });
      if (owner && owner !== role) {
        await c.query(`GRANT ${quoteIdent(owner)} TO ${quoteIdent(role)}`);
        lent = owner;
      }
    });
  }
  // A one-time password: enough for pg_hba's password methods, useless once the restore ends.
  const password = randomBytes(24).toString('base64url');
  // Sent as a SCRAM verifier, never as the password: a server logging statements logs only the verifier.
  await withPgClient(admin, (c) =>
    c.query(`ALTER ROLE ${quoteIdent(role)} LOGIN PASSWORD '${scramVerifier(password)}'`),
  );
  const done = async (): Promise<void> => {
    if (o.scratch) return;
    await withPgClient(admin, async (c) => {
      await c.query(`ALTER ROLE ${quoteIdent(role)} NOLOGIN PASSWORD NULL`);
      if (lent) await c.query(`REVOKE ${quoteIdent(lent)} FROM ${quoteIdent(role)}`);
    });
  };
  return {
    role,
    user: role,
    env: { PGPASSWORD: password },
    note: `connected as the role ${role} (no superuser rights, no access to server programs or files)`,
    done,
  };
}

/**
 * The target to query a restored database through on a scratch server (drill checks): as the
 * database's owner when that is a safe role that may log in, so a view or function planted in
 * the dump runs without a superuser's rights; else the target unchanged.
 */
export async function ownerTarget(target: PgTarget): Promise<PgTarget> {
  const owner = await withPgClient(target, async (c) => {
    const r = await c.query<{ owner: string; login: boolean }>(
      'SELECT r.rolname AS owner, r.rolcanlogin AS login FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = current_database()',
    );
    const row = r.rows[0];
    if (!row?.login || (await roleProblem(c, row.owner))) return null;
    return row.owner;
  });
  if (!owner) return target;
  const u = new URL(target.url);
  u.username = encodeURIComponent(owner);
  return { ...target, user: owner, password: null, url: u.toString() };
}
