import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboatAsync } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { startS3, type TestS3 } from '../helpers/s3';
import { loadSampleData } from '../helpers/sample-data';
import { keyedMedium } from '../helpers/keyed-medium';
import { tempDir } from '../helpers/temp';

let pg: ScratchCluster;
let s3: TestS3;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let folder: string;
let recipient: string;
let signKey: string;

beforeAll(async () => {
  dir = tempDir();
  [pg, s3] = await Promise.all([startPostgres(), startS3()]);
  await loadSampleData(pg.url());
  await s3.createBucket('backups');
  // The CLI takes S3 settings from the standard AWS sources.
  env = {
    LIFEBOAT_HOME: join(dir.path, 'home'),
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };
  // The folder medium and the keys need no S3 (the blocking CLI is fine); the S3 medium is served in this process.
  ({ medium: folder, recipient, signKey } = keyedMedium(env, dir.path, { medium: 'usb', label: 'usb', trust: false }));
  expect((await lifeboatAsync(env, 'medium', 'init', 's3://backups/prod', '--label', 'offsite')).status).toBe(0);
});
afterAll(async () => {
  await pg.destroy();
  await s3.stop();
  dir.cleanup();
});

async function download(key: string): Promise<Buffer> {
  const r = await s3.client.send(new GetObjectCommand({ Bucket: 'backups', Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

describe('backups to S3', () => {
  it('writes one set to a folder and to S3 in one pass, byte-identical', async () => {
    const r = await lifeboatAsync(
      env,
      'backup',
      'pg',
      '--system',
      'shop-db',
      '--db',
      pg.url(),
      '--to',
      folder,
      '--to',
      's3://backups/prod',
      '--recipient',
      recipient,
      '--sign-key',
      signKey,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const set = json<{ path: string; locations: string[] }>(r);
    expect(set.locations).toEqual([`${folder}/${set.path}`, `s3://backups/prod/${set.path}`]);
    const listing = await s3.client.send(new ListObjectsV2Command({ Bucket: 'backups', Prefix: `prod/${set.path}/` }));
    const names = (listing.Contents ?? []).map((o) => o.Key!.split('/').pop()).sort();
    expect(names).toEqual(['SHA256SUMS', 'db.dump.zst.age', 'manifest.json', 'manifest.json.sig']);
    for (const name of names) {
      const local = readFileSync(join(folder, set.path, name!));
      expect((await download(`prod/${set.path}/${name}`)).equals(local), name).toBe(true);
    }
  });

  // s3rver checks the access key id (it does not verify SigV4 signatures).
  it('verifies the S3 copy at authenticity level', async () => {
    expect((await lifeboatAsync(env, 'keys', 'trust', `${signKey}.pub`)).status).toBe(0);
    const r = await lifeboatAsync(env, 'verify', 's3://backups/prod', '--level', 'authenticity', '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(json<{ sets: number; failed: number }>(r)).toMatchObject({ sets: 1, failed: 0 });
  });

  it('a wrong access key is reported as access denied (exit 2) and writes nothing', async () => {
    const r = await lifeboatAsync(
      { ...env, AWS_ACCESS_KEY_ID: 'NOT-A-KEY', AWS_SECRET_ACCESS_KEY: 'not-the-secret' },
      'backup',
      'pg',
      '--system',
      'other',
      '--db',
      pg.url(),
      '--to',
      's3://backups/prod',
      '--json',
    );
    expect(r.status).toBe(2);
    expect(json<{ error: { code: string } }>(r).error.code).toBe('STORAGE_ACCESS_DENIED');
    expect(r.stdout + r.stderr).not.toContain('not-the-secret');
  });

  it('a missing bucket exits 2 with a clear message', async () => {
    const r = await lifeboatAsync(
      env,
      'backup',
      'pg',
      '--system',
      'other',
      '--db',
      pg.url(),
      '--to',
      's3://no-such-bucket/x',
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bucket does not exist/);
  });

  it('an unreachable endpoint exits 2', async () => {
    const r = await lifeboatAsync(
      { ...env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' },
      'backup',
      'pg',
      '--system',
      'other',
      '--db',
      pg.url(),
      '--to',
      's3://backups/prod',
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/reach/i);
  });

  it('prunes on S3 with the same rules (dry run by default)', async () => {
    for (let i = 0; i < 2; i++) {
      // No wait for the next second: a set made in the same second gets the next suffix (set-writer.ts).
      expect(
        (await lifeboatAsync(env, 'backup', 'pg', '--system', 'shop-db', '--db', pg.url(), '--to', 's3://backups/prod'))
          .status,
      ).toBe(0);
    }
    const dry = json<{ applied: boolean; keep: Array<{ reasons: string[] }>; remove: Array<{ path: string }> }>(
      await lifeboatAsync(env, 'prune', '--to', 's3://backups/prod', '--keep-last', '1', '--json'),
    );
    expect(dry.applied).toBe(false);
    // The newest set, and the first one because it is the newest verified set (verified above).
    expect(dry.keep.map((k) => k.reasons)).toEqual([['last 1'], ['newest verified set']]);
    expect(dry.remove).toHaveLength(1);
    const applied = await lifeboatAsync(
      env,
      'prune',
      '--to',
      's3://backups/prod',
      '--keep-last',
      '1',
      '--apply',
      '--json',
    );
    expect(applied.status, applied.stderr).toBe(0);
    const left = await s3.client.send(new ListObjectsV2Command({ Bucket: 'backups', Prefix: 'prod/sets/' }));
    const setDirs = new Set((left.Contents ?? []).map((o) => o.Key!.split('/').slice(0, 4).join('/')));
    expect(setDirs.size).toBe(2);
  });
});

it('keeps the catalog aware of both copies', async () => {
  const r = await lifeboatAsync(env, 'info', '--json');
  expect(json<{ catalog: { media: number } }>(r).catalog.media).toBe(2);
  void query;
});

describe('the WAL archive on S3', () => {
  it('wal-push stores a segment once, signed, a retry with the same content succeeds, wal-fetch returns it signature- and hash-checked', async () => {
    const seg = join(dir.path, 'wal', '000000010000000000000007');
    mkdirSync(join(dir.path, 'wal'), { recursive: true });
    writeFileSync(seg, Buffer.concat([Buffer.from('segment '), Buffer.alloc(64 * 1024, 3)]));
    const walKey = join(dir.path, 'wal-sign.pem');
    expect((await lifeboatAsync(env, 'keys', 'signing-new', '--out', walKey)).status).toBe(0);
    const unsigned = join(dir.path, 'wal', '000000010000000000000006');
    writeFileSync(unsigned, Buffer.from('an unsigned segment'));
    expect(
      (
        await lifeboatAsync(
          env,
          'wal-push',
          unsigned,
          '--system',
          'shop-db',
          '--to',
          's3://backups/prod',
          '--recipient',
          recipient,
        )
      ).status,
    ).toBe(0);
    expect(
      (
        await lifeboatAsync(
          env,
          'wal-push',
          seg,
          '--system',
          'shop-db',
          '--to',
          's3://backups/prod',
          '--recipient',
          recipient,
          '--sign-key',
          walKey,
        )
      ).status,
    ).toBe(0);
    const again = await lifeboatAsync(
      env,
      'wal-push',
      seg,
      '--system',
      'shop-db',
      '--to',
      's3://backups/prod',
      '--recipient',
      recipient,
      '--sign-key',
      walKey,
    );
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('already archived');
    const out = join(dir.path, 'fetched');
    const fetched = await lifeboatAsync(
      env,
      'wal-fetch',
      '000000010000000000000007',
      out,
      '--system',
      'shop-db',
      '--from',
      's3://backups/prod',
      '--identity',
      join(dir.path, 'id.age'),
      '--trust-key',
      `${walKey}.pub`,
    );
    expect(fetched.status, fetched.stderr).toBe(0);
    expect(readFileSync(out)).toEqual(readFileSync(seg));
    // The unsigned one is refused, then accepted only when the operator says so.
    const refused = await lifeboatAsync(
      env,
      'wal-fetch',
      '000000010000000000000006',
      out,
      '--system',
      'shop-db',
      '--from',
      's3://backups/prod',
      '--identity',
      join(dir.path, 'id.age'),
      '--trust-key',
      `${walKey}.pub`,
    );
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('unsigned');
    const accepted = await lifeboatAsync(
      env,
      'wal-fetch',
      '000000010000000000000006',
      out,
      '--system',
      'shop-db',
      '--from',
      's3://backups/prod',
      '--identity',
      join(dir.path, 'id.age'),
      '--trust-key',
      `${walKey}.pub`,
      '--allow-unsigned-wal',
    );
    expect(accepted.status, accepted.stderr).toBe(0);
    expect(
      (
        await lifeboatAsync(
          env,
          'wal-fetch',
          '000000010000000000000008',
          out,
          '--system',
          'shop-db',
          '--from',
          's3://backups/prod',
        )
      ).status,
    ).toBe(1);
  });
});
