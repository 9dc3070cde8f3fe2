import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../electron/engine/format/canonical-json';
import { loadSigningKey, signManifest } from '../../electron/engine/crypto/signing';
import { sha256Hex, sha256sums, type Manifest } from '../../electron/engine/format/manifest';
import { json, lifeboat, lifeboatAsync, loggedUnder, type CliRun } from '../helpers/cli';
import { keyedMedium, type KeyedMedium } from '../helpers/keyed-medium';
import { dumpAll, loadRedisData, redisBackupArgs, startRedis, type TestRedis } from '../helpers/redis';
import { tempDir } from '../helpers/temp';

/**
 * Redis sets on a real redis-server 7 (a few thousand keys of every type, some with a TTL, two
 * databases, the password set after start so it is in no argv): backup (the RDB and the AOF
 * directory) → scratch restore and live restore, compared key by key with DUMP; the RDB equal to
 * what redis-cli --rdb gives; deep verification with redis-check-rdb on tampered sets; the
 * Redis cache lost runbook as a drill; the password nowhere it must not be.
 */

const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let km: KeyedMedium;
let redis: TestRedis;
let source: Map<string, string>;
let setKey: string;
let manifest: Manifest;
let setDir: string;
let tamperedMedium: string;
/** Every process command line seen while the CLI ran (polled from /proc). */
const cmdlines = new Set<string>();

function pollCmdlines(): () => void {
  const timer = setInterval(() => {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        cmdlines.add(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
      } catch {
        // gone
      }
    }
  }, 15);
  return () => clearInterval(timer);
}

async function withPolling(run: Promise<CliRun>): Promise<CliRun> {
  const stop = pollCmdlines();
  try {
    return await run;
  } finally {
    stop();
  }
}

function decode(file: string): Buffer {
  return execFileSync('sh', ['-c', `age -d -i "$1" "$2" | zstd -dc`, 'sh', km.identity, file], {
    maxBuffer: 1 << 28,
  });
}

beforeAll(async () => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home'), REDISCLI_AUTH: PASSWORD };
  km = keyedMedium(env, dir.path);
  redis = await startRedis(join(dir.path, 'server'), { password: PASSWORD, aof: true });
  const c = await redis.client();
  try {
    await loadRedisData(c, 1200);
    source = await dumpAll(c);
  } finally {
    c.close();
  }
  const r = await withPolling(
    lifeboatAsync(
      env,
      ...redisBackupArgs({
        system: 'cache',
        port: redis.port,
        medium: km.medium,
        recipient: km.recipient,
        signKey: km.signKey,
        aofDir: join(redis.dir, 'appendonlydir'),
      }),
    ),
  );
  expect(r.status, r.stderr).toBe(0);
  const out = json<{ set_id: string }>(r);
  setKey = `cache/${out.set_id}`;
  setDir = join(km.medium, 'sets', 'cache', out.set_id);
  manifest = JSON.parse(readFileSync(join(setDir, 'manifest.json'), 'utf8')) as Manifest;
}, 60_000);

afterAll(async () => {
  await redis?.stop();
  dir?.cleanup();
}, 20_000);

describe('lifeboat backup redis', () => {
  it('records the keys per database and sampled keys; the RDB is what redis-cli --rdb gives', () => {
    expect(source.size).toBeGreaterThan(2500);
    expect(manifest.kind).toBe('redis');
    expect(manifest.artifacts.map((a) => a.role)).toEqual(['redis-rdb', 'redis-aof-tar']);
    const ks = manifest.source.keyspace as Record<string, { keys: number; expires: number }>;
    expect(ks['0']!.keys + ks['3']!.keys).toBe(source.size);
    expect(ks['0']!.expires).toBe(50);
    expect((manifest.source.sampled_keys as unknown[]).length).toBe(16);
    // Redis 7's diskless sync served our SYNC: the server, which saves nothing, wrote no RDB file.
    expect(manifest.source.rdb_form).toBe('eof-mark');
    expect(manifest.warnings).toEqual([]);
    expect(existsSync(join(redis.dir, 'dump.rdb'))).toBe(false);
    const ours = decode(join(setDir, 'dump.rdb.zst.age'));
    const theirs = join(dir.path, 'cli.rdb');
    execFileSync('redis-cli', ['-p', String(redis.port), '--rdb', theirs], {
      env: { ...process.env, REDISCLI_AUTH: PASSWORD },
      stdio: 'ignore',
    });
    // Two snapshots differ only in their AUX fields (ctime, used-mem) and so in the checksum: the data is byte for byte the same.
    expect(rdbBody(ours).equals(rdbBody(readFileSync(theirs)))).toBe(true);
    expect(ours.length).toBe(readFileSync(theirs).length);
  });

  it('keeps the password out of child argv, logs, the manifest and the catalog', () => {
    const files = [
      ...readdirSync(setDir).map((f) => readFileSync(join(setDir, f))),
      readFileSync(join(env.LIFEBOAT_HOME!, 'catalog.sqlite')),
    ];
    for (const f of files) expect(f.includes(PASSWORD)).toBe(false);
    expect(loggedUnder(env.LIFEBOAT_HOME!)).not.toContain(PASSWORD);
    expect(cmdlines.size).toBeGreaterThan(3);
    expect([...cmdlines].filter((l) => l.includes(PASSWORD))).toEqual([]);
  });

  it('refuses a wrong password with a clear error and leaves no set', () => {
    const r = lifeboat(
      { ...env, REDISCLI_AUTH: 'wrong' },
      'backup',
      'redis',
      '--system',
      'cache2',
      '--redis',
      `redis://127.0.0.1:${redis.port}`,
      '--to',
      km.medium,
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refused the credentials/);
    expect(existsSync(join(km.medium, 'sets', 'cache2'))).toBe(false);
  });
  it('tells the operator when a server with no saves served the RDB from disk (repl-diskless-sync no), and how to avoid it', async () => {
    const diskful = await startRedis(join(dir.path, 'diskful'), { password: PASSWORD });
    try {
      const c = await diskful.client();
      try {
        await c.command(['SET', 'k', 'v']);
        await c.command(['CONFIG', 'SET', 'repl-diskless-sync', 'no']);
      } finally {
        c.close();
      }
      const r = await lifeboatAsync(
        env,
        'backup',
        'redis',
        '--system',
        'diskful',
        '--redis',
        `redis://127.0.0.1:${diskful.port}`,
        '--to',
        km.medium,
      );
      expect(r.status, r.stderr).toBe(0);
      const file = join(diskful.dir, 'dump.rdb');
      expect(existsSync(file)).toBe(true);
      expect(r.stdout).toContain(`warning: the Redis server wrote its RDB to ${file} to serve this backup`);
      expect(r.stdout).toMatch(
        /with no saves configured \(save ''\) the file stays, and the server loads it at its next start/,
      );
      expect(r.stdout).toMatch(/CONFIG SET repl-diskless-sync yes/);
    } finally {
      await diskful.stop();
    }
  }, 30_000);
});

describe('lifeboat restore redis', () => {
  it('--scratch loads the RDB and the AOF directory into scratch servers and checks them against the manifest', async () => {
    for (const aof of [false, true]) {
      const r = await withPolling(
        lifeboatAsync(
          env,
          'restore',
          'redis',
          setKey,
          '--scratch',
          '--identity',
          km.identity,
          '--json',
          ...(aof ? ['--aof'] : []),
        ),
      );
      expect(r.status, r.stderr).toBe(0);
      const out = json<{
        status: string;
        output: { keys: number; from: string; checks: Array<{ ok: boolean; what: string }> };
      }>(r);
      expect(out.status).toBe('succeeded');
      expect(out.output.from).toBe(aof ? 'aof' : 'rdb');
      expect(out.output.keys).toBe(source.size);
      expect(out.output.checks.map((c) => c.what)).toEqual([
        'db0 key count',
        'db3 key count',
        'db0 sampled keys',
        'db3 sampled keys',
      ]);
      expect(out.output.checks.every((c) => c.ok)).toBe(true);
    }
    // The scratch server loaded from a socket only, never with a TCP port, and is gone.
    const scratch = [...cmdlines].filter((l) => l.includes('redis-server') && l.includes('--port 0 '));
    expect(scratch.length).toBeGreaterThan(0);
    expect(scratch.every((l) => l.includes('--save  ') && l.includes('--appendonly'))).toBe(true);
  }, 30_000);

  it('--into-dir places the RDB into a stopped server directory (the old one kept aside); started, it holds every key byte for byte', async () => {
    const live = join(dir.path, 'live');
    mkdirSync(live);
    writeFileSync(join(live, 'dump.rdb'), 'the old one');
    const stopped = await (await import('../helpers/redis')).freePort();
    const refused = lifeboat(
      env,
      'restore',
      'redis',
      setKey,
      '--into-dir',
      live,
      '--port',
      String(stopped),
      '--identity',
      km.identity,
    );
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--confirm/);
    expect(readFileSync(join(live, 'dump.rdb'), 'utf8')).toBe('the old one');
    const r = lifeboat(
      env,
      'restore',
      'redis',
      setKey,
      '--into-dir',
      live,
      '--port',
      String(stopped),
      '--confirm',
      live,
      '--identity',
      km.identity,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const aside = readdirSync(live).filter((f) => f.startsWith('dump.rdb.before-lifeboat-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(live, aside[0]!), 'utf8')).toBe('the old one');
    expect(readdirSync(live).sort()).toEqual([aside[0], 'dump.rdb'].sort());
    const restored = await startRedis(live, { unixOnly: true });
    try {
      const c = await restored.client();
      try {
        expect(await dumpAll(c)).toEqual(source);
      } finally {
        c.close();
      }
    } finally {
      await restored.stop();
    }
  }, 30_000);

  it('refuses while the server runs: something on its port, or a live pid file in the directory', () => {
    const onPort = lifeboat(
      env,
      'restore',
      'redis',
      setKey,
      '--into-dir',
      redis.dir,
      '--port',
      String(redis.port),
      '--confirm',
      redis.dir,
      '--identity',
      km.identity,
    );
    expect(onPort.status).toBe(1);
    expect(onPort.stderr).toMatch(/answers on port .*: the target's server is running/);
    const piddir = join(dir.path, 'piddir');
    mkdirSync(piddir);
    writeFileSync(join(piddir, 'redis-server.pid'), `${redis.child.pid}\n`);
    const byPid = lifeboat(
      env,
      'restore',
      'redis',
      setKey,
      '--into-dir',
      piddir,
      '--port',
      '1',
      '--confirm',
      piddir,
      '--identity',
      km.identity,
    );
    expect(byPid.status).toBe(1);
    expect(byPid.stderr).toMatch(/redis-server.pid \(pid \d+\) of a running process/);
    expect(readdirSync(piddir)).toEqual(['redis-server.pid']);
  });
});

describe('deep verification', () => {
  it('passes a good set (redis-check-rdb, redis-check-aof, a scratch load at restore level); a corrupted RDB re-signed by our key is unreadable; a flipped stored byte is corrupted', () => {
    // The restore level includes deep: a scratch redis-server loads the RDB and its keys are checked against the manifest.
    const good = lifeboat(env, 'verify', setKey, '--level', 'restore', '--identity', km.identity, '--json');
    expect(good.status, good.stderr).toBe(0);
    const restored = json<{
      results: Array<{ verdict: string; restore: { checks: Array<{ sql: string; ok: boolean }> } }>;
    }>(good).results[0]!;
    expect(restored.verdict).toBe('ok');
    expect(restored.restore.checks.map((c) => [c.sql, c.ok])).toEqual([
      ['db0 key count', true],
      ['db3 key count', true],
      ['db0 sampled keys', true],
      ['db3 sampled keys', true],
    ]);
    const arts = json<{ results: Array<{ artifacts: Array<{ detail: string }> }> }>(good).results[0]!.artifacts;
    expect(arts[0]!.detail).toMatch(/redis-check-rdb: RDB looks OK \(\d+ keys read\)/);
    expect(arts[1]!.detail).toMatch(/redis-check-aof: All AOF files and manifest are valid/);

    // A tampered copy on a medium of its own: a valid age file with valid hashes, signed by our key, holding a broken RDB.
    const t = { medium: join(dir.path, 'tampered') };
    expect(lifeboat(env, 'medium', 'init', t.medium, '--label', 'tampered').status).toBe(0);
    const made = (): string => {
      const r = lifeboat(
        env,
        ...redisBackupArgs({
          system: 'cache-t',
          port: redis.port,
          medium: t.medium,
          recipient: km.recipient,
          signKey: km.signKey,
        }),
      );
      expect(r.status, r.stderr).toBe(0);
      return join(t.medium, 'sets', 'cache-t', json<{ set_id: string }>(r).set_id);
    };
    tamperedMedium = t.medium;
    const broken = made();
    const plain = decode(join(broken, 'dump.rdb.zst.age'));
    const mid = Math.floor(plain.length / 2);
    plain[mid] = plain[mid]! ^ 0xff;
    const stored = join(broken, 'dump.rdb.zst.age');
    execFileSync('sh', ['-c', 'zstd -q -c | age -r "$1" > "$2"', 'sh', km.recipient, stored], { input: plain });
    const m = JSON.parse(readFileSync(join(broken, 'manifest.json'), 'utf8')) as Manifest;
    const bytes = readFileSync(stored);
    Object.assign(m.artifacts[0]!, {
      bytes: bytes.length,
      sha256: sha256Hex(bytes),
      plain_bytes: plain.length,
      plain_sha256: sha256Hex(plain),
    });
    const mb = canonicalBytes(m);
    writeFileSync(join(broken, 'manifest.json'), mb);
    writeFileSync(join(broken, 'SHA256SUMS'), sha256sums(m));
    writeFileSync(join(broken, 'manifest.json.sig'), signManifest(mb, loadSigningKey(readFileSync(km.signKey))));

    const flipped = made();
    const f = join(flipped, 'dump.rdb.zst.age');
    const b = readFileSync(f);
    b[b.length - 20] = b[b.length - 20]! ^ 0x01;
    writeFileSync(f, b);

    const r = lifeboat(env, 'verify', t.medium, '--level', 'deep', '--identity', km.identity, '--json');
    expect(r.status).toBe(1);
    const results = json<{ results: Array<{ setPath: string; verdict: string; detail: string }> }>(r).results;
    const of = (d: string) => results.find((x) => d.endsWith(x.setPath))!;
    expect(of(broken).verdict).toBe('unreadable-dump');
    expect(of(broken).detail).toMatch(/redis-check-rdb failed/);
    expect(of(flipped).verdict).toBe('corrupted');
    expect(of(flipped).detail).toMatch(/SHA-256/);
  }, 30_000);
});

describe('retention', () => {
  it("prune --system applies a policy to one system's sets only (the seeds' 2-hourly Redis sets kept 48 h: --keep-last 24)", () => {
    const r = lifeboat(env, 'prune', '--to', tamperedMedium, '--system', 'cache-t', '--keep-last', '1', '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = json<{ keep: Array<{ path: string }>; remove: Array<{ path: string }> }>(r);
    expect(out.keep).toHaveLength(1);
    expect(out.remove).toHaveLength(1);
    const none = json<{ keep: unknown[]; remove: unknown[] }>(
      lifeboat(env, 'prune', '--to', tamperedMedium, '--system', 'other', '--keep-last', '1', '--json'),
    );
    expect([none.keep, none.remove]).toEqual([[], []]);
  });
});

describe('the Redis cache lost runbook', () => {
  it('runs as a drill from the CLI: newest set, deep verification, a scratch server checked, the report', () => {
    const r = lifeboat(
      env,
      'run',
      'redis-cache-lost',
      '--drill',
      '--yes',
      '--input',
      'system=cache',
      '--identity',
      km.identity,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const out = json<{
      status: string;
      report: string;
      steps: Array<{ id: string; status: string; output: Record<string, unknown> | null }>;
    }>(r);
    expect(out.status).toBe('succeeded');
    const step = (id: string) => out.steps.find((s) => s.id === id)!;
    expect(step('select').output!.kind).toBe('redis');
    expect(step('verify').status).toBe('done');
    expect(step('scratch').output!.keys).toBe(source.size);
    expect(step('restore').status).toBe('skipped');
    expect(existsSync(String(out.report))).toBe(true);
  }, 30_000);
});

/** An RDB without its header and AUX fields and without its checksum: the keys and values only. */
function rdbBody(rdb: Buffer): Buffer {
  let at = 9; // REDIS0010
  const str = (): void => {
    const b = rdb[at]!;
    const kind = b >> 6;
    if (kind === 0) at += 1 + (b & 0x3f);
    else if (kind === 1) at += 2 + (((b & 0x3f) << 8) | rdb[at + 1]!);
    else if (b === 0x80) at += 5 + rdb.readUInt32BE(at + 1);
    else if (b === 0xc0) at += 2;
    else if (b === 0xc1) at += 3;
    else if (b === 0xc2) at += 5;
    else throw new Error(`unexpected string encoding ${b} at ${at}`);
  };
  while (rdb[at] === 0xfa) {
    at++;
    str();
    str();
  }
  return rdb.subarray(at, rdb.length - 8);
}
