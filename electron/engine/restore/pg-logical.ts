import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { spawnTool } from '../process/child';
import { LifeboatError, mapError } from '../errors';
import { pgToolEnv, serverFacts, withPgClient, type PgTarget } from '../postgres/connection';
import { dumpToolMajor, pgRestoreFor } from '../postgres/pg-tools';
import { forbiddenInstalls, restoreFailureText, restoreRoleFor } from '../postgres/restore-role';
import { openTrustedCopy, type TrustedSetCopy } from './set-access';
import { ConfirmationNeeded, type RestoreContext } from './context';
import { metaCommandRefusal, SqlMetaCommandGuard } from '../postgres/sql-guard';
import { findExecutable } from '../tools/tools';
import { checkDumpFolder } from './dump-toc';
import { extractTar } from './extract';
import type { Artifact } from '../format/manifest';
import { DeepPass } from './deep-check';
import { openVerifiedArtifact, untilVerified } from './gate';
import { dumpMembersOf, type DumpMember } from './dump-members';
import { fromTheSet, overlapRestore } from './pg-dir-overlap';
import {
  restoreSecrets,
  openSeedCopy,
  openSeedPlaintext,
  OwnershipFilter,
  logExpected,
  seedLayers,
  type SeedCopy,
} from './seed-copy';

/**
 * The server's maintenance connection (database postgres) a restore works through: in a drill the
 * run's scratch server, else the step's target with its password from the keychain (the runbook
 * action resolves it, runbooks/actions/pg-target.ts). Called only after the set passed the trust rule.
 */
export type AdminTarget = () => Promise<PgTarget>;

export const DB_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export interface PgLogicalParams {
  set: string;
  database: string;
  clean: boolean;
  jobs: number;
  /** Restore a set that is unsigned or signed by a key that is not pinned (journaled with the step's parameters). */
  allow_unsigned: boolean;
  /** The non-superuser role pg_restore connects as (default lifeboat_restore), owner of a new database (postgres/restore-role.ts). */
  role?: string;
  /** Restore with the admin connection's own (superuser) rights: confirmed by typing superuser:<database>; never in a drill. */
  as_superuser: boolean;
  /**
   * Make the set's deep check in the same pass as the restore (restore/deep-check.ts): the verdict
   * is recorded at deep level, and a set that fails stops the step with the verify error before
   * the target is touched. A runbook's `verify.set` with `one_pass: true` leaves the deep check to this.
   */
  deep_check?: boolean;
}

export interface PgLogicalCheckpoint {
  /** The decoded dump is complete in the work dir (it passed the gate). */
  decoded?: { path: string; sha256: string; bytes: number };
  /** This run created the database (so a resume may drop and recreate it). */
  created?: string;
  /** The database this run created was dropped after a failure: the target is as it was. */
  dropped?: string;
}

/** What a stopped restore left on the target, for the step's condition: true in every branch. */
export function pgLogicalCondition(
  p: Pick<PgLogicalParams, 'database' | 'clean'>,
  checkpoint: unknown,
  drill: boolean,
): string {
  const cp = (checkpoint ?? {}) as PgLogicalCheckpoint;
  // What happened, from the checkpoint written before each effect: a drill that failed before
  // CREATE DATABASE (the set refused, the dump unreadable) restored nothing.
  if (drill) {
    const scratch = 'the scratch server is removed when the run ends';
    if (cp.created)
      return `the scratch database ${p.database} was created by this run and may be partially restored; ${scratch}`;
    if (cp.dropped)
      return `the scratch database ${p.database} that this run created was dropped after the failure: nothing of the set is left restored; ${scratch}`;
    return `nothing was restored: the scratch database ${p.database} was not created; ${scratch}`;
  }
  if (cp.created)
    return `the database ${p.database} was created by this run and is partially restored: resume to drop and redo it, or drop it by hand`;
  if (cp.dropped)
    return `the database ${p.database} that this run created was dropped after the failure: the target is as it was`;
  return p.clean
    ? `the database ${p.database} may be partially restored (objects of the dump dropped and not yet recreated): resume to run the restore again`
    : `the database ${p.database} was not created: nothing on the target changed`;
}

/** A directory-format dump was tarred as <dir name>/…: pg_restore reads that inner folder. */
async function dumpPath(target: string, format: 'custom' | 'directory'): Promise<string> {
  if (format === 'custom') return target;
  const [inner] = await readdir(target);
  if (!inner) throw new LifeboatError('FORMAT_INVALID', 'The directory-format dump is empty.');
  return join(target, inner);
}

/**
 * Decode the dump into the run's work dir through the gate: written to a staging name (mode 600,
 * the folder 700) and renamed only once every check passed. Skipped when a checkpoint of an
 * interrupted attempt says the checked dump is there.
 */
async function decodeDump(
  ctx: RestoreContext,
  copy: TrustedSetCopy,
  cp: PgLogicalCheckpoint,
  deep: DeepPass | null,
): Promise<{
  path: string;
  dir: string;
  format: 'custom' | 'directory';
  bytes: number;
  artifact: Artifact;
  startedAt: number;
}> {
  const artifact = copy.manifest.artifacts.find((a) => a.role === 'pg-dump' || a.role === 'pg-dump-dir');
  if (!artifact)
    throw new LifeboatError(
      'FORMAT_INVALID',
      `${copy.key} holds no PostgreSQL dump (it is a ${copy.manifest.kind} set).`,
    );
  const format = artifact.role === 'pg-dump' ? 'custom' : 'directory';
  const target = join(ctx.workDir, `${ctx.stepId}.${format === 'custom' ? 'dump' : 'dir'}`);
  const startedAt = Date.now();
  if (cp.decoded && cp.decoded.sha256 === artifact.plain_sha256 && existsSync(target)) {
    ctx.log('info', `the dump decoded by the interrupted attempt passed the gate: reusing it`);
    return {
      path: await dumpPath(target, format),
      dir: target,
      format,
      bytes: artifact.plain_bytes,
      artifact,
      startedAt,
    };
  }
  const staging = `${target}.partial`;
  await rm(target, { recursive: true, force: true });
  await rm(staging, { recursive: true, force: true });
  ctx.log('info', `decoding ${copy.key}/${artifact.path} from ${copy.medium.location}`);
  ctx.progress({ bytesTotal: artifact.plain_bytes, bytesDone: 0, current: artifact.path });
  const v = await openVerifiedArtifact(copy, artifact, {
    identities: ctx.deps.identities,
    trust: copy.trust,
    signal: ctx.signal,
    onPlainBytes: (n) => ctx.progress({ bytesDone: n }),
  });
  try {
    if (format === 'custom') await untilVerified(v, pipeline(v.stream, createWriteStream(staging, { mode: 0o600 })));
    else {
      await mkdir(staging, { recursive: true, mode: 0o700 });
      await untilVerified(v, extractTar(v.stream, [], staging, { accept: () => true, signal: ctx.signal }));
      await checkDumpFolder(await dumpPath(staging, format), `${copy.key}/${artifact.path}`);
    }
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    const err = mapError(e);
    if (err.code === 'CANCELLED') throw err;
    if (deep) deep.failed(artifact, startedAt, err);
    throw new LifeboatError(err.code, `${err.message} Nothing was restored.`, {
      hint: err.hint ?? 'Restore another copy or another set; verify this one at deep level to see what is wrong.',
      cause: e,
    });
  }
  await rename(staging, target);
  cp.decoded = { path: target, sha256: artifact.plain_sha256, bytes: artifact.plain_bytes };
  ctx.saveCheckpoint(cp);
  return {
    path: await dumpPath(target, format),
    dir: target,
    format,
    bytes: artifact.plain_bytes,
    artifact,
    startedAt,
  };
}

/** The artifacts of the set besides its dump (a logical set has none today), read once through the gate for the deep check. */
async function drainOthers(ctx: RestoreContext, copy: TrustedSetCopy, dump: Artifact, deep: DeepPass): Promise<void> {
  for (const a of copy.manifest.artifacts) {
    if (a === dump) continue;
    const t = Date.now();
    try {
      const v = await openVerifiedArtifact(copy, a, {
        identities: ctx.deps.identities,
        trust: copy.trust,
        signal: ctx.signal,
      });
      v.stream.resume();
      await v.verified;
    } catch (e) {
      deep.failed(a, t, e);
    }
    deep.passed(a, t, 'read through the gate');
  }
}

/** `pg_restore --list` of the decoded dump: its table of contents, or the error pg_restore gave. */
async function listDump(pgRestore: string, path: string, signal: AbortSignal): Promise<string> {
  const list = spawnTool(pgRestore, ['--list', path], {
    what: 'pg_restore --list',
    signal,
    code: 'DB_RESTORE_FAILED',
  });
  let toc = '';
  let stderr = '';
  list.child.stdout.setEncoding('utf8').on('data', (d: string) => (toc += d));
  list.child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4000)));
  try {
    await list.exited;
  } catch (e) {
    const err = mapError(e);
    if (err.code !== 'DB_RESTORE_FAILED') throw err;
    throw new LifeboatError('DB_RESTORE_FAILED', `pg_restore --list failed: ${restoreFailureText(stderr)}`, {
      cause: e,
    });
  }
  return toc;
}

async function databaseExists(admin: PgTarget, name: string): Promise<boolean> {
  return withPgClient(
    admin,
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1,
  );
}

/**
 * `pg_restore -j` of a logical set into a target (restore.pg-logical and `lifeboat restore pg`).
 * Order: the manifest's trust, the typed confirmation of an existing database, the dump decoded
 * through the gate into the run's folder, and only then the target is touched. A new database
 * is created by default (recorded before it is made, so an interrupted restore is dropped and
 * redone on resume); a restore that fails drops the database it created, and says so, or says
 * that and why it was left. The decoded dump is removed on every way out but a crash (then the
 * resume reuses it, or the run's cancel removes it with the run's folder).
 */
export async function restorePgLogical(
  p: PgLogicalParams,
  ctx: RestoreContext,
  adminTarget: AdminTarget,
): Promise<Record<string, unknown>> {
  const cp: PgLogicalCheckpoint = { ...((ctx.checkpoint ?? {}) as PgLogicalCheckpoint) };
  const started = Date.now();
  // A seed script's dump (plain SQL or -Fc, maybe gzip/zstd/openssl enc): its own branch below.
  const seed = await openSeedCopy(ctx.deps.catalog, p.set, {
    allowUnsigned: p.allow_unsigned,
    open: ctx.deps.openMedium,
  });
  if (seed) return restoreSeedDump(p, seed, cp, ctx, adminTarget);
  const copy = await openTrustedCopy(ctx.deps.catalog, p.set, {
    allowUnsigned: p.allow_unsigned,
    open: ctx.deps.openMedium,
  });
  if (copy.trust.state === 'accepted-unsigned')
    ctx.log('warn', `restoring an untrusted set because the step allows it: ${copy.trust.why}`);
  const admin = await adminTarget();
  const target: PgTarget = {
    ...admin,
    database: p.database,
    url: admin.url.replace(/\/postgres$/, `/${encodeURIComponent(p.database)}`),
  };
  const facts = await serverFacts(admin);
  // Chosen by the dump's pg_dump version, not the server's: a newer pg_restore restores into an older server.
  const pgRestore = await pgRestoreFor(dumpToolMajor(copy.manifest.source), ctx.deps.settings.pgBinDir || undefined);
  if (p.as_superuser && !ctx.drill && ctx.confirmation !== `superuser:${p.database}`) {
    throw new ConfirmationNeeded(
      `Restoring ${p.database} as a superuser lets the dump's code run with those rights on ${admin.host} (COPY … TO PROGRAM, server files).`,
      `superuser:${p.database}`,
      ctx.confirmation !== null,
    );
  }
  const exists = await databaseExists(admin, p.database);
  const ours = exists && cp.created === p.database;
  let clean = false;
  if (exists && !ours) {
    if (ctx.confirmation !== p.database && !(p.as_superuser && ctx.confirmation === `superuser:${p.database}`)) {
      throw new ConfirmationNeeded(
        `The database ${p.database} already exists on ${admin.host}:${admin.port}. Restoring into it replaces its objects that are in the dump.`,
        p.database,
        ctx.confirmation !== null,
      );
    }
    if (!p.clean) {
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `The database ${p.database} already exists and the step does not say clean: true.`,
        {
          hint: 'Restore into a new database (another name), or set clean: true in the step (lifeboat restore pg: --confirm-overwrite <database>) to replace the objects in the dump (pg_restore --clean --if-exists).',
        },
      );
    }
    clean = true;
  }
  const deep = p.deep_check ? new DeepPass(ctx.deps.catalog, copy) : null;
  if (deep) {
    ctx.log('info', `deep check of ${copy.key} in one pass with the restore: its artifacts are read once`);
    await deep.checkSet(ctx.deps.identities);
  }
  // A directory dump with signed member hashes, into a new database: restored while it decodes
  // (LIFEBOAT_DIR_OVERLAP=0: decoded whole first, as before; the benchmark compares the two).
  const dirDump = copy.manifest.artifacts.find((a) => a.role === 'pg-dump-dir');
  const members = dirDump && !clean && process.env.LIFEBOAT_DIR_OVERLAP !== '0' ? dumpMembersOf(copy.manifest) : null;
  if (dirDump && members)
    return restoreOverlapped({
      p,
      ctx,
      copy,
      cp,
      admin,
      target,
      facts,
      pgRestore,
      deep,
      ours,
      started,
      dirDump,
      members,
    });
  const dump = await decodeDump(ctx, copy, cp, deep);
  const state = { touched: false };
  let verification: ReturnType<DeepPass['ok']> | null = null;
  try {
    // The table of contents before the target is touched: a dump pg_restore cannot read changes nothing.
    let toc: string;
    try {
      toc = await listDump(pgRestore.path, dump.path, ctx.signal);
    } catch (e) {
      // pg_restore --list is how a deep verification reads a custom-format dump: its failure is that verdict.
      if (deep && dump.format === 'custom') deep.failed(dump.artifact, dump.startedAt, e);
      throw e;
    }
    const items = toc.split('\n').filter((l) => /^\d+;/.test(l)).length;
    if (deep) {
      deep.passed(
        dump.artifact,
        dump.startedAt,
        dump.format === 'custom'
          ? `pg_restore --list read ${items} table-of-contents entries`
          : 'tar entries extracted safely',
      );
      await drainOthers(ctx, copy, dump.artifact, deep);
      verification = deep.ok();
      ctx.log('info', `${copy.key} passed verification at deep level (${verification.detail})`);
    }
    if (ours) {
      ctx.log('info', `dropping ${p.database}, left partial by the interrupted attempt of this run`);
      await withPgClient(admin, (c) => c.query(`DROP DATABASE ${quoteIdent(p.database)} WITH (FORCE)`));
    }
    if (!clean) {
      // Persisted before the effect: a crash right after CREATE DATABASE still knows it is ours.
      cp.created = p.database;
      delete cp.dropped;
      ctx.saveCheckpoint(cp);
      await withPgClient(admin, (c) => c.query(`CREATE DATABASE ${quoteIdent(p.database)}`));
    }
    ctx.log('info', `pg_restore -j ${p.jobs} into ${p.database} on ${admin.host}:${admin.port}`);
    const restoreStarted = Date.now();
    ctx.progress({ itemsTotal: items, itemsDone: 0, bytesTotal: null, bytesDone: 0, current: p.database });
    const asRole = await restoreRoleFor(admin, p.database, {
      created: !clean,
      role: p.role,
      asSuperuser: p.as_superuser && !ctx.drill,
      scratch: ctx.drill,
    });
    const forbidden = asRole.role ? await withPgClient(admin, (c) => forbiddenInstalls(c, toc)) : [];
    if (forbidden.length > 0) {
      await asRole.done();
      throw new LifeboatError(
        'DB_RESTORE_FAILED',
        `The dump needs what a restore as ${asRole.role} does not install: ${forbidden.join(', ')}. Nothing of the dump was restored.`,
        {
          hint: `Only a superuser may install these. If you trust this set, restore with as_superuser: true (confirmed by typing superuser:${p.database}; lifeboat restore pg --as-superuser ${p.database}); a drill never does.`,
        },
      );
    }
    ctx.log('info', `restoring ${asRole.note}`);
    const args = [
      '--verbose',
      '--no-owner',
      '--no-privileges',
      '--exit-on-error',
      '-j',
      String(p.jobs),
      '-h',
      admin.host,
      '-p',
      String(admin.port),
      '-d',
      p.database,
    ];
    if (asRole.user) args.push('-U', asRole.user);
    if (clean) args.push('--clean', '--if-exists');
    if (dump.format === 'directory') args.push('-Fd');
    args.push(dump.path);
    state.touched = true;
    const restore = spawnTool(pgRestore.path, args, {
      env: { ...pgToolEnv(admin), ...asRole.env },
      signal: ctx.signal,
      what: 'pg_restore',
      code: 'DB_RESTORE_FAILED',
    });
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
        throw e instanceof LifeboatError && e.code === 'DB_RESTORE_FAILED'
          ? new LifeboatError(
              'DB_RESTORE_FAILED',
              `pg_restore ${asRole.role ? `as ${asRole.role} ` : ''}failed: ${restoreFailureText(stderr)}`,
            )
          : e;
      })
      .finally(() =>
        asRole
          .done()
          .catch((e: unknown) =>
            ctx.log(
              'warn',
              `could not take the login of ${asRole.role} back: ${e instanceof Error ? e.message : String(e)}`,
            ),
          ),
      );
    const restoreMs = Date.now() - restoreStarted;
    return {
      ...(await restoredFacts(copy, admin, target)),
      clean,
      jobs: p.jobs,
      toc_items: items,
      dump_bytes: dump.bytes,
      restore_ms: restoreMs,
      duration_ms: Date.now() - started,
      restore_bytes_per_second: restoreMs > 0 ? Math.round((dump.bytes * 1000) / restoreMs) : null,
      server_version: facts.version,
      pg_restore: pgRestore.version,
      restored_as: asRole.role ?? 'superuser',
      ...(verification ? { verification } : {}),
    };
  } catch (e) {
    throw await afterFailure(e, { ...p, clean }, admin, cp, ctx, state.touched);
  } finally {
    // The decoded dump is plaintext data: removed as soon as it has served, or failed to.
    await rm(dump.dir, { recursive: true, force: true });
    if (cp.decoded) {
      delete cp.decoded;
      ctx.saveCheckpoint(cp);
    }
  }
}

/** The tables a restore left in the target database, outside the system schemas. */
async function countTables(target: PgTarget): Promise<number> {
  return withPgClient(target, async (c) =>
    Number(
      (
        await c.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        )
      ).rows[0]?.n ?? 0,
    ),
  );
}

/** What a restore of a Lifeboat set reports first: the set, its trust, the target, and the tables now in it. */
async function restoredFacts(
  copy: TrustedSetCopy,
  admin: PgTarget,
  target: PgTarget,
): Promise<Record<string, unknown>> {
  const tables = await countTables(target);
  return {
    set: copy.key,
    set_created_at: copy.manifest.created_at,
    trust:
      copy.trust.state === 'signed'
        ? `signed by ${copy.trust.keyId} (${copy.trust.label})`
        : `NOT TRUSTED, restored by explicit override: ${copy.trust.why}`,
    host: admin.host,
    port: admin.port,
    database: target.database,
    url: target.url,
    tables,
  };
}

/**
 * restorePgLogical for a directory dump whose members are signed, into a database it creates
 * (pg-dir-overlap.ts): pg_restore runs while the dump decodes. The database is created once toc.dat
 * passed; a failure of any check stops every pg_restore and drops it (afterFailure), and with
 * deep_check the set's verdict is recorded as a deep verification records it.
 */
async function restoreOverlapped(o: {
  p: PgLogicalParams;
  ctx: RestoreContext;
  copy: TrustedSetCopy;
  cp: PgLogicalCheckpoint;
  admin: PgTarget;
  target: PgTarget;
  facts: Awaited<ReturnType<typeof serverFacts>>;
  pgRestore: Awaited<ReturnType<typeof pgRestoreFor>>;
  deep: DeepPass | null;
  ours: boolean;
  started: number;
  dirDump: Artifact;
  members: DumpMember[];
}): Promise<Record<string, unknown>> {
  const { p, ctx, copy, cp, admin, deep, dirDump } = o;
  const state = { touched: false };
  let asRole: Awaited<ReturnType<typeof restoreRoleFor>> | null = null;
  const restoreStarted = Date.now();
  let verification: ReturnType<DeepPass['ok']> | null = null;
  let items: number;
  try {
    try {
      ({ items } = await overlapRestore({
        ctx,
        copy,
        artifact: dirDump,
        members: o.members,
        pgRestore: o.pgRestore.path,
        jobs: p.jobs,
        prepare: async (toc) => {
          if (o.ours) {
            ctx.log('info', `dropping ${p.database}, left partial by the interrupted attempt of this run`);
            await withPgClient(admin, (c) => c.query(`DROP DATABASE ${quoteIdent(p.database)} WITH (FORCE)`));
          }
          // Persisted before the effect: a crash right after CREATE DATABASE still knows it is ours.
          cp.created = p.database;
          delete cp.dropped;
          ctx.saveCheckpoint(cp);
          await withPgClient(admin, (c) => c.query(`CREATE DATABASE ${quoteIdent(p.database)}`));
          state.touched = true;
          const role = await restoreRoleFor(admin, p.database, {
            created: true,
            role: p.role,
            asSuperuser: p.as_superuser && !ctx.drill,
            scratch: ctx.drill,
          });
          asRole = role;
          const forbidden = role.role ? await withPgClient(admin, (c) => forbiddenInstalls(c, toc)) : [];
          if (forbidden.length > 0)
            throw new LifeboatError(
              'DB_RESTORE_FAILED',
              `The dump needs what a restore as ${role.role} does not install: ${forbidden.join(', ')}. Nothing of the dump was restored.`,
              {
                hint: `Only a superuser may install these. If you trust this set, restore with as_superuser: true (confirmed by typing superuser:${p.database}; lifeboat restore pg --as-superuser ${p.database}); a drill never does.`,
              },
            );
          ctx.log(
            'info',
            `pg_restore into ${p.database} on ${admin.host}:${admin.port} ${role.note}, while the dump decodes`,
          );
          const args = ['--no-owner', '--no-privileges', '--exit-on-error', '-h', admin.host, '-p', String(admin.port)];
          args.push('-d', p.database, ...(role.user ? ['-U', role.user] : []));
          return { args, env: { ...pgToolEnv(admin), ...role.env } };
        },
      }));
    } catch (e) {
      // A check of the set that failed is the deep verdict (recorded); a failure of the restore itself is not.
      if (deep && fromTheSet(e)) deep.failed(dirDump, o.started, e);
      throw e;
    }
    if (deep) {
      deep.passed(dirDump, o.started, `${o.members.length} dump files matched their signed SHA-256 and sizes`);
      await drainOthers(ctx, copy, dirDump, deep);
      verification = deep.ok();
      ctx.log('info', `${copy.key} passed verification at deep level (${verification.detail})`);
    }
  } catch (e) {
    throw await afterFailure(e, { ...p, clean: false }, admin, cp, ctx, state.touched);
  } finally {
    const role = asRole as Awaited<ReturnType<typeof restoreRoleFor>> | null;
    await role
      ?.done()
      .catch((e: unknown) => ctx.log('warn', `could not take the login of ${role.role} back: ${mapError(e).message}`));
  }
  const restoreMs = Date.now() - restoreStarted;
  return {
    ...(await restoredFacts(copy, admin, o.target)),
    clean: false,
    jobs: p.jobs,
    toc_items: items,
    dump_bytes: dirDump.plain_bytes,
    restore_ms: restoreMs,
    duration_ms: Date.now() - o.started,
    restore_bytes_per_second: restoreMs > 0 ? Math.round((dirDump.plain_bytes * 1000) / restoreMs) : null,
    server_version: o.facts.version,
    pg_restore: o.pgRestore.version,
    restored_as: (asRole as Awaited<ReturnType<typeof restoreRoleFor>> | null)?.role ?? 'superuser',
    overlapped: true,
    ...(verification ? { verification } : {}),
  };
}

/** A failed restore drops the database it created; the error says what the target was left with. */
async function afterFailure(
  e: unknown,
  p: PgLogicalParams,
  admin: PgTarget,
  cp: PgLogicalCheckpoint,
  ctx: RestoreContext,
  touched: boolean,
): Promise<LifeboatError> {
  const err = mapError(e);
  let left: string;
  if (cp.created === p.database) {
    try {
      await withPgClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(p.database)} WITH (FORCE)`));
      delete cp.created;
      cp.dropped = p.database;
      ctx.saveCheckpoint(cp);
      left = `The database ${p.database} that this restore created was dropped: the target is as it was.`;
    } catch (d) {
      left = `The database ${p.database} that this restore created was left on the target, partially restored: dropping it failed (${mapError(d).message}). Drop it by hand, or resume to drop and redo it.`;
    }
  } else if (!touched)
    // clean: the database existed before this restore (a new one that was never made left nothing).
    left = p.clean
      ? `The existing database ${p.database} was not changed.`
      : `The database ${p.database} was not created: the target is as it was.`;
  else
    left = `The existing database ${p.database} was restored into with --clean and may be partial: objects of the dump may be dropped and not recreated.`;
  if (err.code === 'CANCELLED') {
    ctx.log('warn', left);
    return err;
  }
  return new LifeboatError(err.code, `${err.message} ${left}`, { hint: err.hint, cause: e });
}

/**
 * A seed script's dump into a NEW database: its bytes hashed against the seed manifest's hash or
 * the one recorded at its first verification (foreign files carry no signature), decoded into the
 * run's folder (mode 600) and, for plain SQL, read line by line for psql meta-commands outside
 * COPY data before psql runs anything (postgres/sql-guard.ts: `\!` is a shell command). Then
 * replayed as the non-superuser restore role: psql -v ON_ERROR_STOP=1 -X for SQL, pg_restore for
 * a custom-format dump. A failure drops the database it created.
 */
async function restoreSeedDump(
  p: PgLogicalParams,
  copy: SeedCopy,
  cp: PgLogicalCheckpoint,
  ctx: RestoreContext,
  adminTarget: AdminTarget,
): Promise<Record<string, unknown>> {
  const started = Date.now();
  if (copy.kind !== 'pg-logical') {
    throw new LifeboatError(
      'FORMAT_INVALID',
      `${copy.key} (${copy.path}) is a seed script's ${copy.kind} set, not a database dump.`,
      {
        hint: copy.role.startsWith('pg-globals')
          ? 'pg_dumpall globals create roles: replay them by hand as a superuser (psql -X -f <file>) after reading them.'
          : 'Restore it with lifeboat restore files.',
      },
    );
  }
  logExpected(copy, (l, m) => ctx.log(l, m));
  const admin = await adminTarget();
  const target: PgTarget = {
    ...admin,
    database: p.database,
    url: admin.url.replace(/\/postgres$/, `/${encodeURIComponent(p.database)}`),
  };
  const facts = await serverFacts(admin);
  if (p.as_superuser && !ctx.drill && ctx.confirmation !== `superuser:${p.database}`) {
    throw new ConfirmationNeeded(
      `Restoring ${p.database} as a superuser lets the dump's code run with those rights on ${admin.host}.`,
      `superuser:${p.database}`,
      ctx.confirmation !== null,
    );
  }
  const ours = cp.created === p.database;
  if ((await databaseExists(admin, p.database)) && !ours) {
    throw new LifeboatError(
      'PRECONDITION_FAILED',
      `The database ${p.database} already exists: a seed script's dump is restored into a new database only.`,
      {
        hint: 'Give another database name; compare and move the data by hand once it is restored.',
      },
    );
  }
  const custom = seedLayers(copy.role).base === 'pg-dump';
  const pgBinDir = ctx.deps.settings.pgBinDir || undefined;
  const psql = custom ? null : findExecutable('psql', { preferDirs: pgBinDir ? [pgBinDir] : [], pg: true });
  if (!custom && !psql)
    throw new LifeboatError('TOOL_MISSING', 'psql was not found (it replays plain SQL dumps).', {
      hint: 'Install the PostgreSQL client tools or set the tools directory.',
    });
  const pgRestore = custom ? await pgRestoreFor(null, pgBinDir) : null;
  await mkdir(ctx.workDir, { recursive: true, mode: 0o700 });
  const file = join(ctx.workDir, `${ctx.stepId}.${custom ? 'dump' : 'sql'}`);
  const state = { touched: false };
  const owned = custom ? null : new OwnershipFilter();
  try {
    ctx.log('info', `decoding ${copy.path} from ${copy.medium.location}`);
    ctx.progress({ bytesTotal: copy.bytes, bytesDone: 0, current: copy.path });
    const guard = custom ? null : new SqlMetaCommandGuard();
    const { source, stages } = await openSeedPlaintext(copy, {
      secrets: restoreSecrets(ctx.deps),
      onBytes: (n) => ctx.progress({ bytesDone: n }),
    });
    try {
      await pipeline(
        [source, ...stages, ...(guard && owned ? [owned, guard] : []), createWriteStream(file, { mode: 0o600 })],
        { signal: ctx.signal },
      );
    } catch (e) {
      const err = mapError(e);
      if (err.code === 'CANCELLED') throw err;
      throw new LifeboatError(err.code, `${copy.path}: ${err.message} Nothing was restored.`, {
        hint: err.hint ?? 'Verify it at deep level (lifeboat verify --level deep) to see what is wrong.',
        cause: e,
      });
    }
    if (guard && guard.found.length > 0) throw metaCommandRefusal(guard.found, `The SQL dump ${copy.path}`);
    if (owned?.dropped)
      ctx.log(
        'info',
        `${owned.dropped} ownership and privilege statements left out (as pg_restore --no-owner --no-privileges)`,
      );
  } catch (e) {
    await rm(file, { force: true });
    const err = mapError(e);
    if (err.code === 'CANCELLED') throw err;
    throw new LifeboatError(
      err.code,
      `${err.message} The database ${p.database} was not created: nothing on the target changed.`,
      { hint: err.hint, cause: e },
    );
  }
  try {
    if (ours)
      await withPgClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(p.database)} WITH (FORCE)`));
    cp.created = p.database;
    delete cp.dropped;
    ctx.saveCheckpoint(cp);
    await withPgClient(admin, (c) => c.query(`CREATE DATABASE ${quoteIdent(p.database)}`));
    const asRole = await restoreRoleFor(admin, p.database, {
      created: true,
      role: p.role,
      asSuperuser: p.as_superuser && !ctx.drill,
      scratch: ctx.drill,
    });
    ctx.log('info', `restoring ${copy.path} into ${p.database} ${asRole.note}`);
    const conn = [
      '-h',
      admin.host,
      '-p',
      String(admin.port),
      '-d',
      p.database,
      ...(asRole.user ? ['-U', asRole.user] : []),
    ];
    const args = custom
      ? ['--no-owner', '--no-privileges', '--exit-on-error', '-j', String(p.jobs), ...conn, file]
      : ['-v', 'ON_ERROR_STOP=1', '--no-psqlrc', '-X', '-q', ...conn, '-f', file];
    const tool = custom ? pgRestore!.path : psql!;
    const restoreStarted = Date.now();
    state.touched = true;
    const run = spawnTool(tool, args, {
      env: { ...pgToolEnv(admin), ...asRole.env, PGOPTIONS: '' },
      signal: ctx.signal,
      what: custom ? 'pg_restore' : 'psql',
      code: 'DB_RESTORE_FAILED',
    });
    run.child.stdout.resume();
    let stderr = '';
    run.child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-16_000)));
    await run.exited
      .catch((e: unknown) => {
        throw e instanceof LifeboatError && e.code === 'DB_RESTORE_FAILED'
          ? new LifeboatError(
              'DB_RESTORE_FAILED',
              `${custom ? 'pg_restore' : 'psql'} as ${asRole.role ?? 'superuser'} failed: ${restoreFailureText(stderr)}`,
            )
          : e;
      })
      .finally(() =>
        asRole
          .done()
          .catch((e: unknown) =>
            ctx.log('warn', `could not take the login of ${asRole.role} back: ${mapError(e).message}`),
          ),
      );
    const restoreMs = Date.now() - restoreStarted;
    const tables = await countTables(target);
    return {
      set: copy.key,
      file: copy.path,
      trust: copy.expected ? `${copy.trust}; bytes matched the SHA-256 from ${copy.expected.source}` : copy.trust,
      host: admin.host,
      port: admin.port,
      database: p.database,
      url: target.url,
      clean: false,
      tables,
      dump_bytes: copy.bytes,
      restore_ms: restoreMs,
      duration_ms: Date.now() - started,
      server_version: facts.version,
      ...(pgRestore ? { pg_restore: pgRestore.version } : { psql }),
      restored_as: asRole.role ?? 'superuser',
    };
  } catch (e) {
    throw await afterFailure(e, { ...p, clean: false }, admin, cp, ctx, state.touched);
  } finally {
    await rm(file, { force: true });
  }
}
