import { LifeboatError } from '../../errors';
import { parsePgUrl, type PgTarget } from '../../postgres/connection';
import type { ActionContext } from './types';

/**
 * The PostgreSQL a step talks to: in a drill always the run's scratch cluster (a drill never
 * touches a live server); otherwise the URL given, its password from a keychain reference
 * (`pg:<id>`), PGPASSWORD or ~/.pgpass — never from the URL, which is stored with the run.
 */
export async function resolvePgTarget(
  ctx: ActionContext,
  url: string | undefined,
  credential: string | undefined,
  database?: string,
): Promise<PgTarget> {
  if (ctx.drill) {
    const scratch = await ctx.scratchPostgres();
    return database
      ? { ...scratch, database, url: scratch.url.replace(/\/[^/]*$/, `/${encodeURIComponent(database)}`) }
      : scratch;
  }
  if (!url)
    throw new LifeboatError('BAD_INPUT', 'This step needs a PostgreSQL target (postgres://user@host:port/database).');
  const parsed = parsePgUrl(url);
  if (parsed.password !== null) {
    throw new LifeboatError(
      'BAD_INPUT',
      'A PostgreSQL target in a runbook must not carry its password: runs and reports are stored.',
      {
        hint: 'Store it in the keychain and give the reference (credential: pg:<id>), or use PGPASSWORD / ~/.pgpass.',
      },
    );
  }
  let password: string | null = null;
  if (credential) {
    password = await ctx.deps.credentials.get(credential);
    if (password === null)
      throw new LifeboatError('CREDENTIAL_UNAVAILABLE', `No secret is stored for ${credential}.`, {
        hint: 'Add it under Credentials (or lifeboat credentials) and resume.',
      });
  }
  const target = parsePgUrl(url, password);
  if (!database) return target;
  const u = new URL(target.url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return { ...target, database, url: u.toString() };
}
