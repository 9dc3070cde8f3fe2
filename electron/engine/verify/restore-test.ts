import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { SetResult } from '../../../shared/domain/verify';
import { spawnTool } from '../backup/child';
import { LifeboatError, mapError } from '../errors';
import type { Manifest } from '../format/manifest';
import type { JobContext } from '../jobs/job-manager';
import { decodeStages } from '../pipeline/artifact-pipeline';
import { pgClientClass } from '../postgres/connection';
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

/**
 * The restore level: a scratch PostgreSQL started in a temp dir, the dump decoded and restored
 * into it with pg_restore, the system's validation queries run, and everything removed. The
 * time from the first byte read to the last query is the measured RTO.
 */
export async function restoreTest(manifest: Manifest, medium: Medium, setPath: string, o: VerifyOptions, ctx: Pick<JobContext, 'signal' | 'log'>): Promise<NonNullable<SetResult['restore']>> {
  const dump = manifest.artifacts.find((a) => a.role === 'pg-dump');
  if (!dump) throw new LifeboatError('PRECONDITION_FAILED', 'Restore tests need a custom-format dump (pg-dump artifact).');
  if (!o.pgRestore) throw new LifeboatError('TOOL_MISSING', 'pg_restore was not found.');
  const started = Date.now();
  ctx.log('info', `restore test of ${manifest.system}/${manifest.set_id}: starting a scratch PostgreSQL`);
  let cluster: ScratchCluster;
  try {
    cluster = await ScratchCluster.start({ binDir: o.pgBinDir });
  } catch (e) {
    throw new ScratchUnavailable(mapError(e));
  }
  try {
    const file = join(cluster.dir, 'restore.dump');
    await pipeline([await medium.openRead(`${setPath}/${dump.path}`), ...decodeStages(dump.encodings, o.identities), createWriteStream(file)], { signal: ctx.signal });
    const database = 'lifeboat_restore_test';
    const admin = new (await pgClientClass())({ host: '127.0.0.1', port: cluster.port, user: 'postgres', database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }
    const restore = spawnTool(o.pgRestore, ['--no-owner', '--no-privileges', '--exit-on-error', '-j', '2', '-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', '-d', database, file], { signal: ctx.signal, what: 'pg_restore', code: 'DB_RESTORE_FAILED' });
    restore.child.stdout.resume();
    await restore.exited;
    const validations = o.settings.systems[manifest.system]?.validations ?? [];
    const checks: NonNullable<SetResult['restore']>['checks'] = [];
    const client = new (await pgClientClass())({ host: '127.0.0.1', port: cluster.port, user: 'postgres', database });
    await client.connect();
    try {
      if (validations.length === 0) {
        // Without configured validations, at least the restored database must hold tables.
        const r = await client.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')");
        checks.push({ sql: 'count of user tables', expect: '> 0', got: r.rows[0]?.n ?? null, ok: meetsExpectation(r.rows[0]?.n ?? null, '> 0') });
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
    return { durationMs: Date.now() - started, database, checks };
  } finally {
    await cluster.destroy();
  }
}
