import { createHash } from 'node:crypto';
import {
  chownSync,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { connect } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LifeboatError } from '../errors';
import type { Artifact } from '../format/manifest';
import { compactUtc } from '../format/names';
import { parseKeyspace, scanKeys, withRedis, type Keyspace, type RedisTarget } from '../redis/client';
import { startScratchRedis } from '../redis/scratch';
import { ConfirmationNeeded, type RestoreContext } from './context';
import { extractTar } from './extract';
import { openVerifiedArtifact, untilVerified } from './gate';
import { openTrustedCopy, type TrustedSetCopy } from './set-access';

export interface RedisRestoreParams {
  set: string;
  /** Live: the target's data directory (the server stopped). Absent in a drill: a scratch server. */
  into?: string | undefined;
  /** The port the target's server listens on when it runs (refused if something answers there). */
  port: number;
  /** Restore the AOF directory instead of the RDB. */
  aof: boolean;
  allow_unsigned: boolean;
}

/** Over this many keys in a database, sampled keys are not looked for (a SCAN of every name). */
const SAMPLE_SCAN_LIMIT = 2_000_000;

interface Recorded {
  keyspace?: Keyspace;
  keyspace_after?: Keyspace;
  sampled_keys?: Array<{ db: string; name_sha256: string; type: string }>;
}

export interface RedisCheck {
  what: string;
  ok: boolean;
  detail: string;
}

/**
 * What a scratch server holds against what the manifest recorded at backup time: the keys of each
 * database between the two INFO keyspace readings (less the keys with a TTL, which may have expired
 * since), and each sampled key present (by its name's SHA-256) with its type.
 */
export async function validateRedis(target: RedisTarget, recorded: Recorded): Promise<RedisCheck[]> {
  return withRedis(target, async (c) => {
    const now = parseKeyspace(await c.text(['INFO', 'keyspace']));
    const before = recorded.keyspace ?? {};
    const after = recorded.keyspace_after ?? before;
    const checks: RedisCheck[] = [];
    const dbs = [...new Set([...Object.keys(before), ...Object.keys(after), ...Object.keys(now)])].sort(
      (a, b) => Number(a) - Number(b),
    );
    for (const db of dbs) {
      const b = before[db] ?? { keys: 0, expires: 0 };
      const a = after[db] ?? { keys: 0, expires: 0 };
      const got = now[db]?.keys ?? 0;
      const max = Math.max(a.keys, b.keys);
      const min = Math.max(0, Math.min(a.keys, b.keys) - Math.max(a.expires, b.expires));
      const ok = got >= min && got <= max;
      checks.push({
        what: `db${db} key count`,
        ok,
        detail: `${got} keys; the backup recorded ${b.keys === a.keys ? b.keys : `${b.keys} then ${a.keys}`}${max !== min ? ` (${min}–${max} accepted: keys with a TTL may have expired)` : ''}`,
      });
    }
    const samples = recorded.sampled_keys ?? [];
    for (const db of [...new Set(samples.map((s) => s.db))]) {
      const wanted = new Map(samples.filter((s) => s.db === db).map((s) => [s.name_sha256, s.type]));
      if ((now[db]?.keys ?? 0) > SAMPLE_SCAN_LIMIT) {
        checks.push({
          what: `db${db} sampled keys`,
          ok: true,
          detail: `not looked for (over ${SAMPLE_SCAN_LIMIT} keys)`,
        });
        continue;
      }
      await c.command(['SELECT', db]);
      const found = new Map<string, string>();
      for await (const name of scanKeys(c)) {
        const h = createHash('sha256').update(name).digest('hex');
        if (wanted.has(h)) found.set(h, await c.text(['TYPE', name]));
        if (found.size === wanted.size) break;
      }
      const missing = [...wanted].filter(([h]) => !found.has(h));
      const wrong = [...wanted].filter(([h, t]) => found.has(h) && found.get(h) !== t);
      checks.push({
        what: `db${db} sampled keys`,
        ok: missing.length === 0 && wrong.length === 0,
        detail:
          missing.length + wrong.length === 0
            ? `${wanted.size} sampled key${wanted.size === 1 ? '' : 's'} present with their types`
            : `${missing.length} of ${wanted.size} sampled keys missing${wrong.length ? `, ${wrong.length} of another type` : ''}`,
      });
    }
    return checks;
  });
}

/** Something answers on this port of the loopback: a server is running. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const done = (v: boolean): void => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

/** A pid file in the directory whose process is alive. */
function runningPidFile(dir: string): string | null {
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.pid')) continue;
    const pid = Number(readFileSync(join(dir, name), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      process.kill(pid, 0);
      return `${name} (pid ${pid})`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPERM') return `${name} (pid ${pid})`;
    }
  }
  return null;
}

/** Decode the artifact through the gate into `stage` (dump.rdb, or the extracted appendonlydir). */
async function decodeInto(ctx: RestoreContext, copy: TrustedSetCopy, a: Artifact, stage: string): Promise<string> {
  const v = await openVerifiedArtifact(copy, a, {
    identities: ctx.deps.identities,
    trust: copy.trust,
    signal: ctx.signal,
    onPlainBytes: (n) => ctx.progress({ bytesDone: n }),
  });
  ctx.progress({ bytesTotal: a.plain_bytes, bytesDone: 0 });
  if (a.role === 'redis-rdb') {
    const file = join(stage, 'dump.rdb');
    await untilVerified(v, pipeline(v.stream, createWriteStream(file, { flags: 'wx', mode: 0o600 })));
    return file;
  }
  await untilVerified(v, extractTar(v.stream, [], stage, { accept: () => true, signal: ctx.signal }));
  const dir = join(stage, 'appendonlydir');
  if (!existsSync(dir)) throw new LifeboatError('FORMAT_INVALID', `${copy.key}: the AOF tar holds no appendonlydir.`);
  return dir;
}

export function redisRestoreCondition(p: { into?: string | undefined }, checkpoint: unknown, drill: boolean): string {
  if (drill || !p.into) return 'the scratch redis-server is stopped and its folder removed';
  return (checkpoint as { phase?: string } | null)?.phase === 'placed'
    ? `the backup is in place in ${p.into} (the previous files kept aside as *.before-lifeboat-*)`
    : `${p.into} is as it was (nothing was placed)`;
}

/**
 * restore.redis: a redis set's RDB (or AOF directory) through the gate, then either loaded by a
 * scratch redis-server (a drill, `--scratch`: no TCP listener, a unix socket; validated against
 * the key counts and sampled keys the manifest recorded; stopped) or placed into a stopped
 * server's data directory (live: refused when something answers on the target's port or a pid
 * file there names a live process; a typed confirmation of the directory; the previous dump.rdb or
 * appendonlydir renamed aside as <name>.before-lifeboat-<time>; nothing written outside it).
 */
export async function restoreRedis(p: RedisRestoreParams, ctx: RestoreContext): Promise<Record<string, unknown>> {
  const copy = await openTrustedCopy(ctx.deps.catalog, p.set, {
    allowUnsigned: p.allow_unsigned,
    open: ctx.deps.openMedium,
  });
  if (copy.manifest.kind !== 'redis')
    throw new LifeboatError('BAD_INPUT', `${copy.key} is a ${copy.manifest.kind} set, not a Redis one.`);
  if (copy.trust.state === 'accepted-unsigned') ctx.log('warn', `reading an unsigned set: ${copy.trust.why}`);
  const role = p.aof ? 'redis-aof-tar' : 'redis-rdb';
  const artifact = copy.manifest.artifacts.find((a) => a.role === role);
  if (!artifact)
    throw new LifeboatError('NOT_FOUND', `${copy.key} holds no ${p.aof ? 'AOF directory' : 'RDB'}.`, {
      hint: p.aof ? 'It was backed up without --aof-dir: restore its RDB.' : undefined,
    });
  const scratch = ctx.drill || !p.into;
  if (scratch) {
    const stage = join(ctx.workDir, `redis-${ctx.stepId}`);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage, { recursive: true, mode: 0o700 });
    try {
      ctx.log('info', `decoding ${artifact.path} of ${copy.key}`);
      await decodeInto(ctx, copy, artifact, stage);
      const started = Date.now();
      const server = await startScratchRedis(stage, { aof: p.aof ? 'appendonlydir' : null, signal: ctx.signal });
      try {
        const loadMs = Date.now() - started;
        const checks = await validateRedis(server.target, copy.manifest.source);
        const failed = checks.filter((c) => !c.ok);
        for (const c of checks) ctx.log(c.ok ? 'info' : 'error', `${c.what}: ${c.detail}`);
        if (failed.length)
          throw new LifeboatError(
            'DB_RESTORE_FAILED',
            `The scratch Redis does not hold what ${copy.key} recorded: ${failed.map((c) => `${c.what}: ${c.detail}`).join('; ')}.`,
          );
        const keys = parseKeyspace(await withRedis(server.target, (c) => c.text(['INFO', 'keyspace'])));
        return {
          set: copy.key,
          mode: 'scratch',
          from: p.aof ? 'aof' : 'rdb',
          trust: copy.trust.state,
          server_version: server.version,
          load_ms: loadMs,
          keys: Object.values(keys).reduce((n, d) => n + d.keys, 0),
          checks,
        };
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  }

  const into = resolve(p.into!);
  if (!isAbsolute(p.into!))
    throw new LifeboatError('BAD_INPUT', `The data directory must be an absolute path: ${p.into}`);
  const st = existsSync(into) ? lstatSync(into) : null;
  if (!st || !st.isDirectory())
    throw new LifeboatError('BAD_INPUT', `${into} is not a directory.`, {
      hint: "Give the target server's data directory (its `dir` setting).",
    });
  if (await answers(p.port))
    throw new LifeboatError(
      'PRECONDITION_FAILED',
      `Something answers on port ${p.port}: the target's server is running.`,
      {
        hint: 'Stop the Redis server first (systemctl stop redis-server), then restore; or give its --port.',
      },
    );
  const pid = runningPidFile(into);
  if (pid)
    throw new LifeboatError(
      'PRECONDITION_FAILED',
      `${into} holds ${pid} of a running process: the server is running.`,
      {
        hint: 'Stop the Redis server first, then restore.',
      },
    );
  const name = p.aof ? 'appendonlydir' : 'dump.rdb';
  const existing = join(into, name);
  if (existsSync(existing) && lstatSync(existing).isSymbolicLink())
    throw new LifeboatError(
      'UNSAFE_PATH',
      `${existing} is a symbolic link: refused (nothing is written through links).`,
    );
  if (ctx.confirmation !== into)
    throw new ConfirmationNeeded(
      `Place ${name} of ${copy.key} into ${into}${existsSync(existing) ? ` (the present ${name} is kept aside)` : ''}?`,
      into,
      ctx.confirmation !== null,
    );
  const stage = join(into, `.lifeboat-restore-${ctx.runId}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { mode: 0o700 });
  try {
    ctx.log('info', `decoding ${artifact.path} of ${copy.key} into ${stage}`);
    const decoded = await decodeInto(ctx, copy, artifact, stage);
    let keptAside: string | null = null;
    if (existsSync(existing)) {
      keptAside = `${existing}.before-lifeboat-${compactUtc(new Date())}`;
      renameSync(existing, keptAside);
    }
    // The RDB a Redis with appendonly yes would ignore: an AOF directory beside it is kept aside too.
    let aofAside: string | null = null;
    const aofDir = join(into, 'appendonlydir');
    if (!p.aof && existsSync(aofDir)) {
      aofAside = `${aofDir}.before-lifeboat-${compactUtc(new Date())}`;
      renameSync(aofDir, aofAside);
    }
    renameSync(decoded, existing);
    // The server's user owns what it had (when this runs as root, restoring for the redis user).
    const owner = keptAside ? lstatSync(keptAside) : st;
    try {
      if (process.getuid?.() === 0) {
        chownSync(existing, owner.uid, owner.gid);
        // An AOF directory's files too (plain files, written here: no link to follow).
        if (p.aof) for (const f of readdirSync(existing)) chownSync(join(existing, f), owner.uid, owner.gid);
      }
    } catch {
      ctx.log('warn', `could not give ${existing} to uid ${owner.uid}: chown it to the server's user`);
    }
    ctx.saveCheckpoint({ phase: 'placed' });
    return {
      set: copy.key,
      mode: 'live',
      from: p.aof ? 'aof' : 'rdb',
      trust: copy.trust.state,
      dir: into,
      placed: existing,
      bytes: artifact.plain_bytes,
      kept_aside: [keptAside, aofAside].filter(Boolean),
    };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
