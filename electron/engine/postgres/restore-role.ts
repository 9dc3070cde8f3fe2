import type pg from 'pg';
import { LifeboatError } from '../errors';
import { redactText } from '../log/redact';
import { withPgClient, type PgTarget } from './connection';

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
export const SERVER_ACCESS_ROLES = ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'] as const;

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
export async function prepareRestoreRole(admin: PgTarget, database: string, options: { role?: string; login?: boolean } = {}): Promise<string> {
  const role = options.role ?? RESTORE_ROLE;
  if (!ROLE_NAME.test(role)) throw new LifeboatError('BAD_INPUT', `Not a plain role name: ${role.slice(0, 70)}`, { hint: 'Use lower-case letters, digits and _.' });
  return withPgClient(admin, async (c) => {
    const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;
    if (!exists) {
      await c.query(`CREATE ROLE ${quoteIdent(role)} ${options.login ? 'LOGIN' : 'NOLOGIN'} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`);
    } else if (options.login) {
      await c.query(`ALTER ROLE ${quoteIdent(role)} LOGIN`);
    }
    const problem = await roleProblem(c, role);
    if (problem) {
      throw new LifeboatError('PRECONDITION_FAILED', `The restore role ${problem}: restoring as it would let the dump run programs or reach files on the server.`, {
        hint: `Use another role (--role), or revoke that from ${role}; restoring as a superuser is an explicit choice (--as-superuser).`,
      });
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
      else if (x.superuser && !x.trusted) found.push(`extension ${name} (superuser only${/u$/.test(name) && name.startsWith('pl') ? ', an untrusted language' : ''})`);
    }
  }
  for (const name of [...languages].sort()) found.push(`procedural language ${name}${/u$/.test(name) ? ' (untrusted)' : ''}`);
  return found;
}

/**
 * pg_restore's stderr as one line naming what failed: its ERROR (with the statement that ran it)
 * and the command it was running — e.g. "ERROR: must be superuser or have privileges of the
 * pg_execute_server_program role to COPY to or from an external program".
 */
export function restoreFailureText(stderr: string): string {
  const lines = redactText(stderr).split('\n').map((l) => l.trim());
  const errors = lines.filter((l) => /(^|\s)(ERROR|FATAL):\s/.test(l)).map((l) => l.replace(/^pg_restore: (error: )?(could not execute query: )?/, ''));
  const context = lines.find((l) => l.startsWith('CONTEXT:'));
  const command = lines.find((l) => l.startsWith('Command was:'));
  const parts = [errors[0] ?? lines.filter(Boolean).slice(-2).join(' '), context, command ? command.slice(0, 200) : undefined].filter(Boolean);
  return parts.join(' — ');
}
