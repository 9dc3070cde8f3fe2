import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { RedisClient, type RedisTarget } from '../../electron/engine/redis/client';

/** A free TCP port on the loopback (the kernel's pick, released for the server to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  port: number;
  dir: string;
  target: RedisTarget;
  child: ChildProcess;
  client(): Promise<RedisClient>;
  stop(): Promise<void>;
}

/** A real redis-server in `dir` on a free loopback port (never the system's service), stopped by stop(). */
export async function startRedis(
  dir: string,
  o: { password?: string; aof?: boolean; port?: number; unixOnly?: boolean } = {},
): Promise<TestRedis> {
  mkdirSync(dir, { recursive: true });
  const port = o.unixOnly ? 0 : (o.port ?? (await freePort()));
  const socket = join(dir, 'redis.sock');
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--unixsocket',
    socket,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    o.aof ? 'yes' : 'no',
    '--daemonize',
    'no',
    '--logfile',
    join(dir, 'redis.log'),
    // redis-cli --rdb asks for a diskless sync, which waits 5 s for other replicas by default.
    '--repl-diskless-sync-delay',
    '0',
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  // The password by config on stdin is not possible here: CONFIG SET after start keeps it out of argv.
  const target: RedisTarget = { host: '127.0.0.1', port, socket, user: null, password: null };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const c = await RedisClient.open(target, 500);
      await c.command(['PING']);
      if (o.password) await c.command(['CONFIG', 'SET', 'requirepass', o.password]);
      c.close();
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 30));
    }
  }
  const authed: RedisTarget = { ...target, password: o.password ?? null };
  return {
    port,
    dir,
    target: authed,
    child,
    client: () => RedisClient.open(authed),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    },
  };
}

/** Every key of every database as DUMP bytes (sets: their sorted members) and whether it has a TTL: comparable byte for byte. */
export async function dumpAll(c: RedisClient): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let db = 0; db < 16; db++) {
    await c.command(['SELECT', String(db)]);
    let cursor = '0';
    do {
      const r = (await c.command(['SCAN', cursor, 'COUNT', '1000'])) as [Buffer, Buffer[]];
      cursor = r[0].toString();
      for (const k of r[1]) {
        const ttl = Number(await c.command(['PTTL', k]));
        // A set in a hash table serialises in the table's order, which a reload changes: its members, sorted.
        const type = await c.text(['TYPE', k]);
        const value =
          type === 'set'
            ? ((await c.command(['SMEMBERS', k])) as Buffer[])
                .map((m) => m.toString('base64'))
                .sort()
                .join(',')
            : ((await c.command(['DUMP', k])) as Buffer).toString('base64');
        out.set(`${db}:${k.toString('base64')}`, `${type}:${value}:${ttl > 0 ? 'ttl' : ttl}`);
      }
    } while (cursor !== '0');
  }
  await c.command(['SELECT', '0']);
  return out;
}

/** A few thousand keys of every type (string, binary, hash, list, set, zset, stream), some with a TTL, in dbs 0 and 3. */
export async function loadRedisData(c: RedisClient, n = 600): Promise<void> {
  const cmds: Array<Array<string | Buffer>> = [];
  for (let i = 0; i < n; i++) {
    cmds.push(['SET', `str:${i}`, `value ${i} `.repeat(1 + (i % 7))]);
    cmds.push(['HSET', `hash:${i}`, 'name', `n${i}`, 'count', String(i), 'bin', Buffer.from([0, 255, i % 256])]);
    cmds.push(['RPUSH', `list:${i % 50}`, `item-${i}`]);
    cmds.push(['SADD', `set:${i % 40}`, `member-${i}`]);
    cmds.push(['ZADD', `zset:${i % 30}`, String(i * 1.5), `z-${i}`]);
  }
  for (let i = 0; i < 100; i++) cmds.push(['XADD', 'stream:events', '*', 'event', `e${i}`, 'n', String(i)]);
  for (let i = 0; i < 50; i++) cmds.push(['SET', `ttl:${i}`, `expires ${i}`, 'EX', '86400']);
  cmds.push(['SET', Buffer.from([0x6b, 0, 0xff, 0x0a]), Buffer.from([1, 2, 3, 0, 255])]);
  for (const cmd of cmds) await c.command(cmd);
  await c.command(['SELECT', '3']);
  for (let i = 0; i < 200; i++) await c.command(['SET', `db3:${i}`, `three ${i}`]);
  await c.command(['SELECT', '0']);
}

/** `backup redis` arguments: a system of a test server to a medium, encrypted and signed, with its AOF directory when given. */
export function redisBackupArgs(o: {
  system: string;
  port: number;
  medium: string;
  recipient: string;
  signKey: string;
  aofDir?: string;
}): string[] {
  return [
    'backup',
    'redis',
    '--system',
    o.system,
    '--redis',
    `redis://127.0.0.1:${o.port}`,
    ...(o.aofDir ? ['--aof-dir', o.aofDir] : []),
    '--to',
    o.medium,
    '--recipient',
    o.recipient,
    '--sign-key',
    o.signKey,
    '--json',
  ];
}
