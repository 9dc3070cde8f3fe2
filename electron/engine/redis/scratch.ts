import { spawnTool, type RunningTool } from '../process/child';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifeboatError } from '../errors';
import { redactText } from '../log/redact';
import { findExecutable, toolVersion } from '../tools/tools';
import { RedisClient, type RedisTarget } from './client';

/**
 * Why a redis-server stopped, from its log: its last lines, without its warnings about this
 * machine's settings (memory overcommit, THP), which say nothing about the RDB it could not load.
 */
export function redisLogTail(log: string): string {
  return redactText(
    log
      .trim()
      .split('\n')
      .filter((l) => !/ # WARNING /.test(l))
      .slice(-3)
      .join(' / '),
  );
}

/** A Redis tool (redis-server, redis-cli, redis-check-rdb, redis-check-aof) on PATH, or TOOL_MISSING. */
export function redisTool(name: string): string {
  const path = findExecutable(name, {
    preferDirs: process.env.LIFEBOAT_REDIS_BIN ? [process.env.LIFEBOAT_REDIS_BIN] : [],
  });
  if (!path)
    throw new LifeboatError('TOOL_MISSING', `${name} was not found on PATH.`, {
      hint: 'Install the Redis tools (Debian: apt-get install redis-server redis-tools).',
    });
  return path;
}

export interface ScratchRedis {
  target: RedisTarget;
  version: string | null;
  stop(): Promise<void>;
}

/**
 * A scratch redis-server on the data in `dir` (dump.rdb, or the AOF directory with `aof`): no TCP
 * listener at all (`--port 0`), a unix socket in `dir` (0700), nothing saved (`--save ''`),
 * protected mode on, no module or debug command. A backup is data here, never code: the server
 * loads it with no network to talk to and is stopped without saving.
 */
export async function startScratchRedis(
  dir: string,
  o: { aof?: string | null; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<ScratchRedis> {
  const server = redisTool('redis-server');
  const socket = join(dir, 'redis.sock');
  const log = join(dir, 'redis.log');
  const args = [
    '--port',
    '0',
    '--bind',
    '127.0.0.1',
    '--unixsocket',
    socket,
    '--unixsocketperm',
    '700',
    '--protected-mode',
    'yes',
    '--dir',
    dir,
    '--dbfilename',
    'dump.rdb',
    '--save',
    '',
    '--daemonize',
    'no',
    '--logfile',
    log,
    '--enable-debug-command',
    'no',
    '--enable-module-command',
    'no',
    ...(o.aof ? ['--appendonly', 'yes', '--appenddirname', o.aof] : ['--appendonly', 'no']),
  ];
  const tool: RunningTool = spawnTool(server, args, { what: 'redis-server (scratch)', signal: o.signal });
  tool.child.stdout.resume();
  let exited: Error | null = null;
  tool.exited.then(
    () => (exited = new LifeboatError('TOOL_FAILED', 'The scratch redis-server stopped.')),
    (e: Error) => (exited = e),
  );
  const target: RedisTarget = { host: '127.0.0.1', port: 0, socket, user: null, password: null };
  const stop = async (): Promise<void> => {
    if (tool.child.exitCode !== null || tool.child.signalCode !== null) return;
    tool.child.kill('SIGTERM');
    const timer = setTimeout(() => tool.child.kill('SIGKILL'), 5000);
    await tool.exited.catch(() => undefined);
    clearTimeout(timer);
  };
  // A large RDB takes a while to load (some 100 MB/s): the server exiting ends the wait sooner.
  const deadline = Date.now() + (o.timeoutMs ?? 30 * 60_000);
  const logTail = (): string => (existsSync(log) ? redisLogTail(readFileSync(log, 'utf8')) : '');
  for (;;) {
    if (exited) {
      throw new LifeboatError(
        'DB_RESTORE_FAILED',
        `The scratch redis-server could not load the backup: ${logTail() || (exited as Error).message}`,
      );
    }
    if (Date.now() > deadline) {
      await stop();
      throw new LifeboatError(
        'DB_RESTORE_FAILED',
        `The scratch redis-server did not finish loading in time: ${logTail()}`,
      );
    }
    if (existsSync(socket)) {
      try {
        const c = await RedisClient.open(target, 2000);
        try {
          if ((await c.text(['PING'])) === 'PONG') break;
        } finally {
          c.close();
        }
      } catch {
        // still loading (-LOADING) or not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { target, version: await toolVersion(server), stop };
}
