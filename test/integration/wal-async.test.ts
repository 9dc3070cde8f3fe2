import { spawnSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSigningKey } from '../../electron/engine/crypto/signing';
import { openMedium } from '../../electron/engine/storage/open-medium';
import { consumeDone, ensureArchiver, fileStamp, runArchiver, spoolPaths } from '../../electron/engine/pitr/wal-async';
import { postgresRunAs } from '../../electron/engine/postgres/scratch-cluster';
import { BIN, lifeboat } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { tempDir } from '../helpers/temp';

const FAST = join(BIN, '..', 'lifeboat-wal-push');
const SEG = (n: number): string => `00000001000000000000${n.toString(16).toUpperCase().padStart(4, '0')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let recipient: string;
let identity: string;
let signKey: string;

function newMedium(name: string): string {
  const m = join(dir.path, name);
  expect(lifeboat(env, 'medium', 'init', m, '--label', name).status).toBe(0);
  return m;
}

/** A pg_wal folder as PostgreSQL leaves it: segments, and archive_status/<name>.ready for the complete ones. */
function fakePgWal(name: string, count: number): string {
  const wal = join(dir.path, name);
  mkdirSync(join(wal, 'archive_status'), { recursive: true });
  for (let i = 1; i <= count; i++) {
    const bytes = Buffer.alloc(1024 * 1024);
    bytes.write(`segment ${i} of ${name}`);
    writeFileSync(join(wal, SEG(i)), bytes);
    writeFileSync(join(wal, 'archive_status', `${SEG(i)}.ready`), '');
  }
  return wal;
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  identity = join(dir.path, 'id.age');
  recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  signKey = join(dir.path, 'wal-sign.pem');
  expect(lifeboat(env, 'keys', 'signing-new', '--out', signKey).status).toBe(0);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`).status).toBe(0);
});

afterAll(() => dir?.cleanup());

describe('the background archiver (wal-push --async)', () => {
  it('pushes every ready file ahead, leaves markers that the sh fast path and Node both accept, and only for that very file', async () => {
    const medium = newMedium('m1');
    const wal = fakePgWal('wal1', 5);
    const spool = spoolPaths(join(dir.path, 'spool1'));
    const lines: string[] = [];
    const key = loadSigningKey(readFileSync(signKey));
    const summary = await runArchiver({
      spool,
      pgWal: wal,
      medium: await openMedium(medium),
      system: 'db',
      recipients: [],
      signKey: key,
      jobs: 2,
      idleMs: 200,
      log: (l) => lines.push(l),
    });
    expect(summary).toMatchObject({ pushed: 5, failed: 0, exitedBecause: 'idle' });
    // Each pushed file has its signature sidecar.
    expect(readdirSync(join(medium, 'wal', 'db', '00000001')).filter((f) => f.endsWith('.sig'))).toHaveLength(5);
    expect(readdirSync(spool.done).sort()).toEqual([1, 2, 3, 4, 5].map(SEG));
    expect(existsSync(spool.pid)).toBe(false);
    // The marker is what GNU stat prints for the file: the sh fast path compares exactly that.
    const stat = spawnSync('stat', ['-c', '%d:%i:%s:%Y', join(wal, SEG(1))], { encoding: 'utf8' }).stdout.trim();
    expect(readFileSync(join(spool.done, SEG(1)), 'utf8').trim()).toBe(stat);
    expect(fileStamp(join(wal, SEG(1)))).toBe(stat);
    // The archive is the same as a synchronous push would have made: wal-fetch returns the bytes.
    const back = join(dir.path, 'back');
    expect(lifeboat(env, 'wal-fetch', SEG(3), back, '--system', 'db', '--from', medium).status).toBe(0);
    expect(readFileSync(back).equals(readFileSync(join(wal, SEG(3))))).toBe(true);
    // The sh fast path acknowledges segment 1 without Node (a broken LIFEBOAT_NODE proves it).
    const sh = spawnSync(FAST, [join(wal, SEG(1)), '--system', 'db', '--to', medium, '--spool', spool.root], {
      env: { ...process.env, LIFEBOAT_NODE: '/nonexistent/node' },
      encoding: 'utf8',
    });
    expect(sh.status, sh.stderr).toBe(0);
    expect(existsSync(join(spool.done, SEG(1)))).toBe(false);
    // Node's fast path (bin/lifeboat.cjs) acknowledges segment 2.
    expect(
      lifeboat(
        env,
        'wal-push',
        join(wal, SEG(2)),
        '--system',
        'db',
        '--to',
        medium,
        '--async',
        '--spool',
        spool.root,
        '--sign-key',
        signKey,
      ).status,
    ).toBe(0);
    expect(existsSync(join(spool.done, SEG(2)))).toBe(false);
    // A marker for another file under the same name (a recycled segment, another cluster) acknowledges nothing.
    const other = join(wal, `${SEG(3)}.new`);
    writeFileSync(other, readFileSync(join(wal, SEG(3))));
    renameSync(other, join(wal, SEG(3)));
    expect(consumeDone(spool, join(wal, SEG(3)))).toBe(false);
    const shStale = spawnSync(FAST, [join(wal, SEG(4)), '--system', 'db', '--to', medium, '--spool', spool.root], {
      env: { ...process.env, LIFEBOAT_NODE: '/nonexistent/node' },
      encoding: 'utf8',
    });
    expect(shStale.status).toBe(0); // segment 4's marker is still good
    writeFileSync(join(spool.done, SEG(5)), '1:2:3:4\n');
    const shWrong = spawnSync(FAST, [join(wal, SEG(5)), '--system', 'db', '--to', medium, '--spool', spool.root], {
      env: { ...process.env, LIFEBOAT_NODE: '/nonexistent/node' },
      encoding: 'utf8',
    });
    expect(shWrong.status).not.toBe(0); // fell through to Node, which does not exist here
    // Markers whose .ready is gone (PostgreSQL archived the file) are cleared by the next archiver pass.
    for (const n of [3, 5]) unlinkSync(join(wal, 'archive_status', `${SEG(n)}.ready`));
    writeFileSync(join(spool.done, SEG(3)), 'stale\n');
    unlinkSync(join(wal, 'archive_status', `${SEG(1)}.ready`));
    await runArchiver({
      spool,
      pgWal: wal,
      medium: await openMedium(medium),
      system: 'db',
      recipients: [],
      signKey: key,
      idleMs: 50,
    });
    expect(readdirSync(spool.done)).not.toContain(SEG(3));
    expect(readdirSync(spool.done)).not.toContain(SEG(5));
  });

  it('records a refused push as an error the archive_command reports, and one archiver per spool', async () => {
    const medium = newMedium('m2');
    const wal = fakePgWal('wal2', 2);
    // Another cluster already archived segment 2 under this system with other content.
    const foreign = fakePgWal('wal2-foreign', 2);
    writeFileSync(join(foreign, SEG(2)), Buffer.alloc(1024 * 1024, 7));
    expect(lifeboat(env, 'wal-push', join(foreign, SEG(2)), '--system', 'db', '--to', medium).status).toBe(0);
    const spool = spoolPaths(join(dir.path, 'spool2'));
    const summary = await runArchiver({
      spool,
      pgWal: wal,
      medium: await openMedium(medium),
      system: 'db',
      recipients: [],
      idleMs: 100,
    });
    expect(summary).toMatchObject({ pushed: 1, failed: 1 });
    expect(readFileSync(join(spool.error, SEG(2)), 'utf8')).toMatch(/already archived for db with different content/);
    // The archive_command (Node, --async) reports it and exits non-zero, so PostgreSQL keeps the file.
    writeFileSync(spool.config, JSON.stringify({ system: 'db', to: medium, recipients: [], pgWal: wal }));
    writeFileSync(spool.pid, '1'); // "an archiver is running" (pid 1 is always alive)
    const r = lifeboat(
      env,
      'wal-push',
      join(wal, SEG(2)),
      '--system',
      'db',
      '--to',
      medium,
      '--async',
      '--spool',
      spool.root,
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/could not push 000000010000000000000002.*different content/s);
    expect(existsSync(join(spool.error, SEG(2)))).toBe(false);
    // A running archiver with another configuration: refused rather than acknowledging pushes made elsewhere.
    expect(() =>
      ensureArchiver(
        spool,
        { system: 'db', to: join(dir.path, 'elsewhere'), recipients: [], pgWal: wal },
        () => undefined,
      ),
    ).toThrow(/used by an archiver \(pid \d+\) for another configuration/);
    // A second archiver on a locked spool leaves at once.
    const second = await runArchiver({
      spool,
      pgWal: wal,
      medium: await openMedium(medium),
      system: 'db',
      recipients: [],
      idleMs: 100,
    });
    expect(second.exitedBecause).toBe('locked');
    unlinkSync(spool.pid);
  });

  it('keeps up with PostgreSQL as archive_command, survives the archiver being killed, and archives every segment intact', async () => {
    const medium = newMedium('m3');
    const spool = join(dir.path, 'spool3');
    mkdirSync(spool);
    const runAs = postgresRunAs();
    if (runAs)
      for (const p of [dir.path, spool, medium, join(medium, 'sets'), join(medium, 'lifeboat-medium.json'), signKey])
        chownSync(p, runAs.uid, runAs.gid);
    const pg: ScratchCluster = await startPostgres({ wal_level: 'replica' });
    try {
      const command = `LIFEBOAT_NODE='${process.execPath}' '${FAST}' %p --system live --to '${medium}' --recipient ${recipient} --sign-key '${signKey}' --spool '${spool}'`;
      await query(pg.url(), `ALTER SYSTEM SET archive_mode = 'on'`);
      await query(pg.url(), `ALTER SYSTEM SET archive_command = '${command.replace(/'/g, "''")}'`);
      await pg.stopServer('fast');
      await pg.startServer({ settings: { wal_level: 'replica' } });
      const archived = async (): Promise<number> =>
        Number((await query<{ n: string }>(pg.url(), 'SELECT archived_count::text AS n FROM pg_stat_archiver'))[0]!.n);
      await query(pg.url(), 'CREATE TABLE beat (i int)');
      const switches = async (n: number): Promise<void> => {
        await query(
          pg.url(),
          `DO $$ BEGIN FOR i IN 1..${n} LOOP INSERT INTO beat VALUES (i); PERFORM pg_switch_wal(); COMMIT; END LOOP; END $$`,
        );
      };
      await switches(20);
      for (let i = 0; i < 400 && (await archived()) < 20; i++) await sleep(50);
      expect(await archived()).toBeGreaterThanOrEqual(20);
      // Kill the archiver: the next archive_command finds it gone and pushes itself, or starts another.
      const pid = Number(readFileSync(join(spool, 'archiver.pid'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      await switches(10);
      for (let i = 0; i < 400 && (await archived()) < 30; i++) await sleep(50);
      expect(await archived()).toBeGreaterThanOrEqual(30);
      const stats = (
        await query<{ failed: string }>(pg.url(), 'SELECT failed_count::text AS failed FROM pg_stat_archiver')
      )[0]!;
      expect(Number(stats.failed)).toBe(0);
      // Every segment is in the archive with its hash, contiguous: the same check `verify --wal` makes.
      const v = lifeboat(env, 'verify', medium, '--wal', 'live', '--identity', identity, '--json');
      expect(v.status, v.stderr + v.stdout).toBe(0);
      expect(statSync(join(spool, 'archiver.log')).size).toBeGreaterThan(0);
    } finally {
      await pg.destroy();
    }
  }, 180_000);
});
