import { createReadStream, createWriteStream, existsSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LifeboatError, mapError } from '../errors';
import { redactText } from '../log/redact';
import {
  findMysqlTool,
  mysqlQuery,
  feedClient,
  quoteMysqlIdent,
  withOptionFile,
  type MysqlTarget,
} from '../mysql/connection';
import { DefinerFilter, DumpStatementGuard } from '../mysql/dump-text';
import { ConfirmationNeeded, type RestoreContext } from './context';
import { openVerifiedArtifact, untilVerified } from './gate';
import { openTrustedCopy } from './set-access';

export interface MysqlRestoreParams {
  set: string;
  database: string;
  allow_unsigned: boolean;
}

export interface MysqlCheckpoint {
  /** This run created the database (so a failure or a resume may drop it). */
  created?: string;
  dropped?: string;
}

/**
 * Where the dump goes: the server as an ordinary user (`user`, whose rights are all the dump gets)
 * and, for creating/dropping the database, `admin` (the same connection on a live target; the
 * scratch server's root in a drill). `filesDir`: a scratch server's secure_file_priv folder, which
 * must still be empty afterwards.
 */
export interface MysqlRestoreTarget {
  admin: MysqlTarget;
  /** The connection the dump is replayed through, once the database exists. */
  user: () => Promise<MysqlTarget>;
  filesDir?: string;
  where: string;
}

export function mysqlCondition(p: Pick<MysqlRestoreParams, 'database'>, checkpoint: unknown, drill: boolean): string {
  const cp = (checkpoint ?? {}) as MysqlCheckpoint;
  if (drill) return `the scratch database ${p.database} is removed with the scratch MariaDB when the step ends`;
  if (cp.dropped)
    return `the database ${p.database} that this run created was dropped after the failure: the target is as it was`;
  if (cp.created)
    return `the database ${p.database} was created by this run and may be partially restored: resume to drop and redo it, or drop it by hand`;
  return `the database ${p.database} was not created: nothing on the target changed`;
}

async function tableCount(t: MysqlTarget, database: string): Promise<number> {
  const r = await mysqlQuery(t, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${database}'`, {
    database: null,
  });
  return Number(r[0]?.[0] ?? 0);
}

async function databaseExists(t: MysqlTarget, database: string): Promise<boolean> {
  const r = await mysqlQuery(t, `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${database}'`, {
    database: null,
  });
  return r[0]?.[0] === '1';
}

/**
 * A MySQL set's dump into a NEW database (or an existing empty one; an existing non-empty one
 * only with the typed confirmation of its name): the manifest's trust, the dump decoded through
 * the gate into the run's folder (mode 600), then replayed by the `mariadb` client in its
 * `--sandbox` mode (no `\!` shell commands, no `\.` or `tee` files) with LOAD DATA LOCAL off, as
 * the target's user (in a drill an ordinary user owning only that database: no FILE, no SUPER).
 * DEFINER clauses are dropped so routines, views, triggers and events become the restoring
 * user's. A failure drops the database this run created. Then the tables and the rows of each
 * are counted and compared with what the dump held (the manifest's `tables`).
 */
export async function restoreMysql(
  p: MysqlRestoreParams,
  ctx: RestoreContext,
  target: MysqlRestoreTarget,
): Promise<Record<string, unknown>> {
  const started = Date.now();
  const cp: MysqlCheckpoint = { ...((ctx.checkpoint ?? {}) as MysqlCheckpoint) };
  const copy = await openTrustedCopy(ctx.deps.catalog, p.set, {
    allowUnsigned: p.allow_unsigned,
    open: ctx.deps.openMedium,
  });
  if (copy.trust.state === 'accepted-unsigned')
    ctx.log('warn', `restoring an untrusted set because the step allows it: ${copy.trust.why}`);
  const artifact = copy.manifest.artifacts.find((a) => a.role === 'mysql-dump');
  if (!artifact)
    throw new LifeboatError('FORMAT_INVALID', `${copy.key} holds no MySQL dump (it is a ${copy.manifest.kind} set).`, {
      hint: 'lifeboat restore mysql restores sets made by lifeboat backup mysql.',
    });
  const client = findMysqlTool('client');
  const { admin } = target;
  const ours = cp.created === p.database;
  const exists = await databaseExists(admin, p.database);
  if (exists && !ours && (await tableCount(admin, p.database)) > 0 && ctx.confirmation !== p.database) {
    throw new ConfirmationNeeded(
      `The database ${p.database} already exists on ${target.where} and is not empty. Restoring into it adds the dump's tables and replaces those of the same names.`,
      p.database,
      ctx.confirmation !== null,
    );
  }
  // Decoded first, whole, through the gate: nothing reaches the server before every check passed.
  await mkdir(ctx.workDir, { recursive: true, mode: 0o700 });
  const file = join(ctx.workDir, `${ctx.stepId}.sql`);
  const staging = `${file}.partial`;
  ctx.log('info', `decoding ${copy.key}/${artifact.path} from ${copy.medium.location}`);
  ctx.progress({ bytesTotal: artifact.plain_bytes, bytesDone: 0, current: artifact.path });
  try {
    const v = await openVerifiedArtifact(copy, artifact, {
      identities: ctx.deps.identities,
      trust: copy.trust,
      signal: ctx.signal,
      onPlainBytes: (n) => ctx.progress({ bytesDone: n }),
    });
    // Read as SQL on its way to the disk: a statement reaching beyond the new database fails here.
    await untilVerified(v, pipeline(v.stream, new DumpStatementGuard(), createWriteStream(staging, { mode: 0o600 })));
  } catch (e) {
    await rm(staging, { force: true });
    const err = mapError(e);
    if (err.code === 'CANCELLED') throw err;
    throw new LifeboatError(err.code, `${err.message} Nothing was restored.`, {
      hint: err.hint ?? 'Restore another copy or another set; verify this one at deep level to see what is wrong.',
      cause: e,
    });
  }
  await rename(staging, file);
  const db = quoteMysqlIdent(p.database);
  try {
    if (ours && exists) {
      ctx.log('info', `dropping ${p.database}, left partial by the interrupted attempt of this run`);
      await mysqlQuery(admin, `DROP DATABASE ${db}`, { database: null });
    }
    if (!exists || ours) {
      // Persisted before the effect: a crash right after CREATE DATABASE still knows it is ours.
      cp.created = p.database;
      delete cp.dropped;
      ctx.saveCheckpoint(cp);
      await mysqlQuery(admin, `CREATE DATABASE IF NOT EXISTS ${db} CHARACTER SET utf8mb4`, { database: null });
    }
    const user = await target.user();
    ctx.log('info', `replaying the dump into ${p.database} on ${target.where} as ${user.user} (mariadb --sandbox)`);
    const restoreStarted = Date.now();
    const definers = new DefinerFilter();
    await withOptionFile(user, (auth) =>
      feedClient(
        client,
        [...auth, '--batch', '--sandbox', '--local-infile=0', '--default-character-set=utf8mb4', '--', p.database],
        createReadStream(file).pipe(definers),
        { signal: ctx.signal, what: 'mariadb' },
      ),
    );
    const left = target.filesDir && existsSync(target.filesDir) ? readdirSync(target.filesDir) : [];
    if (left.length > 0)
      throw new LifeboatError(
        'DB_RESTORE_FAILED',
        `The dump wrote files on the server (${left.join(', ')}): a backup is data, never code. The set is not trusted.`,
      );
    const validation = await validate(copy.manifest.source, user, p.database);
    const restoreMs = Date.now() - restoreStarted;
    const bad = validation.checks.filter((c) => !c.ok);
    if (bad.length > 0)
      throw new LifeboatError(
        'DB_RESTORE_FAILED',
        `The restored database differs from the dump: ${bad
          .slice(0, 5)
          .map((c) => `${c.what}: ${c.got}, expected ${c.expect}`)
          .join('; ')}.`,
      );
    ctx.log('info', `restored ${validation.tables} tables into ${p.database}; row counts match the dump`);
    return {
      set: copy.key,
      database: p.database,
      target: target.where,
      tables: validation.tables,
      rows: validation.rows,
      routines: validation.routines,
      triggers: validation.triggers,
      events: validation.events,
      views: validation.views,
      definers_dropped: definers.removed,
      checks: validation.checks,
      duration_ms: Date.now() - started,
      restore_ms: restoreMs,
      trust: copy.trust.state,
    };
  } catch (e) {
    const err = mapError(e);
    if (cp.created === p.database && !ctx.drill) {
      try {
        await mysqlQuery(admin, `DROP DATABASE IF EXISTS ${db}`, { database: null });
        delete cp.created;
        cp.dropped = p.database;
        ctx.saveCheckpoint(cp);
      } catch (dropErr) {
        ctx.log('warn', `could not drop ${p.database} after the failure: ${mapError(dropErr).message}`);
      }
    }
    if (err.code === 'CANCELLED') throw err;
    const sandbox = /Not allowed in the sandbox mode|FILE privilege|secure-file-priv/i.test(err.message);
    throw new LifeboatError(
      err.code === 'TOOL_FAILED' ? 'DB_RESTORE_FAILED' : err.code,
      `${redactText(err.message)}${cp.dropped ? ` The database ${p.database} this restore created was dropped.` : ''}`,
      {
        hint: sandbox
          ? 'The dump tried to run a client command or reach files (\\! shell, \\. source, INTO OUTFILE, LOAD DATA): refused. This set is not a plain dump: do not trust it.'
          : (err.hint ?? 'See the error above; the dump is kept in the run folder until the run ends.'),
        cause: e,
      },
    );
  } finally {
    await rm(file, { force: true });
  }
}

interface Check {
  what: string;
  ok: boolean;
  got: number;
  expect: number;
}

/** Tables and the rows of each, counted on the restored database, against what the dump held. */
async function validate(
  source: Record<string, unknown>,
  t: MysqlTarget,
  database: string,
): Promise<{
  checks: Check[];
  tables: number;
  rows: number;
  routines: number;
  triggers: number;
  events: number;
  views: number;
}> {
  const expected = (source.tables ?? {}) as Record<string, number>;
  const names = Object.keys(expected);
  const counts = await mysqlQuery(
    t,
    `SELECT
      (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${database}' AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')),
      (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '${database}'),
      (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '${database}'),
      (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${database}'),
      (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '${database}')`,
    { database: null },
  );
  const [tables, routines, triggers, events, views] = (counts[0] ?? []).map(Number);
  const checks: Check[] = [
    { what: 'tables', got: tables ?? 0, expect: Number(source.table_count ?? names.length), ok: false },
  ];
  let rows = 0;
  if (names.length > 0) {
    const rowCounts = await mysqlQuery(t, names.map((n) => `SELECT COUNT(*) FROM ${quoteMysqlIdent(n)};`).join('\n'), {
      database,
    });
    names.forEach((n, i) => {
      const got = Number(rowCounts[i]?.[0] ?? -1);
      rows += got;
      checks.push({ what: `rows of ${n}`, got, expect: expected[n]!, ok: false });
    });
  }
  for (const c of checks) c.ok = c.got === c.expect;
  return {
    checks,
    tables: tables ?? 0,
    rows,
    routines: routines ?? 0,
    triggers: triggers ?? 0,
    events: events ?? 0,
    views: views ?? 0,
  };
}
