import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LifeboatError } from '../errors';
import type { JobContext } from '../jobs/job-manager';
import {
  describeTarget,
  parseInfo,
  parseKeyspace,
  parseRedisUrl,
  scanKeys,
  syncRdb,
  withRedis,
  type Keyspace,
  type RedisClient,
} from '../redis/client';
import { ExcludeMatcher } from './glob';
import { writeSet, type SetPlan, type WrittenSet } from './set-writer';
import { tarSource, walkTrees } from './tree';

export interface RedisBackupInput extends Omit<SetPlan, 'kind' | 'parent' | 'startedAt'> {
  /** redis://[user:pass@]host:port; a password in the URL or in REDISCLI_AUTH. */
  redisUrl: string;
  password?: string | null;
  /** A Redis 7 AOF directory (appendonlydir) to store beside the RDB. */
  aofDir?: string | null;
}

/** Keys sampled per database at backup time (their names hashed: the manifest is not encrypted). */
export const SAMPLED_KEYS = 8;

export interface KeySample {
  db: string;
  name_sha256: string;
  type: string;
}

/** Keys without a TTL from the start of each database's SCAN, by hashed name and type. */
async function sampleKeys(c: RedisClient, keyspace: Keyspace): Promise<KeySample[]> {
  const out: KeySample[] = [];
  for (const db of Object.keys(keyspace)) {
    await c.command(['SELECT', db]);
    let taken = 0;
    let looked = 0;
    for await (const name of scanKeys(c)) {
      if (taken >= SAMPLED_KEYS || ++looked > 200) break;
      if (Number(await c.command(['TTL', name])) !== -1) continue;
      const type = await c.text(['TYPE', name]);
      if (type === 'none') continue;
      out.push({ db, name_sha256: createHash('sha256').update(name).digest('hex'), type });
      taken++;
    }
  }
  await c.command(['SELECT', '0']);
  return out;
}

/** The server's persistence settings that decide what a SYNC leaves on its disk (null: CONFIG refused). */
export interface RedisPersistence {
  save: string;
  appendonly: string;
  replDisklessSync: string;
  rdbDelSyncFiles: string;
  dir: string;
  dbfilename: string;
}

/** CONFIG GET of each setting; a user without the right (ACL) or a renamed CONFIG gives null, never a failure. */
async function readPersistence(c: RedisClient): Promise<RedisPersistence | null> {
  const get = async (name: string): Promise<string> => {
    const r = (await c.command(['CONFIG', 'GET', name])) as Buffer[];
    if (r.length < 2) throw new Error(`no ${name}`);
    return r[1]!.toString('utf8');
  };
  try {
    return {
      save: await get('save'),
      appendonly: await get('appendonly'),
      replDisklessSync: await get('repl-diskless-sync'),
      rdbDelSyncFiles: await get('rdb-del-sync-files'),
      dir: await get('dir'),
      dbfilename: await get('dbfilename'),
    };
  } catch {
    return null;
  }
}

/**
 * What the operator is told when the server served our SYNC from a file (the RDB came in the
 * length form although we announced `capa eof`): the server wrote its whole dataset to its data
 * directory for this backup. That matters on a server that saves nothing (`save ''`, no AOF): the
 * file stays (unless `rdb-del-sync-files yes`) and the server loads it at its next start. Lifeboat
 * never changes the server's configuration itself; the message says what the operator can set.
 */
export function diskSyncWarning(p: RedisPersistence | null): string | null {
  // A server that saves RDBs anyway: the sync's snapshot is the file it writes on its own.
  if (p && p.save.trim() !== '') return null;
  const file = p ? `${p.dir.replace(/\/+$/, '')}/${p.dbfilename}` : 'its data directory (dir/dbfilename)';
  const lasting = !p
    ? "Lifeboat could not read the server's settings (CONFIG GET refused): if it saves nothing, the file stays and the server loads it at its next start"
    : p.appendonly === 'yes'
      ? "the server saves no RDB (save '') and does not load it while appendonly is yes, but the file stays"
      : p.rdbDelSyncFiles === 'yes'
        ? 'the server removed it after the transfer (rdb-del-sync-files yes)'
        : "with no saves configured (save '') the file stays, and the server loads it at its next start";
  return (
    `the Redis server wrote its RDB to ${file} to serve this backup (a disk-based sync: repl-diskless-sync no); ` +
    `${lasting}. To avoid it, on the server: CONFIG SET repl-diskless-sync yes (and CONFIG REWRITE to keep it); ` +
    "Lifeboat never changes the server's configuration"
  );
}

/** One line of a Redis 7 AOF manifest: `file <name> seq <n> type <b|h|i>`. */
export interface AofManifestEntry {
  file: string;
  seq: number;
  type: 'b' | 'h' | 'i';
}

export const AOF_MANIFEST_SUFFIX = '.manifest';

export function parseAofManifest(text: string): AofManifestEntry[] {
  const out: AofManifestEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < parts.length; i += 2) f[parts[i]!] = parts[i + 1]!;
    const file = f.file ?? '';
    if (!/^[^/\\\0]+$/.test(file) || file === '.' || file === '..')
      throw new LifeboatError('FORMAT_INVALID', `The AOF manifest names an unsafe file: ${file.slice(0, 80)}`);
    if (f.type !== 'b' && f.type !== 'h' && f.type !== 'i')
      throw new LifeboatError('FORMAT_INVALID', `The AOF manifest has a line of unknown type: ${line.slice(0, 80)}`);
    out.push({ file, seq: Number(f.seq ?? 0), type: f.type });
  }
  return out;
}

/** The manifest file of an appendonlydir (appendonly.aof.manifest, or another appendfilename's). */
function aofManifestName(dir: string): string {
  const names = readdirSync(dir).filter((n) => n.endsWith(AOF_MANIFEST_SUFFIX));
  if (names.length !== 1)
    throw new LifeboatError(
      'BAD_INPUT',
      `${dir} is not a Redis 7 AOF directory (${names.length === 0 ? 'no' : 'more than one'} *.aof.manifest file).`,
      { hint: 'Give the appendonlydir folder inside the Redis data directory (Redis 7 multi-part AOF).' },
    );
  return names[0]!;
}

/** Copy `size` bytes of `from` (a prefix: the last incr file keeps growing while it is copied). */
function copyPrefix(from: string, to: string, size: number): void {
  const src = openSync(from, 'r');
  const dst = openSync(to, 'wx', 0o600);
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let done = 0;
    while (done < size) {
      const n = readSync(src, buf, 0, Math.min(buf.length, size - done), done);
      if (n === 0) break;
      writeSync(dst, buf, 0, n);
      done += n;
    }
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}

/**
 * A consistent copy of an AOF directory into `stage`: the manifest read, every file it lists copied
 * up to the size it had when the manifest was read, then the manifest read again. A rewrite in
 * between (the manifest changed, a file went away) starts the copy over, three times at most. The
 * last incr file may end in the middle of a command Redis was writing: Redis loads such a tail
 * with `aof-load-truncated yes` (its default) and redis-check-aof reports it.
 */
export function snapshotAofDir(
  dir: string,
  stage: string,
): { manifest: string; files: Array<{ file: string; bytes: number; type: string }>; attempts: number } {
  const name = aofManifestName(dir);
  for (let attempt = 1; attempt <= 3; attempt++) {
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage, { recursive: true, mode: 0o700 });
    const before = readFileSync(join(dir, name));
    const entries = parseAofManifest(before.toString('utf8'));
    const files: Array<{ file: string; bytes: number; type: string }> = [];
    let vanished = false;
    for (const e of entries) {
      let size: number;
      try {
        size = statSync(join(dir, e.file)).size;
        copyPrefix(join(dir, e.file), join(stage, e.file), size);
      } catch {
        vanished = true;
        break;
      }
      files.push({ file: e.file, bytes: size, type: e.type });
    }
    const after = readFileSync(join(dir, name));
    if (!vanished && after.equals(before)) {
      copyPrefix(join(dir, name), join(stage, name), before.length);
      return { manifest: name, files, attempts: attempt };
    }
  }
  throw new LifeboatError('TOOL_FAILED', `The AOF in ${dir} was rewritten three times while being copied.`, {
    hint: 'Back it up again, or when Redis is not rewriting its AOF (BGREWRITEAOF, auto-aof-rewrite-percentage).',
  });
}

/**
 * A Redis backup: the RDB streamed from the server through the replication protocol (a
 * point-in-time snapshot by the server's fork), and optionally an AOF directory as a tar. The
 * manifest records the server's version and its keys per database (INFO keyspace before and after
 * the RDB) and a few sampled keys, which a scratch restore checks.
 */
export async function backupRedis(input: RedisBackupInput, ctx: JobContext): Promise<WrittenSet> {
  ctx.step('connecting');
  const target = parseRedisUrl(input.redisUrl, input.password ?? null);
  const facts = await withRedis(target, async (c) => {
    const server = parseInfo(await c.text(['INFO', 'server']));
    const keyspace = parseKeyspace(await c.text(['INFO', 'keyspace']));
    const samples = await sampleKeys(c, keyspace);
    const persistence = await readPersistence(c);
    return { server, keyspace, samples, persistence };
  });
  const version = facts.server.get('redis_version') ?? 'unknown';
  ctx.log('info', `Redis ${version} at ${describeTarget(target)}`);
  const startedAt = new Date();
  const plan: SetPlan = { ...input, kind: 'redis', parent: null, startedAt };
  let work: string | null = null;
  try {
    return await writeSet(plan, ctx, async (add) => {
      ctx.step('reading the RDB (SYNC)');
      const rdb = await syncRdb(target, { signal: ctx.signal });
      const onPlainBytes = (n: number): void => ctx.progress({ bytesDone: n });
      const storing = add({ name: 'dump.rdb', role: 'redis-rdb', source: rdb.stream, onPlainBytes });
      // A storage failure (a full disk) stops the reading too: the connection is closed, not left paused.
      storing.catch(() => rdb.stream.destroy());
      const [stored, read] = await Promise.allSettled([storing, rdb.done]);
      if (read.status === 'rejected') throw read.reason;
      if (stored.status === 'rejected') throw stored.reason;
      const after = await withRedis(target, async (c) => parseKeyspace(await c.text(['INFO', 'keyspace'])));
      const warnings: string[] = [];
      const { form } = await rdb.done;
      const onDisk = form === 'length' ? diskSyncWarning(facts.persistence) : null;
      if (onDisk) warnings.push(onDisk);
      const stable = JSON.stringify(after) === JSON.stringify(facts.keyspace);
      if (!stable)
        warnings.push(
          'the keys changed while the RDB was taken: a scratch restore checks the key counts between the two readings',
        );
      let aof: Record<string, unknown> | null = null;
      if (input.aofDir) {
        ctx.step('copying the AOF directory');
        work = mkdtempSync(join(process.env.LIFEBOAT_TMPDIR ?? tmpdir(), 'lifeboat-aof-'));
        const stage = join(work, 'appendonlydir');
        const snap = snapshotAofDir(resolve(input.aofDir), stage);
        const walked = await walkTrees([stage], new ExcludeMatcher([]));
        const results = { hashes: new Map<string, string>(), warnings: [], skipped: new Set<string>() };
        await add({ name: 'appendonlydir.tar', role: 'redis-aof-tar', source: tarSource(walked.entries, results) });
        aof = {
          dir: resolve(input.aofDir),
          manifest: snap.manifest,
          files: snap.files,
          copy_attempts: snap.attempts,
          consistency:
            'every file the AOF manifest listed, each up to its size when the manifest was read; the manifest unchanged after the copy',
        };
      }
      return {
        source: {
          tool: 'lifeboat (Redis replication protocol: SYNC)',
          server_version: version,
          redis_mode: facts.server.get('redis_mode') ?? null,
          run_id: facts.server.get('run_id') ?? null,
          host: target.socket ? null : target.host,
          port: target.socket ? null : target.port,
          user: target.user,
          rdb_form: form,
          keyspace: facts.keyspace,
          keyspace_after: after,
          keys_stable: stable,
          sampled_keys: facts.samples,
          ...(aof ? { aof } : {}),
        },
        warnings,
      };
    });
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}
