import { createWriteStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { SetResult } from '../../../shared/domain/verify';
import { spawnTool } from '../process/child';
import { LifeboatError, mapError } from '../errors';
import type { Manifest } from '../format/manifest';
import type { JobContext } from '../jobs/job-manager';
import { gateStages, specOf } from '../restore/gate';
import { OwnershipFilter } from '../restore/seed-copy';
import { parsePgUrl, pgClientClass, withPgClient } from '../postgres/connection';
import { pgRestoreForDump } from '../postgres/pg-tools';
import { metaCommandRefusal, SqlMetaCommandGuard } from '../postgres/sql-guard';
import { findExecutable } from '../tools/tools';
import { forbiddenInstalls, prepareRestoreRole, restoreFailureText } from '../postgres/restore-role';
import { ScratchCluster } from '../postgres/scratch-cluster';
import type { Medium } from '../storage/medium';
import { meetsExpectation, sqlValueText } from './expect';
import type { VerifyOptions } from './verify';

/** No scratch PostgreSQL could be started on this machine (no server binaries, no postgres user, initdb failed): the restore test was not made, which says nothing about the set. */
export class ScratchUnavailable extends LifeboatError {
  constructor(e: LifeboatError) {
    super(e.code, `no scratch PostgreSQL could be started here: ${e.message}`, { hint: e.hint, cause: e });
  }
}

/** The pg_restore that reads this set's dump, chosen by the dump's own pg_dump version; throws when none can. */
export function restoreTestPgRestore(manifest: Manifest, o: VerifyOptions): string {
  const pick = o.pgRestores ? pgRestoreForDump(o.pgRestores, manifest.source) : o.pgRestore;
  if (pick && typeof pick === 'object')
    throw new LifeboatError('TOOL_VERSION_MISMATCH', `The restore test ${pick.needs}.`, {
      hint: 'Install newer PostgreSQL client tools or set the tools directory.',
    });
  if (!pick) throw new LifeboatError('TOOL_MISSING', 'pg_restore was not found.');
  return pick;
}

/** Start the scratch PostgreSQL of a restore test; a failure to start is ScratchUnavailable (never a verdict on the set). */
export function startScratch(
  what: string,
  o: Pick<VerifyOptions, 'pgBinDir'>,
  ctx: Pick<JobContext, 'log'>,
): Promise<ScratchCluster> {
  ctx.log('info', `restore test of ${what}: starting a scratch PostgreSQL`);
  return ScratchCluster.start({ binDir: o.pgBinDir }).catch((e: unknown) => {
    throw new ScratchUnavailable(mapError(e));
  });
}

/**
 * A restore test whose dump was already decoded and checked by the deep pass over the same bytes
 * (verify --level restore, one pass: verify.ts): the scratch PostgreSQL started while the dump
 * decoded, and the time of the test counts from the first byte read.
 */
export interface DecodedForRestore {
  /** The plaintext dump, written through the gate (openVerifiedArtifact) as the deep check read it. */
  file: string;
  cluster: Promise<ScratchCluster>;
  startedAt: number;
}

/**
 * The restore level: a scratch PostgreSQL started in a temp dir, the dump decoded and restored
 * into it with pg_restore, the system's validation queries run, and everything removed. The
 * time from the first byte read to the last query is the measured RTO. The restore and the
 * queries run as a non-superuser role: a backup's code cannot reach this machine. With
 * `decoded`, the dump is the one the deep check of the same pass wrote (nothing is read again);
 * the scratch cluster it names is this test's to destroy.
 */
export async function restoreTest(
  manifest: Manifest,
  medium: Medium,
  setPath: string,
  o: VerifyOptions,
  ctx: Pick<JobContext, 'signal' | 'log'>,
  decoded?: DecodedForRestore,
): Promise<NonNullable<SetResult['restore']>> {
  const dump = manifest.artifacts.find((a) => a.role === 'pg-dump');
  if (!dump)
    throw new LifeboatError('PRECONDITION_FAILED', 'Restore tests need a custom-format dump (pg-dump artifact).');
  let pgRestore: string;
  try {
    pgRestore = restoreTestPgRestore(manifest, o);
  } catch (e) {
    if (decoded) await decoded.cluster.then((c) => c.destroy()).catch(() => undefined);
    throw e;
  }
  const started = decoded?.startedAt ?? Date.now();
  const cluster = await (decoded?.cluster ?? startScratch(`${manifest.system}/${manifest.set_id}`, o, ctx));
  try {
    let file = decoded?.file;
    if (!file) {
      file = join(cluster.dir, 'restore.dump');
      // Through the gate's stages (restore/gate.ts): this read is checked on its own, not trusted from the deep pass before
      // it (the medium could change in between); a byte past a recorded size stops it, a hash that differs fails it.
      const gated = gateStages(specOf(`${manifest.system}/${manifest.set_id}`, dump), o.identities, { check: true });
      await pipeline(
        [await medium.openRead(`${setPath}/${dump.path}`), ...gated.stages, createWriteStream(file, { mode: 0o600 })],
        { signal: ctx.signal },
      );
    }
    const database = 'lifeboat_restore_test';
    const admin = parsePgUrl(cluster.url());
    await withPgClient(admin, (c) => c.query(`CREATE DATABASE ${database}`));
    // Nothing in the dump runs with a superuser's rights: pg_restore and the validation queries
    // connect as a role that owns the database and nothing else (see restore-role.ts).
    const role = await prepareRestoreRole(admin, database, { login: true });
    const list = spawnTool(pgRestore, ['--list', file], {
      signal: ctx.signal,
      what: 'pg_restore --list',
      code: 'DB_RESTORE_FAILED',
    });
    let toc = '';
    list.child.stdout.setEncoding('utf8').on('data', (d: string) => (toc += d));
    await list.exited;
    const forbidden = await withPgClient(admin, (c) => forbiddenInstalls(c, toc));
    if (forbidden.length > 0) {
      throw new LifeboatError(
        'DB_RESTORE_FAILED',
        `The dump needs what a restore test never installs: ${forbidden.join(', ')}. Nothing of it was restored.`,
        {
          hint: 'A restore test runs as a non-superuser role, so a backup cannot run code on this machine. Restore such a set by hand into a disposable server if you trust it.',
        },
      );
    }
    const restore = spawnTool(
      pgRestore,
      [
        '--no-owner',
        '--no-privileges',
        '--exit-on-error',
        '-j',
        '2',
        '-h',
        '127.0.0.1',
        '-p',
        String(cluster.port),
        '-U',
        role,
        '-d',
        database,
        file,
      ],
      { signal: ctx.signal, what: 'pg_restore', code: 'DB_RESTORE_FAILED' },
    );
    restore.child.stdout.resume();
    let stderr = '';
    restore.child.stderr.on('data', (d: string | Buffer) => (stderr = (stderr + String(d)).slice(-16_000)));
    try {
      await restore.exited;
    } catch (e) {
      if (e instanceof LifeboatError && e.code === 'DB_RESTORE_FAILED') {
        throw new LifeboatError(
          'DB_RESTORE_FAILED',
          `pg_restore as the non-superuser ${role} failed: ${restoreFailureText(stderr)}`,
          {
            hint: 'A dump that tries what only a superuser may (COPY … TO PROGRAM, server files, untrusted languages) fails here on purpose.',
          },
        );
      }
      throw e;
    }
    const checks = await runValidations(
      cluster.port,
      role,
      database,
      o.settings.systems[manifest.system]?.validations ?? [],
      ctx,
    );
    return { durationMs: Date.now() - started, database, checks };
  } finally {
    await cluster.destroy();
  }
}

/**
 * The restore level of a plain SQL dump (a seed script's `postgres_<db>_<date>.sql[.gz]`): the
 * dump is decoded and read through SqlMetaCommandGuard before psql sees a byte (a `\!` or any
 * other psql meta-command is refused, naming it), then replayed by psql — itself restricted
 * against meta-commands — as the non-superuser restore role into a scratch PostgreSQL, and the
 * system's validation queries run as that role.
 */
export async function sqlRestoreTest(
  system: string,
  medium: Medium,
  artifact: { path: string; role: string },
  o: VerifyOptions,
  ctx: Pick<JobContext, 'signal' | 'log'>,
): Promise<NonNullable<SetResult['restore']>> {
  const psql = findExecutable('psql', { preferDirs: o.pgBinDir ? [o.pgBinDir] : [], pg: true });
  if (!psql)
    throw new LifeboatError('TOOL_MISSING', 'psql was not found (it replays plain SQL dumps).', {
      hint: 'Install the PostgreSQL client tools or set the tools directory.',
    });
  const started = Date.now();
  ctx.log('info', `restore test of ${system} (${artifact.path}): starting a scratch PostgreSQL`);
  const cluster = await ScratchCluster.start({ binDir: o.pgBinDir });
  try {
    const file = join(cluster.dir, 'restore.sql');
    const guard = new SqlMetaCommandGuard();
    const stages = artifact.role === 'sql-dump-gz' ? [createGunzip()] : [];
    // Ownership and privileges left out (the restore role cannot give objects to the dump's roles), as pg_restore --no-owner --no-privileges.
    await pipeline(
      [
        await medium.openRead(artifact.path),
        ...stages,
        new OwnershipFilter(),
        guard,
        createWriteStream(file, { mode: 0o600 }),
      ],
      { signal: ctx.signal },
    );
    if (guard.found.length > 0) throw metaCommandRefusal(guard.found, `The SQL dump ${artifact.path}`);
    const database = 'lifeboat_restore_test';
    const admin = parsePgUrl(cluster.url());
    await withPgClient(admin, (c) => c.query(`CREATE DATABASE ${database}`));
    const role = await prepareRestoreRole(admin, database, { login: true });
    const replay = spawnTool(
      psql,
      [
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        '127.0.0.1',
        '-p',
        String(cluster.port),
        '-U',
        role,
        '-d',
        database,
        '-f',
        file,
      ],
      {
        signal: ctx.signal,
        what: 'psql',
        code: 'DB_RESTORE_FAILED',
        env: { ...process.env, PGOPTIONS: '' },
      },
    );
    replay.child.stdout.resume();
    let stderr = '';
    replay.child.stderr.on('data', (d: string | Buffer) => (stderr = (stderr + String(d)).slice(-16_000)));
    try {
      await replay.exited;
    } catch (e) {
      if (e instanceof LifeboatError && e.code === 'DB_RESTORE_FAILED')
        throw new LifeboatError(
          'DB_RESTORE_FAILED',
          `psql as the non-superuser ${role} failed: ${restoreFailureText(stderr)}`,
        );
      throw e;
    }
    const checks = await runValidations(
      cluster.port,
      role,
      database,
      o.settings.systems[system]?.validations ?? [],
      ctx,
    );
    return { durationMs: Date.now() - started, database, checks };
  } finally {
    await cluster.destroy();
  }
}

/** The system's validation queries (or, without any, a count of user tables), as the restore role. */
async function runValidations(
  port: number,
  role: string,
  database: string,
  validations: Array<{ sql: string; expect: string }>,
  ctx: Pick<JobContext, 'log'>,
): Promise<NonNullable<SetResult['restore']>['checks']> {
  const checks: NonNullable<SetResult['restore']>['checks'] = [];
  const client = new (await pgClientClass())({ host: '127.0.0.1', port, user: role, database });
  await client.connect();
  try {
    if (validations.length === 0) {
      // Without configured validations, at least the restored database must hold tables.
      const r = await client.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
      );
      checks.push({
        sql: 'count of user tables',
        expect: '> 0',
        got: r.rows[0]?.n ?? null,
        ok: meetsExpectation(r.rows[0]?.n ?? null, '> 0'),
      });
    }
    for (const v of validations) {
      try {
        const r = await client.query({ text: v.sql, rowMode: 'array' });
        const value: unknown = (r.rows[0] as unknown[] | undefined)?.[0];
        const got = sqlValueText(value);
        checks.push({ sql: v.sql, expect: v.expect, got, ok: meetsExpectation(got, v.expect) });
      } catch (e) {
        checks.push({ sql: v.sql, expect: v.expect, got: null, ok: false });
        ctx.log('warn', `validation query failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } finally {
    await client.end();
  }
  return checks;
}
