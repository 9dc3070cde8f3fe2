import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SetResult } from '../../../shared/domain/verify';
import type { AgeIdentity } from '../crypto/age';
import { LifeboatError } from '../errors';
import type { Manifest } from '../format/manifest';
import type { JobContext } from '../jobs/job-manager';
import { redactText } from '../log/redact';
import { redisTool, startScratchRedis } from '../redis/scratch';
import { extractTar } from '../restore/extract';
import { gateStages, specOf } from '../restore/gate';
import { validateRedis } from '../restore/redis';
import type { Medium } from '../storage/medium';
import { settled, type Consumer } from './consumers';

/** A private temp folder for a decoded artifact (removed once the check is done). */
function workDir(): string {
  return mkdtempSync(join(process.env.LIFEBOAT_TMPDIR ?? tmpdir(), 'lifeboat-redis-check-'));
}

/** Run a redis-check tool; its verdict is its exit status, its last lines the detail. */
function check(tool: string, args: string[], cwd: string): Promise<{ ok: boolean; lines: string }> {
  return new Promise((resolve) => {
    const child = spawn(tool, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer): void => {
      out = (out + d.toString('utf8')).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (e) => resolve({ ok: false, lines: e.message }));
    child.once('close', (code) => resolve({ ok: code === 0, lines: redactText(out.trim()) }));
  });
}

const last = (text: string, n: number): string =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(' / ');

/**
 * What redis-check-rdb found, from its output: the line after `--- RDB ERROR DETECTED ---` (the
 * offset and the error) and what it was doing; its last lines are only the zero counters.
 */
export function rdbFailure(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const at = lines.findIndex((l) => l.includes('RDB ERROR DETECTED'));
  if (at < 0) return last(output, 2);
  const doing = lines.slice(at + 1).find((l) => l.startsWith('[additional info] While doing:'));
  return [lines[at + 1], doing?.replace('[additional info] ', '')].filter(Boolean).join(' / ');
}

/**
 * Deep verification of a redis set's RDB: the decoded plaintext written to a private temp file
 * (only after the gate's hashes, which the caller judges), then `redis-check-rdb` on it.
 */
export function redisRdbCheck(): Consumer {
  const tool = redisTool('redis-check-rdb');
  const dir = workDir();
  const file = join(dir, 'dump.rdb');
  const sink: Writable = createWriteStream(file, { mode: 0o600 });
  const ended = settled(sink);
  // A stream that failed before its end (the gate stopped it) never asks for the outcome: clean up here.
  let finished = false;
  sink.once('finish', () => (finished = true));
  sink.once('close', () => {
    if (!finished) rmSync(dir, { recursive: true, force: true });
  });
  return {
    sink,
    outcome: async () => {
      try {
        const failure = await ended();
        if (failure) return { verdict: 'corrupted', detail: failure.message };
        const r = await check(tool, [file], dir);
        if (!r.ok) return { verdict: 'unreadable-dump', detail: `redis-check-rdb failed: ${rdbFailure(r.lines)}` };
        const keys = /(\d+) keys read/.exec(r.lines)?.[1];
        return { verdict: 'ok', detail: `redis-check-rdb: RDB looks OK${keys ? ` (${keys} keys read)` : ''}` };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Deep verification of a redis set's AOF directory: the tar extracted safely into a private temp
 * folder (restore/extract.ts), then `redis-check-aof` on its manifest.
 */
export function redisAofCheck(): Consumer {
  const tool = redisTool('redis-check-aof');
  const dir = workDir();
  const sink = new PassThrough();
  const extracted = extractTar(sink, [], dir, { accept: () => true });
  // A stream that failed before its end never asks for the outcome: clean up here.
  extracted.catch(() => rmSync(dir, { recursive: true, force: true }));
  return {
    sink,
    outcome: async () => {
      try {
        try {
          await extracted;
        } catch (e) {
          return { verdict: 'corrupted', detail: `the AOF tar: ${(e as Error).message}` };
        }
        const aof = join(dir, 'appendonlydir');
        const manifest = readdirSync(aof).find((n) => n.endsWith('.manifest'));
        if (!manifest) return { verdict: 'unreadable-dump', detail: 'the AOF tar holds no AOF manifest' };
        const r = await check(tool, [join(aof, manifest)], aof);
        if (!r.ok) return { verdict: 'unreadable-dump', detail: `redis-check-aof failed: ${last(r.lines, 2)}` };
        return { verdict: 'ok', detail: `redis-check-aof: ${last(r.lines, 1)}` };
      } catch (e) {
        return { verdict: 'unreadable-dump', detail: (e as Error).message };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The restore level of a redis set: its RDB read again through the gate (hashes checked, not
 * trusted from the deep pass), loaded by a scratch redis-server (restore/redis.ts's rules: a unix
 * socket only, nothing saved) and checked against the key counts and sampled keys the manifest
 * recorded; the load and checks timed as the measured restore time.
 */
export async function redisRestoreTest(
  manifest: Manifest,
  medium: Medium,
  setPath: string,
  identities: AgeIdentity[],
  ctx: Pick<JobContext, 'signal' | 'log'>,
): Promise<NonNullable<SetResult['restore']>> {
  const rdb = manifest.artifacts.find((a) => a.role === 'redis-rdb');
  if (!rdb) throw new LifeboatError('PRECONDITION_FAILED', 'A redis restore test needs the RDB (redis-rdb artifact).');
  redisTool('redis-server');
  const started = Date.now();
  const dir = workDir();
  try {
    const gated = gateStages(specOf(`${manifest.system}/${manifest.set_id}`, rdb), identities, { check: true });
    await pipeline(
      [
        await medium.openRead(`${setPath}/${rdb.path}`),
        ...gated.stages,
        createWriteStream(join(dir, 'dump.rdb'), { mode: 0o600 }),
      ],
      { signal: ctx.signal },
    );
    ctx.log('info', `restore test of ${manifest.system}/${manifest.set_id}: a scratch redis-server loads the RDB`);
    const server = await startScratchRedis(dir, { signal: ctx.signal });
    try {
      const checks = await validateRedis(server.target, manifest.source);
      return {
        durationMs: Date.now() - started,
        database: 'scratch redis-server',
        checks: checks.map((c) => ({ sql: c.what, expect: 'as the backup recorded', got: c.detail, ok: c.ok })),
      };
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
