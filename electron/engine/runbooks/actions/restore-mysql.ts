import { z } from 'zod';
import { secretFor, type CredentialStore } from '../../credentials/credential-store';
import { LifeboatError } from '../../errors';
import { MYSQL_DB_NAME, mysqlDisplayUrl, parseMysqlUrl, type MysqlTarget } from '../../mysql/connection';
import { ScratchMariadb } from '../../mysql/scratch-server';
import { mysqlCondition, restoreMysql } from '../../restore/mysql';
import { defineAction } from './types';

/**
 * The live server a step restores into: the URL given (never with a password: runs are stored),
 * the password from the keychain reference (`credential: mysql:<id>`), else MYSQL_PWD of the
 * Lifeboat process; never in an argument list (the tools read a 0600 option file).
 */
export async function liveMysqlTarget(
  store: Pick<CredentialStore, 'get'>,
  url: string | undefined,
  database: string,
  credential: string | undefined,
): Promise<MysqlTarget> {
  if (!url) throw new LifeboatError('BAD_INPUT', 'This step needs a MySQL target (mysql://user@host:3306/<database>).');
  const parsed = parseMysqlUrl(url.replace(/\/[^/?]*(\?|$)/, `/${database}$1`));
  if (parsed.password !== null)
    throw new LifeboatError(
      'BAD_INPUT',
      'A MySQL target in a runbook must not carry its password: runs and reports are stored.',
      {
        hint: 'Store it in the keychain and give the reference (credential: mysql:<id>), or set MYSQL_PWD in the environment Lifeboat runs in.',
      },
    );
  const password = credential ? await secretFor(store, credential) : (process.env.MYSQL_PWD ?? null);
  return { ...parsed, password, database };
}

/**
 * restore.mysql: a MySQL/MariaDB set's dump into a new database (restore/mysql.ts), replayed by
 * `mariadb --sandbox`. In a drill, into a scratch MariaDB started for the step (a unix socket and
 * a loopback port, secure_file_priv an empty folder) as an ordinary user owning only that
 * database, removed when the step ends; table and row counts are compared with the dump's.
 * An existing non-empty database needs the typed confirmation of its name.
 */
export const restoreMysqlAction = defineAction({
  params: z
    .object({
      set: z.string().min(1),
      database: z.string().regex(MYSQL_DB_NAME, 'a plain database name (letters, digits, _)'),
      target: z.string().optional(),
      /** The keychain reference of the target's password (mysql:<id>); else MYSQL_PWD. */
      credential: z.string().optional(),
      allow_unsigned: z.boolean().default(false),
    })
    .strict(),
  describe: (p) =>
    `restore ${p.set} into the MySQL database ${p.database} with mariadb --sandbox${p.allow_unsigned ? ' — UNSIGNED OR UNTRUSTED SET ALLOWED by the operator' : ''}`,
  condition: mysqlCondition,
  async run(p, ctx) {
    if (!ctx.drill) {
      const t = await liveMysqlTarget(ctx.deps.credentials, p.target, p.database, p.credential);
      return restoreMysql(p, ctx, { admin: t, user: () => Promise.resolve(t), where: mysqlDisplayUrl(t) });
    }
    ctx.log('info', 'starting a scratch MariaDB for the drill');
    const server = await ScratchMariadb.start({ baseDir: ctx.scratchDir('mysql') });
    try {
      return {
        ...(await restoreMysql(p, ctx, {
          admin: server.admin,
          user: () => server.restoreUser(p.database),
          filesDir: server.filesDir,
          where: `a scratch MariaDB on 127.0.0.1:${server.port}`,
        })),
        scratch: true,
      };
    } finally {
      await server.destroy();
    }
  },
});
