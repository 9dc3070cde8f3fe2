import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeArtifact } from '../../electron/engine/pipeline/artifact-pipeline';
import { createS3Client } from '../../electron/engine/storage/s3-client';
import { S3Medium } from '../../electron/engine/storage/s3-medium';
import { json, lifeboatAsync, type CliRun } from '../helpers/cli';
import { startS3Process, type S3Process } from '../helpers/s3';
import { tempDir } from '../helpers/temp';

let dir: ReturnType<typeof tempDir>;
let s3: S3Process;
let env: NodeJS.ProcessEnv;
let big: string;
let small: string;
const CREDS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function keys(endpoint: string): Promise<string[]> {
  const client = createS3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    const r = await client.send(new ListObjectsV2Command({ Bucket: 'backups', Prefix: 'prod/sets/' }));
    return (r.Contents ?? []).map((o) => o.Key!).sort();
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  dir = tempDir();
  const store = join(dir.path, 's3');
  mkdirSync(join(store, 'backups'), { recursive: true }); // the bucket: s3rver keeps one folder per bucket
  s3 = await startS3Process(store);
  env = { LIFEBOAT_HOME: join(dir.path, 'home'), AWS_ENDPOINT_URL_S3: s3.endpoint, ...CREDS };
  expect((await lifeboatAsync(env, 'medium', 'init', 's3://backups/prod', '--label', 'offsite')).status).toBe(0);
  // Incompressible, so the upload takes a while: the connection is lost while parts are in flight.
  big = join(dir.path, 'big');
  mkdirSync(big);
  for (let i = 0; i < 6; i++) writeFileSync(join(big, `photo-${i}.jpg`), randomBytes(16 * 1024 * 1024));
  small = join(dir.path, 'small');
  mkdirSync(small);
  writeFileSync(join(small, 'note.txt'), 'after the outage');
}, 60_000);
afterAll(async () => {
  await s3?.kill();
  dir?.cleanup();
});

/**
 * A TCP relay to S3 that cuts every connection, and stops listening, once the server has sent
 * `afterBytes`: S3 lost in the middle of a download, at a byte count rather than a moment.
 */
async function cuttingRelay(port: number, afterBytes: number): Promise<{ endpoint: string; close(): void }> {
  const sockets = new Set<Socket>();
  let sent = 0;
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.on('error', () => undefined).on('close', () => sockets.delete(sock));
    }
    client.pipe(upstream);
    upstream.on('data', (d: Buffer) => {
      sent += d.length;
      if (sent <= afterBytes) return void client.write(d);
      server.close();
      for (const sock of sockets) sock.destroy();
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => {
      server.close();
      for (const sock of sockets) sock.destroy();
    },
  };
}

/** Start a backup of the big folder; resolves once its in-progress marker is on S3 (the run goes on). */
async function backupUnderWay(extra: NodeJS.ProcessEnv = {}): Promise<{ running: Promise<CliRun> }> {
  const running = lifeboatAsync(
    { ...env, ...extra },
    'backup',
    'files',
    '--system',
    'photos',
    '--path',
    big,
    '--to',
    's3://backups/prod',
    '--json',
  );
  // The set's in-progress marker is the first thing written, the data follows at once: watched
  // in s3rver's own store (faster than asking it), so S3 goes while the data is on its way.
  const sets = join(dir.path, 's3', 'backups', 'prod', 'sets');
  const marked = (): boolean =>
    existsSync(sets) && readdirSync(sets, { recursive: true }).some((f) => String(f).includes('.partial'));
  for (let i = 0; i < 2000 && !marked(); i++) await sleep(5);
  expect(marked()).toBe(true);
  await sleep(100);
  return { running };
}

function expectUnreachable(run: CliRun, message: RegExp): void {
  const out = json<{ ok: boolean; error: { code: string; message: string } }>(run);
  expect(out.ok, JSON.stringify(out)).toBe(false);
  // S3 out of reach is the environment (exit 2), as when it is unreachable from the start.
  expect(out.error.code, run.stderr + JSON.stringify(out)).toBe('STORAGE_UNREACHABLE');
  expect(run.status).toBe(2);
  expect(out.error.message).toMatch(message);
  expect(run.stdout + run.stderr).not.toContain('S3RVER'); // the keys appear nowhere
}

describe('S3 lost in the middle of a backup', () => {
  it('killed: fails at once and clearly, leaves nothing a reader takes for a set, and the next backup cleans up and succeeds', async () => {
    const { running } = await backupUnderWay();
    const t0 = Date.now();
    await s3.kill();
    const failed = await running;
    expect(Date.now() - t0).toBeLessThan(30_000);
    expectUnreachable(failed, /S3 upload of files\.tar\.zst: Could not reach the server/);

    // S3 is back (same store, same address): no manifest anywhere, a scan finds no set.
    s3 = await startS3Process(join(dir.path, 's3'), s3.port);
    const left = await keys(s3.endpoint);
    expect(left.filter((k) => k.endsWith('/manifest.json'))).toEqual([]);
    expect(left.some((k) => k.endsWith('/.partial'))).toBe(true); // S3 was gone: the next backup tidies up
    const scan = await lifeboatAsync(
      { ...env, LIFEBOAT_HOME: join(dir.path, 'laptop') },
      'scan',
      's3://backups/prod',
      '--json',
    );
    expect(scan.status, scan.stderr).toBe(0);
    expect(json<{ sets: { total: number } }>(scan).sets.total).toBe(0);

    const next = await lifeboatAsync(
      env,
      'backup',
      'files',
      '--system',
      'photos',
      '--path',
      small,
      '--to',
      's3://backups/prod',
      '--json',
    );
    expect(next.status, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/removed leftovers of an interrupted backup/);
    const setPath = json<{ path: string }>(next).path;
    const now = await keys(s3.endpoint);
    expect(now.filter((k) => k.endsWith('/.partial'))).toEqual([]);
    expect(now.filter((k) => k.endsWith('/manifest.json'))).toEqual([`prod/${setPath}/manifest.json`]);
    expect(now.every((k) => k.startsWith(`prod/${setPath}/`))).toBe(true);
  }, 60_000);

  it('silent (the link drops packets): fails after the idle timeout instead of hanging, and writes no set', async () => {
    const { running } = await backupUnderWay({ LIFEBOAT_S3_IDLE_TIMEOUT: '1' });
    s3.freeze();
    const failed = await running;
    expectUnreachable(failed, /stopped answering/);
    expect(json<{ error: { hint: string } }>(failed).error.hint).toMatch(/LIFEBOAT_S3_IDLE_TIMEOUT/);
    await s3.kill();
    s3 = await startS3Process(join(dir.path, 's3'), s3.port);
    const sets = (await keys(s3.endpoint)).filter((k) => k.endsWith('/manifest.json'));
    expect(sets).toHaveLength(1); // only the first test's set
  }, 60_000);

  it('lost while a verification reads a set: the run fails (exit 2) and no set is judged corrupted or missing for it', async () => {
    const made = await lifeboatAsync(
      env,
      'backup',
      'files',
      '--system',
      'archive',
      '--path',
      big,
      '--to',
      's3://backups/prod',
      '--json',
    );
    expect(made.status, made.stderr).toBe(0);
    const key = `archive/${json<{ set_id: string }>(made).set_id}`;
    const relay = await cuttingRelay(s3.port, 20 * 1024 * 1024);
    try {
      const cut = await lifeboatAsync(
        { ...env, AWS_ENDPOINT_URL_S3: relay.endpoint },
        'verify',
        's3://backups/prod',
        '--level',
        'integrity',
        '--json',
      );
      expectUnreachable(cut, /went out of reach while .* was being read.*nothing was recorded/s);
    } finally {
      relay.close();
    }
    const where = json<{ rows: Array<{ lastVerification: { verdict: string } | null }> }>(
      await lifeboatAsync(env, 'where', key, '--json'),
    );
    expect(where.rows.map((r) => r.lastVerification)).toEqual([null]);
    // S3 itself never went away: verified directly, the set passes.
    const again = await lifeboatAsync(env, 'verify', 's3://backups/prod', '--level', 'integrity', '--json');
    expect(again.status, again.stdout + again.stderr).toBe(0);
    const after = json<{ rows: Array<{ lastVerification: { verdict: string } | null }> }>(
      await lifeboatAsync(env, 'where', key, '--json'),
    );
    expect(after.rows[0]!.lastVerification?.verdict).toBe('ok');
  }, 60_000);

  it('lost while the WAL archive is checked: the run fails (exit 2) instead of calling the unread segments corrupt', async () => {
    const wal = join(dir.path, 'wal');
    mkdirSync(wal);
    for (const n of [1, 2, 3]) {
      const segment = join(wal, `00000001000000000000000${n}`);
      writeFileSync(segment, randomBytes(16 * 1024 * 1024));
      const pushed = await lifeboatAsync(env, 'wal-push', segment, '--system', 'orders', '--to', 's3://backups/prod');
      expect(pushed.status, pushed.stderr).toBe(0);
    }
    const relay = await cuttingRelay(s3.port, 20 * 1024 * 1024);
    try {
      const cut = await lifeboatAsync(
        { ...env, AWS_ENDPOINT_URL_S3: relay.endpoint },
        'verify',
        's3://backups/prod',
        '--wal',
        'orders',
        '--json',
      );
      expectUnreachable(
        cut,
        /went out of reach while 0{7}10{15}[123] was being read: .* [12] of 3 WAL files were checked\./,
      );
    } finally {
      relay.close();
    }
    const direct = await lifeboatAsync(
      env,
      'verify',
      's3://backups/prod',
      '--wal',
      'orders',
      '--allow-unsigned-wal',
      '--json',
    );
    expect(direct.status, direct.stdout + direct.stderr).toBe(0);
    expect(json<{ files: number; corrupt: unknown[] }>(direct)).toMatchObject({ files: 3, corrupt: [] });
  }, 60_000);

  it('killed while the source is slower than the upload: it fails with the upload error, not as a cancel', async () => {
    // The upload keeps up, so its body is never full and the encoder's next write arrives after
    // the upload stopped reading (a busy machine). That write used to fail with the AbortError
    // Node destroys an abandoned body with: reported as CANCELLED ("Cancelled."), not as S3 lost.
    const medium = new S3Medium('s3://backups/prod', {
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const writer = await medium.beginSet('slow', 'slow-source');
    let sent = 0;
    const killed = (async () => {
      while (sent < 20 * 1024 * 1024) await sleep(5);
      await s3.kill();
    })();
    const stored = storeArtifact(
      async (w) => {
        for (let i = 0; i < 400; i++) {
          await w.write(randomBytes(512 * 1024));
          sent += 512 * 1024;
          await sleep(10);
        }
      },
      { recipients: [], sinks: [writer.openArtifact('files.tar.zst')] },
    );
    await expect(stored).rejects.toMatchObject({
      code: 'STORAGE_UNREACHABLE',
      message: expect.stringMatching(/S3 upload of files\.tar\.zst: Could not reach the server/),
    });
    await killed;
    medium.client.destroy();
    s3 = await startS3Process(join(dir.path, 's3'), s3.port);
  }, 60_000);
});
