import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { spawnTool } from '../../backup/child';
import { LifeboatError } from '../../errors';
import { decodeStages } from '../../pipeline/artifact-pipeline';
import { HashTap } from '../../pipeline/hash-tap';
import { pgToolEnv, serverFacts, withPgClient, type PgTarget } from '../../postgres/connection';
import { dumpToolMajor, pgRestoreFor } from '../../postgres/pg-tools';
import { forbiddenInstalls, restoreFailureText, restoreRoleFor } from '../../postgres/restore-role';
import { extractTar } from '../../restore/extract';
import { resolvePgTarget } from './pg-target';
import { openSetCopy, type SetCopy } from './set-access';
import { ConfirmationNeeded, defineAction } from './types';

const DB_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

interface Checkpoint {
  /** The decoded dump is complete in the work dir (its plaintext hash was checked). */
  decoded?: { path: string; sha256: string; bytes: number };
  /** This run created the database (so a resume may drop and recreate it). */
  created?: string;
}

/** A directory-format dump was tarred as <dir name>/…: pg_restore reads that inner folder. */
async function dumpPath(target: string, format: 'custom' | 'directory'): Promise<string> {
  if (format === 'custom') return target;
  const [inner] = await readdir(target);
  if (!inner) throw new LifeboatError('FORMAT_INVALID', 'The directory-format dump is empty.');
  return join(target, inner);
}

/** Decode the dump to the run's work dir, checking its plaintext hash; skipped when a checkpoint says it is there. */
async function decodeDump(ctx: Parameters<typeof restorePgLogical.run>[1], copy: SetCopy, cp: Checkpoint): Promise<{ path: string; format: 'custom' | 'directory'; bytes: number }> {
  const artifact = copy.manifest.artifacts.find((a) => a.role === 'pg-dump' || a.role === 'pg-dump-dir');
  if (!artifact) throw new LifeboatError('FORMAT_INVALID', `${copy.key} holds no PostgreSQL dump (it is a ${copy.manifest.kind} set).`);
  const format = artifact.role === 'pg-dump' ? 'custom' : 'directory';
  const target = join(ctx.workDir, `${ctx.stepId}.${format === 'custom' ? 'dump' : 'dir'}`);
  if (cp.decoded && cp.decoded.sha256 === artifact.plain_sha256 && existsSync(target)) {
    ctx.log('info', `the dump decoded by the interrupted attempt is complete: reusing it`);
    return { path: await dumpPath(target, format), format, bytes: artifact.plain_bytes };
  }
  await rm(target, { recursive: true, force: true });
  ctx.log('info', `decoding ${copy.key}/${artifact.path} from ${copy.medium.location}`);
  ctx.progress({ bytesTotal: artifact.plain_bytes, bytesDone: 0, current: artifact.path });
  const tap = new HashTap((n) => ctx.progress({ bytesDone: n }));
  const source = await copy.medium.openRead(`${copy.setPath}/${artifact.path}`);
  if (format === 'custom') {
    await pipeline([source, ...decodeStages(artifact.encodings, ctx.deps.identities), tap, createWriteStream(target, { mode: 0o600 })], { signal: ctx.signal });
  } else {
    await mkdir(target, { recursive: true, mode: 0o700 });
    await extractTar(source, [...decodeStages(artifact.encodings, ctx.deps.identities), tap], target, { accept: () => true, signal: ctx.signal });
  }
  if (tap.sha256() !== artifact.plain_sha256) {
    await rm(target, { recursive: true, force: true });
    throw new LifeboatError('CHECKSUM_MISMATCH', `The decoded dump of ${copy.key} does not match its manifest (plaintext SHA-256 differs). Nothing was restored.`, { hint: 'Restore another copy or another set; verify this one at deep level to see what is wrong.' });
  }
  cp.decoded = { path: target, sha256: artifact.plain_sha256, bytes: artifact.plain_bytes };
  ctx.saveCheckpoint(cp);
  return { path: await dumpPath(target, format), format, bytes: artifact.plain_bytes };
}

async function databaseExists(admin: PgTarget, name: string): Promise<boolean> {
  return withPgClient(admin, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
}

/**
 * restore.pg-logical: `pg_restore -j` of a logical set into a target. A new database is created
 * by default (the run records that it made it, so an interrupted restore is dropped and redone
 * on resume). An existing database needs a typed confirmation of its name *and* `clean: true`
 * (pg_restore --clean --if-exists: objects in the dump are dropped and recreated; others stay).
 */
export const restorePgLogical = defineAction({
  params: z
    .object({
      set: z.string().min(1),
      target: z.string().optional(),
      credential: z.string().optional(),
      database: z.string().regex(DB_NAME, 'a plain database name (letters, digits, _)'),
      clean: z.boolean().default(false),
      jobs: z.number().int().min(1).max(32).default(2),
      /** The non-superuser role pg_restore connects as (default lifeboat_restore), owner of a new database; see restoreRoleFor. */
      role: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a plain role name').optional(),
      /** Restore with the admin connection's own (superuser) rights: confirmed by typing superuser:<database>. */
      as_superuser: z.boolean().default(false),
    })
    .strict(),
  describe: (p) => `restore ${p.set} into the database ${p.database}${p.clean ? ' (--clean: objects in the dump are replaced)' : ' (a new database)'} with pg_restore -j ${p.jobs}`,
  condition: (p, checkpoint, drill) => {
    const cp = (checkpoint ?? {}) as Checkpoint;
    if (drill) return `the scratch database ${p.database} is partial; it is removed with the scratch server when the run ends`;
    if (cp.created) return `the database ${p.database} was created by this run and is partially restored: resume to drop and redo it, or drop it by hand`;
    return p.clean ? `the database ${p.database} may be partially restored (objects of the dump dropped and not yet recreated): resume to run the restore again` : `the database ${p.database} was not created yet: nothing on the target changed`;
  },
  async run(p, ctx) {
    const cp = { ...((ctx.checkpoint ?? {}) as Checkpoint) };
    const started = Date.now();
    const copy = await openSetCopy(ctx.deps.catalog, p.set, ctx.deps.openMedium);
    const admin = await resolvePgTarget(ctx, p.target, p.credential, 'postgres');
    const target: PgTarget = { ...admin, database: p.database, url: admin.url.replace(/\/postgres$/, `/${encodeURIComponent(p.database)}`) };
    const facts = await serverFacts(admin);
    // Chosen by the dump's pg_dump version, not the server's: a newer pg_restore restores into an older server.
    const pgRestore = await pgRestoreFor(dumpToolMajor(copy.manifest.source), ctx.deps.settings.pgBinDir || undefined);
    if (p.as_superuser && !ctx.drill && ctx.confirmation !== `superuser:${p.database}`) {
      throw new ConfirmationNeeded(`Restoring ${p.database} as a superuser lets the dump's code run with those rights on ${admin.host} (COPY … TO PROGRAM, server files).`, `superuser:${p.database}`, ctx.confirmation !== null);
    }
    const exists = await databaseExists(admin, p.database);
    let clean = false;
    if (exists && cp.created === p.database) {
      ctx.log('info', `dropping ${p.database}, left partial by the interrupted attempt of this run`);
      await withPgClient(admin, (c) => c.query(`DROP DATABASE ${quoteIdent(p.database)} WITH (FORCE)`));
    } else if (exists) {
      if (ctx.confirmation !== p.database && !(p.as_superuser && ctx.confirmation === `superuser:${p.database}`)) {
        throw new ConfirmationNeeded(`The database ${p.database} already exists on ${admin.host}:${admin.port}. Restoring into it replaces its objects that are in the dump.`, p.database, ctx.confirmation !== null);
      }
      if (!p.clean) {
        throw new LifeboatError('PRECONDITION_FAILED', `The database ${p.database} already exists and the step does not say clean: true.`, {
          hint: 'Restore into a new database (another name), or set clean: true in the step to replace the objects in the dump (pg_restore --clean --if-exists).',
        });
      }
      clean = true;
    }
    if (!clean) {
      // Persisted before the effect: a crash right after CREATE DATABASE still knows it is ours.
      cp.created = p.database;
      ctx.saveCheckpoint(cp);
      await withPgClient(admin, (c) => c.query(`CREATE DATABASE ${quoteIdent(p.database)}`));
    }
    const dump = await decodeDump(ctx, copy, cp);
    ctx.log('info', `pg_restore -j ${p.jobs} into ${p.database} on ${admin.host}:${admin.port}`);
    const restoreStarted = Date.now();
    const list = spawnTool(pgRestore.path, ['--list', dump.path], { what: 'pg_restore --list', signal: ctx.signal });
    let toc = '';
    list.child.stdout.setEncoding('utf8').on('data', (d: string) => (toc += d));
    await list.exited;
    const items = toc.split('\n').filter((l) => /^\d+;/.test(l)).length;
    ctx.progress({ itemsTotal: items, itemsDone: 0, bytesTotal: null, bytesDone: 0, current: p.database });
    const asRole = await restoreRoleFor(admin, p.database, { created: !clean, role: p.role, asSuperuser: p.as_superuser && !ctx.drill, scratch: ctx.drill });
    const forbidden = asRole.role ? await withPgClient(admin, (c) => forbiddenInstalls(c, toc)) : [];
    if (forbidden.length > 0) {
      await asRole.done();
      throw new LifeboatError('DB_RESTORE_FAILED', `The dump needs what a restore as ${asRole.role} does not install: ${forbidden.join(', ')}. Nothing of the dump was restored.`, {
        hint: `Only a superuser may install these. If you trust this set, restore with as_superuser: true (confirmed by typing superuser:${p.database}); a drill never does.`,
      });
    }
    ctx.log('info', `restoring ${asRole.note}`);
    const args = ['--verbose', '--no-owner', '--no-privileges', '--exit-on-error', '-j', String(p.jobs), '-h', admin.host, '-p', String(admin.port), '-d', p.database];
    if (asRole.user) args.push('-U', asRole.user);
    if (clean) args.push('--clean', '--if-exists');
    if (dump.format === 'directory') args.push('-Fd');
    args.push(dump.path);
    const restore = spawnTool(pgRestore.path, args, { env: { ...pgToolEnv(admin), ...asRole.env }, signal: ctx.signal, what: 'pg_restore', code: 'DB_RESTORE_FAILED' });
    let done = 0;
    restore.child.stdout.resume();
    let stderr = '';
    restore.child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-16_000);
      done += (d.toString('utf8').match(/processing item|finished item/g) ?? []).length;
      ctx.progress({ itemsDone: Math.min(done, items) });
    });
    await restore.exited
      .catch((e: unknown) => {
        // Name what the dump tried (its ERROR line), not pg_restore's last words about its workers.
        throw e instanceof LifeboatError && e.code === 'DB_RESTORE_FAILED' ? new LifeboatError('DB_RESTORE_FAILED', `pg_restore ${asRole.role ? `as ${asRole.role} ` : ''}failed: ${restoreFailureText(stderr)}`) : e;
      })
      .finally(() => asRole.done().catch((e: unknown) => ctx.log('warn', `could not take the login of ${asRole.role} back: ${e instanceof Error ? e.message : String(e)}`)));
    const restoreMs = Date.now() - restoreStarted;
    const tables = await withPgClient(target, async (c) => Number((await c.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")).rows[0]?.n ?? 0));
    // The decoded dump is plaintext data: removed as soon as it has served.
    await rm(dump.format === 'custom' ? dump.path : join(dump.path, '..'), { recursive: true, force: true });
    return {
      set: copy.key,
      set_created_at: copy.manifest.created_at,
      host: admin.host,
      port: admin.port,
      database: p.database,
      url: target.url,
      clean,
      jobs: p.jobs,
      toc_items: items,
      tables,
      dump_bytes: dump.bytes,
      restore_ms: restoreMs,
      duration_ms: Date.now() - started,
      restore_bytes_per_second: restoreMs > 0 ? Math.round((dump.bytes * 1000) / restoreMs) : null,
      server_version: facts.version,
      pg_restore: pgRestore.version,
      restored_as: asRole.role ?? 'superuser',
    };
  },
});
