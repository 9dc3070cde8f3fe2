import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { exitCodeFor } from '../../../shared/errors';
import type { Engine } from '../../engine/engine';
import { LifeboatError } from '../../engine/errors';
import { parsePgUrl } from '../../engine/postgres/connection';
import { parseRunbook } from '../../engine/runbooks/format';
import { defaultOperator, runEngineFor, type RunEngine, type RunRecord } from '../../engine/runbooks/runner';
import { withCliEngine } from '../engine';
import { secretFilesOf } from '../foreign-options';
import { readIdentities } from '../keys-io';
import { formatBytes, formatDuration, printJson, type CliIo } from '../output';
import { runAsJob } from '../run-job';
import type {
  RestoreCmdOptions,
  RestoreFilesOptions,
  RestoreMysqlOptions,
  RestorePgOptions,
  RestoreRedisOptions,
} from './restore';
import { parseMysqlUrl } from '../../engine/mysql/connection';
import { assertAccount } from '../../engine/credentials/credential-store';

/**
 * `lifeboat restore files|pg`: each is a short run of a hidden built-in runbook (one restore
 * step, then the report), driven non-interactively. So the restore is the runbook step's own
 * code, journaled (parameters, an --allow-unsigned override, every transition), resumable with
 * `lifeboat run --resume <run>` after a crash and ended with `lifeboat run --cancel`.
 */

const OBJECTIVES = { rto: '4h', rpo: '24h' };

function filesRunbook(o: { paths: string[]; keepExisting: boolean; allowUnsigned: boolean }): string {
  return JSON.stringify({
    id: 'restore-files',
    title: 'Restore files (lifeboat restore files)',
    description:
      'Started by lifeboat restore files: the set, checked through the gate, restored into a folder through a staging folder, then the report.',
    level: 1,
    objectives: OBJECTIVES,
    inputs: [
      { id: 'set', type: 'backup-set', label: 'The files or config set' },
      { id: 'dir', type: 'directory', label: 'The folder to restore into' },
    ],
    steps: [
      {
        id: 'restore',
        kind: 'action',
        title: 'Restore the files',
        action: 'restore.files',
        with: {
          set: '{{ inputs.set }}',
          into: '{{ inputs.dir }}',
          paths: o.paths,
          keep_existing: o.keepExisting,
          allow_unsigned: o.allowUnsigned,
        },
      },
      { id: 'report', kind: 'action', title: 'Write the recovery report', action: 'report.write' },
    ],
  });
}

function pgRunbook(o: {
  jobs: number;
  clean: boolean;
  allowUnsigned: boolean;
  role?: string | undefined;
  asSuperuser: boolean;
}): string {
  return JSON.stringify({
    id: 'restore-database',
    title: 'Restore a database (lifeboat restore pg)',
    description:
      'Started by lifeboat restore pg: the set, checked through the gate, restored with pg_restore -j into a new database (or a confirmed existing one), then the report.',
    level: 1,
    objectives: OBJECTIVES,
    inputs: [
      { id: 'set', type: 'backup-set', label: 'The pg-logical set' },
      { id: 'target', type: 'postgres-target', label: 'The PostgreSQL server' },
      { id: 'database', type: 'text', label: 'The database to restore into' },
    ],
    steps: [
      {
        id: 'restore',
        kind: 'action',
        title: 'Restore the database',
        action: 'restore.pg-logical',
        with: {
          set: '{{ inputs.set }}',
          target: '{{ inputs.target }}',
          database: '{{ inputs.database }}',
          jobs: o.jobs,
          clean: o.clean,
          allow_unsigned: o.allowUnsigned,
          as_superuser: o.asSuperuser,
          ...(o.role ? { role: o.role } : {}),
        },
      },
      { id: 'report', kind: 'action', title: 'Write the recovery report', action: 'report.write' },
    ],
  });
}

interface Drive {
  engine: Engine;
  io: CliIo;
  runner: RunEngine;
  run: RunRecord;
  operator: string;
  /** The typed confirmation the operator gave on the command line for a step that asks one, or why none was given. */
  confirm: (expect: string) => string | { refuse: string; hint?: string };
}

/** Advance the run to its end; a confirmation is answered from the flags or the run is ended with why. */
async function drive(d: Drive): Promise<RunRecord> {
  let run = await runAsJob(d.engine, d.io, { kind: 'restore', title: `${d.run.title} — run ${d.run.id}` }, (ctx) =>
    d.runner.advance(d.run.id, ctx),
  );
  for (let answered = false; run.status === 'waiting'; answered = true) {
    const stepId = run.state.runbook.steps.find((s) => run.state.steps[s.id]?.status === 'waiting')!.id;
    const need = run.state.steps[stepId]!.need!;
    const answer =
      need.type === 'confirm' && !answered
        ? d.confirm(need.expect)
        : { refuse: 'the step needs a person and this command runs without one' };
    if (typeof answer !== 'string') {
      await d.runner.cancel(d.run.id, answer.refuse, d.operator);
      throw new LifeboatError(
        'BAD_INPUT',
        `${need.type === 'confirm' ? need.prompt : 'The restore needs a person.'} Nothing was changed (run ${d.run.id} ended: ${answer.refuse}).`,
        answer.hint ? { hint: answer.hint } : {},
      );
    }
    try {
      d.runner.respond(d.run.id, stepId, { confirmation: answer }, d.operator);
    } catch (e) {
      await d.runner.cancel(d.run.id, 'the confirmation given on the command line does not match', d.operator);
      throw e;
    }
    run = await runAsJob(d.engine, d.io, { kind: 'restore', title: `${d.run.title} — run ${d.run.id}` }, (ctx) =>
      d.runner.advance(d.run.id, ctx),
    );
  }
  return run;
}

/** The run's outcome on stdout (or as JSON); a failed run becomes the step's coded error (its exit code). */
function finish(
  io: CliIo,
  run: RunRecord,
  json: boolean | undefined,
  line: (out: Record<string, unknown>) => string,
): void {
  const restore = run.state.steps.restore!;
  const report = run.state.steps.report?.output?.path;
  if (json)
    printJson(io, {
      ok: run.status === 'succeeded',
      run: run.id,
      status: run.status,
      output: restore.output,
      error: restore.error,
      condition: restore.condition,
      report: report ?? null,
      forecast: run.state.forecast,
      journal: run.state.journal,
    });
  if (run.status === 'succeeded') {
    if (!json) io.stdout.write(`${line(restore.output ?? {})}\n  run ${run.id}; report: ${String(report)}\n`);
    return;
  }
  const err = restore.error ?? { code: 'INTERNAL' as const, message: `The run ended ${run.status}.` };
  // A pg restore's error already says what it left on the target (dropped or why not).
  const left =
    restore.condition && !/this restore created|was not changed|restored into with --clean/.test(err.message)
      ? ` Target: ${restore.condition}.`
      : '';
  if (json) {
    process.exitCode = exitCodeFor(err.code);
    return;
  }
  throw new LifeboatError(err.code, `${err.message}${left}`, {
    hint: `${err.hint ? `${err.hint} ` : ''}Run ${run.id} is ${run.status}: continue it with lifeboat run --resume ${run.id} (give --identity again), or end it with lifeboat run --cancel ${run.id} --reason …`,
  });
}

function entriesOf(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) throw new LifeboatError('BAD_INPUT', `--to ${dir} is not a folder.`);
  return readdirSync(dir);
}

export async function restoreFilesCommand(io: CliIo, set: string, opts: RestoreFilesOptions): Promise<void> {
  const dir = resolve(opts.to);
  if (opts.overwrite && !opts.intoExisting)
    throw new LifeboatError('BAD_INPUT', '--overwrite only means something with --into-existing.');
  const existing = entriesOf(dir);
  if (existing.length > 0 && !opts.intoExisting) {
    throw new LifeboatError(
      'BAD_INPUT',
      `${dir} is not empty (${existing.length} ${existing.length === 1 ? 'entry' : 'entries'}): refused.`,
      {
        hint: 'Restore into an empty or new folder, or add --into-existing (existing files are kept unless --overwrite).',
      },
    );
  }
  const identities = readIdentities(opts.identity ?? []);
  const paths = opts.path ?? [];
  await withCliEngine(async (engine) => {
    const operator = opts.operator ?? defaultOperator(engine.settings().operatorName);
    if (opts.dryRun) {
      const { loadSetIndex } = await import('../../engine/runbooks/actions/checks');
      const { selectEntries } = await import('../../engine/restore/select');
      const { key, index } = await loadSetIndex(
        { deps: { catalog: engine.catalog, identities, openMedium: engine.openMedium } },
        set,
        Boolean(opts.allowUnsigned),
      );
      const chosen = selectEntries(index, paths);
      const files = chosen.filter((e) => e.type === 'file');
      const clashes = existing.length
        ? chosen.filter((e) => e.type !== 'dir' && existsSync(resolve(dir, e.path))).map((e) => e.path)
        : [];
      const result = {
        ok: true,
        dry_run: true,
        set: key,
        dir,
        entries: chosen.length,
        files: files.length,
        bytes: files.reduce((n, e) => n + e.size, 0),
        chain: [...new Set(chosen.map((e) => e.in))],
        existing: existing.length,
        would_replace: opts.overwrite ? clashes : [],
        refused_existing: opts.overwrite ? [] : clashes,
      };
      if (opts.json) printJson(io, result);
      else {
        io.stdout.write(
          `Would restore ${result.files} files (${formatBytes(result.bytes)}, ${result.entries} entries) of ${key} into ${dir}${paths.length ? ` (paths: ${paths.join(', ')})` : ''}; chain: ${result.chain.join(', ')}\n`,
        );
        if (clashes.length)
          io.stdout.write(
            `  ${clashes.length} already exist there: ${opts.overwrite ? 'they would be replaced' : 'the restore would be refused (add --overwrite to replace them)'}, e.g. ${clashes.slice(0, 3).join(', ')}\n`,
          );
        io.stdout.write('  Nothing was written. The set passed the trust rule and its file index passed the gate.\n');
      }
      if (clashes.length && !opts.overwrite) process.exitCode = 2;
      return;
    }
    const runner = runEngineFor(engine, identities, secretFilesOf(opts));
    const source = 'builtin:restore-files (lifeboat restore files)';
    const parsed = parseRunbook(
      filesRunbook({
        paths,
        keepExisting: Boolean(opts.intoExisting && !opts.overwrite),
        allowUnsigned: Boolean(opts.allowUnsigned),
      }),
      source,
    );
    const run = runner.start(parsed, { set, dir }, { drill: false, operator, source });
    if (!opts.json) io.stderr.write(`lifeboat: run ${run.id} restores ${run.inputs.set} into ${dir}\n`);
    const after = await drive({
      engine,
      io,
      runner,
      run,
      operator,
      confirm: (expect) =>
        opts.intoExisting && expect === dir
          ? expect
          : {
              refuse: `${dir} is not empty and --into-existing was not given`,
              hint: 'Restore into an empty or new folder, or add --into-existing.',
            },
    });
    finish(
      io,
      after,
      opts.json,
      (o) =>
        `Restored ${String(o.files)} files (${formatBytes(Number(o.bytes))}) of ${String(o.set)} into ${String(o.dir)}; chain: ${(o.chain as string[]).join(', ')}`,
    );
  });
}

export async function restorePgCommand(io: CliIo, set: string, opts: RestorePgOptions): Promise<void> {
  const jobs = opts.jobs ?? 2;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 32)
    throw new LifeboatError('BAD_INPUT', '--jobs takes a number from 1 to 32.');
  if (opts.confirmOverwrite !== undefined && opts.confirmOverwrite !== opts.database) {
    throw new LifeboatError(
      'BAD_INPUT',
      `--confirm-overwrite must repeat the database name exactly (${opts.database}).`,
    );
  }
  if (opts.asSuperuser !== undefined && opts.asSuperuser !== opts.database) {
    throw new LifeboatError(
      'BAD_INPUT',
      `--as-superuser must repeat the database name exactly (${opts.database}): the dump's code then runs with superuser rights on the server.`,
    );
  }
  const target = parsePgUrl(opts.target);
  if (target.password !== null)
    throw new LifeboatError(
      'BAD_INPUT',
      'Give the password through PGPASSWORD or ~/.pgpass, not in --target (runs and their journals are stored).',
    );
  const identities = readIdentities(opts.identity ?? []);
  await withCliEngine(async (engine) => {
    const operator = opts.operator ?? defaultOperator(engine.settings().operatorName);
    if (opts.dryRun) {
      const { openTrustedCopy } = await import('../../engine/restore/set-access');
      const { serverFacts, withPgClient } = await import('../../engine/postgres/connection');
      const copy = await openTrustedCopy(engine.catalog, set, {
        allowUnsigned: opts.allowUnsigned,
        open: engine.openMedium,
      });
      const dump = copy.manifest.artifacts.find((a) => a.role === 'pg-dump' || a.role === 'pg-dump-dir');
      if (!dump)
        throw new LifeboatError(
          'FORMAT_INVALID',
          `${copy.key} holds no PostgreSQL dump (it is a ${copy.manifest.kind} set).`,
        );
      const u = new URL(target.url);
      u.pathname = '/postgres';
      const admin = parsePgUrl(u.toString());
      const facts = await serverFacts(admin);
      const exists = await withPgClient(
        admin,
        async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [opts.database])).rowCount === 1,
      );
      const result = {
        ok: !exists || opts.confirmOverwrite === opts.database,
        dry_run: true,
        set: copy.key,
        trust: copy.trust,
        host: target.host,
        port: target.port,
        server_version: facts.version,
        database: opts.database,
        exists,
        dump_bytes: dump.plain_bytes,
        jobs,
      };
      if (opts.json) printJson(io, result);
      else {
        io.stdout.write(
          `Would restore ${copy.key} (${formatBytes(dump.plain_bytes)} dump, ${copy.trust.state === 'signed' ? `signed by ${copy.trust.keyId}` : 'NOT signed by a pinned key: allowed by --allow-unsigned'}) with pg_restore -j ${jobs}\n`,
        );
        io.stdout.write(
          `  into ${exists ? `the EXISTING database ${opts.database}${opts.confirmOverwrite ? ' (--clean: objects in the dump are replaced)' : ': refused without --confirm-overwrite'}` : `a new database ${opts.database}`} on ${target.host}:${target.port} (${facts.version.replace(/ on .*$/, '')})\n  Nothing was changed.\n`,
        );
      }
      if (!result.ok) process.exitCode = 2;
      return;
    }
    const runner = runEngineFor(engine, identities, secretFilesOf(opts));
    const source = 'builtin:restore-database (lifeboat restore pg)';
    const asSuperuser = opts.asSuperuser === opts.database;
    const parsed = parseRunbook(
      pgRunbook({
        jobs,
        clean: opts.confirmOverwrite === opts.database,
        allowUnsigned: Boolean(opts.allowUnsigned),
        role: opts.role,
        asSuperuser,
      }),
      source,
    );
    const run = runner.start(
      parsed,
      { set, target: target.url, database: opts.database },
      { drill: false, operator, source },
    );
    if (!opts.json)
      io.stderr.write(
        `lifeboat: run ${run.id} restores ${run.inputs.set} into ${opts.database} on ${target.host}:${target.port}\n`,
      );
    const confirm = (expect: string): string | { refuse: string; hint?: string } => {
      // The superuser path is confirmed by --as-superuser <database> (an existing database still needs --confirm-overwrite: --clean).
      if (asSuperuser && expect === `superuser:${opts.database}`) return expect;
      if (opts.confirmOverwrite === expect) return expect;
      return {
        refuse: `the database ${opts.database} exists and --confirm-overwrite ${opts.database} was not given`,
        hint: `Restore into a new database (another --database), or add --confirm-overwrite ${opts.database} to replace the objects in the dump.`,
      };
    };
    const after = await drive({ engine, io, runner, run, operator, confirm });
    finish(
      io,
      after,
      opts.json,
      (o) =>
        `Restored ${String(o.set)} into ${String(o.database)} on ${String(o.host)}:${String(o.port)}: ${String(o.tables)} table${Number(o.tables) === 1 ? '' : 's'}, pg_restore took ${formatDuration(Number(o.restore_ms) / 1000)}`,
    );
  });
}

function cmdRunbook(o: { command: string; shell: boolean; stream: boolean; allowUnsigned: boolean }): string {
  return JSON.stringify({
    id: 'restore-cmd',
    title: 'Feed a stream set to a command (lifeboat restore cmd)',
    description:
      "Started by lifeboat restore cmd: the stream set, checked through the gate, fed to a command's standard input, then the report.",
    level: 1,
    objectives: OBJECTIVES,
    inputs: [{ id: 'set', type: 'backup-set', label: 'The stream set' }],
    steps: [
      {
        id: 'restore',
        kind: 'action',
        title: 'Feed the stream to the command',
        action: 'restore.cmd',
        with: {
          set: '{{ inputs.set }}',
          command: o.command,
          shell: o.shell,
          stream: o.stream,
          allow_unsigned: o.allowUnsigned,
        },
      },
      { id: 'report', kind: 'action', title: 'Write the recovery report', action: 'report.write' },
    ],
  });
}

export async function restoreCmdCommand(io: CliIo, set: string, opts: RestoreCmdOptions): Promise<void> {
  const { streamCommand } = await import('../../engine/process/command-line');
  streamCommand(opts.command, Boolean(opts.shell), '--command');
  const identities = readIdentities(opts.identity ?? []);
  await withCliEngine(async (engine) => {
    const operator = opts.operator ?? defaultOperator(engine.settings().operatorName);
    const runner = runEngineFor(engine, identities, {});
    const source = 'builtin:restore-cmd (lifeboat restore cmd)';
    const parsed = parseRunbook(
      cmdRunbook({
        command: opts.command,
        shell: Boolean(opts.shell),
        stream: Boolean(opts.stream),
        allowUnsigned: Boolean(opts.allowUnsigned),
      }),
      source,
    );
    const run = runner.start(parsed, { set }, { drill: false, operator, source });
    if (!opts.json) io.stderr.write(`lifeboat: run ${run.id} feeds ${run.inputs.set} to ${opts.command}\n`);
    const after = await drive({
      engine,
      io,
      runner,
      run,
      operator,
      confirm: (expect) =>
        opts.confirm === expect
          ? expect
          : {
              refuse:
                opts.confirm === undefined ? '--confirm was not given' : `--confirm ${opts.confirm} is not ${expect}`,
              hint: `Add --confirm ${expect} (the set's system): the command acts on something live.`,
            },
    });
    finish(
      io,
      after,
      opts.json,
      (o) =>
        `Fed ${String(o.set)} (${String(o.label)}, ${formatBytes(Number(o.bytes_fed))}) to ${String(o.command)}: exit ${String(o.exit_status)} after ${formatDuration(Number(o.duration_ms) / 1000)}${typeof o.stderr_tail === 'string' && o.stderr_tail ? `\n  stderr: ${o.stderr_tail.split('\n').slice(-3).join(' / ')}` : ''}`,
    );
  });
}

function mysqlRunbook(o: { allowUnsigned: boolean; credential?: string }): string {
  return JSON.stringify({
    id: 'restore-mysql',
    title: 'Restore a MySQL database (lifeboat restore mysql)',
    description:
      'Started by lifeboat restore mysql: the set, checked through the gate, replayed by mariadb --sandbox into a new database (or a confirmed existing one), then the report.',
    level: 1,
    objectives: OBJECTIVES,
    inputs: [
      { id: 'set', type: 'backup-set', label: 'The mysql set' },
      { id: 'target', type: 'text', label: 'The MySQL server (mysql://user@host:port/database)' },
      { id: 'database', type: 'text', label: 'The database to restore into' },
    ],
    steps: [
      {
        id: 'restore',
        kind: 'action',
        title: 'Restore the database',
        action: 'restore.mysql',
        with: {
          set: '{{ inputs.set }}',
          target: '{{ inputs.target }}',
          database: '{{ inputs.database }}',
          allow_unsigned: o.allowUnsigned,
          // A keychain reference (never the secret): stored with the run like the target's URL.
          ...(o.credential ? { credential: o.credential } : {}),
        },
      },
      { id: 'report', kind: 'action', title: 'Write the recovery report', action: 'report.write' },
    ],
  });
}

/** `lifeboat restore mysql <set> --db mysql://user@host:port/newdb`: a short run of restore.mysql. */
export async function restoreMysqlCommand(io: CliIo, set: string, opts: RestoreMysqlOptions): Promise<void> {
  const target = parseMysqlUrl(opts.db);
  if (target.password !== null)
    throw new LifeboatError(
      'BAD_INPUT',
      'Give the password through --credential mysql:<id> (the keychain) or MYSQL_PWD, not in --db (runs and their journals are stored).',
    );
  if (opts.confirmOverwrite !== undefined && opts.confirmOverwrite !== target.database)
    throw new LifeboatError(
      'BAD_INPUT',
      `--confirm-overwrite must repeat the database name exactly (${target.database}).`,
    );
  const identities = readIdentities(opts.identity ?? []);
  await withCliEngine(async (engine) => {
    const operator = opts.operator ?? defaultOperator(engine.settings().operatorName);
    const runner = runEngineFor(engine, identities);
    const source = 'builtin:restore-mysql (lifeboat restore mysql)';
    if (opts.credential) assertAccount(opts.credential);
    const parsed = parseRunbook(
      mysqlRunbook({ allowUnsigned: Boolean(opts.allowUnsigned), credential: opts.credential }),
      source,
    );
    const run = runner.start(
      parsed,
      { set, target: opts.db, database: target.database },
      { drill: false, operator, source },
    );
    if (!opts.json)
      io.stderr.write(`lifeboat: run ${run.id} restores ${run.inputs.set} into ${target.database} on ${target.host}\n`);
    const after = await drive({
      engine,
      io,
      runner,
      run,
      operator,
      confirm: (expect) =>
        opts.confirmOverwrite === expect
          ? expect
          : {
              refuse: `the database ${expect} exists and is not empty, and --confirm-overwrite ${expect} was not given`,
              hint: `Restore into a new database, or add --confirm-overwrite ${expect}.`,
            },
    });
    finish(
      io,
      after,
      opts.json,
      (o) =>
        `Restored ${String(o.set)} into ${String(o.database)} (${String(o.target)}): ${String(o.tables)} tables, ${String(o.rows)} rows, ${String(o.routines)} routines, ${String(o.triggers)} triggers, ${String(o.events)} events, ${String(o.views)} views; row counts match the dump`,
    );
  });
}

function redisRunbook(o: { intoDir: string | null; port: number; aof: boolean; allowUnsigned: boolean }): string {
  return JSON.stringify({
    id: 'restore-redis',
    title: 'Restore Redis (lifeboat restore redis)',
    description:
      "Started by lifeboat restore redis: the set, checked through the gate, loaded by a scratch redis-server and checked, or placed into a stopped server's data directory; then the report.",
    level: 1,
    objectives: OBJECTIVES,
    inputs: [{ id: 'set', type: 'backup-set', label: 'The redis set' }],
    steps: [
      {
        id: 'restore',
        kind: 'action',
        title: o.intoDir ? 'Place the backup into the data directory' : 'Load it into a scratch redis-server',
        action: 'restore.redis',
        with: {
          set: '{{ inputs.set }}',
          ...(o.intoDir ? { into: o.intoDir } : {}),
          port: o.port,
          aof: o.aof,
          allow_unsigned: o.allowUnsigned,
        },
      },
      { id: 'report', kind: 'action', title: 'Write the recovery report', action: 'report.write' },
    ],
  });
}

export async function restoreRedisCommand(io: CliIo, set: string, opts: RestoreRedisOptions): Promise<void> {
  if (Boolean(opts.scratch) === Boolean(opts.intoDir))
    throw new LifeboatError('BAD_INPUT', 'Give exactly one of --scratch and --into-dir <dir>.', {
      hint: "--scratch checks the set in a scratch redis-server; --into-dir places it into a stopped server's data directory.",
    });
  const port = opts.port ?? 6379;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new LifeboatError('BAD_INPUT', '--port takes a port number (1 to 65535).');
  const intoDir = opts.intoDir ? resolve(opts.intoDir) : null;
  const identities = readIdentities(opts.identity ?? []);
  await withCliEngine(async (engine) => {
    const operator = opts.operator ?? defaultOperator(engine.settings().operatorName);
    const runner = runEngineFor(engine, identities, {});
    const source = 'builtin:restore-redis (lifeboat restore redis)';
    const parsed = parseRunbook(
      redisRunbook({ intoDir, port, aof: Boolean(opts.aof), allowUnsigned: Boolean(opts.allowUnsigned) }),
      source,
    );
    // A scratch restore is a drill: it never touches a live target, its scratch folder goes with the run.
    const run = runner.start(parsed, { set }, { drill: !intoDir, operator, source });
    if (!opts.json)
      io.stderr.write(
        `lifeboat: run ${run.id} restores ${run.inputs.set} ${intoDir ? `into ${intoDir}` : 'into a scratch redis-server'}\n`,
      );
    const after = await drive({
      engine,
      io,
      runner,
      run,
      operator,
      confirm: (expect) =>
        opts.confirm !== undefined && resolve(opts.confirm) === expect
          ? expect
          : {
              refuse: `--confirm ${expect} was not given`,
              hint: `Stop the server, then repeat the directory: --confirm ${expect}`,
            },
    });
    finish(io, after, opts.json, (o) =>
      o.mode === 'scratch'
        ? `Loaded ${String(o.set)} into a scratch redis-server in ${formatDuration(Number(o.load_ms) / 1000)}: ${String(o.keys)} keys; ${(o.checks as Array<{ what: string; detail: string }>).map((c) => `${c.what}: ${c.detail}`).join('; ')}`
        : `Placed ${String(o.placed)} from ${String(o.set)}${(o.kept_aside as string[]).length ? `; kept aside: ${(o.kept_aside as string[]).join(', ')}` : ''}. Start the server now.`,
    );
  });
}
