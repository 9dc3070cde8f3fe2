import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboatAsync } from '../helpers/cli';
import { startS3, type TestS3 } from '../helpers/s3';
import { tempDir } from '../helpers/temp';

let s3: TestS3;
let dir: ReturnType<typeof tempDir>;
let server: NodeJS.ProcessEnv;
let laptop: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = tempDir();
  s3 = await startS3();
  await s3.createBucket('dr-site');
  const aws = {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };
  server = { ...aws, LIFEBOAT_HOME: join(dir.path, 'server') };
  laptop = { ...aws, LIFEBOAT_HOME: join(dir.path, 'laptop') };
  const src = join(dir.path, 'etc-app');
  mkdirSync(src);
  writeFileSync(join(src, 'app.conf'), 'port=8080\n');
  expect((await lifeboatAsync(server, 'medium', 'init', 's3://dr-site/offsite', '--label', 'offsite')).status).toBe(0);
  for (let i = 0; i < 2; i++) {
    const r = await lifeboatAsync(
      server,
      'backup',
      'files',
      '--class',
      'config',
      '--allow-plaintext',
      '--system',
      'app-config',
      '--path',
      src,
      '--to',
      's3://dr-site/offsite',
    );
    expect(r.status, r.stderr).toBe(0);
  }
});
afterAll(async () => {
  await s3.stop().catch(() => undefined);
  dir.cleanup();
});

describe('scanning S3 media, offline first', () => {
  it('scans, then skips unchanged manifests by ETag', async () => {
    let r = await lifeboatAsync(laptop, 'scan', 's3://dr-site/offsite', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(json<{ sets: { new: number } }>(r).sets.new).toBe(2);
    r = await lifeboatAsync(laptop, 'scan', 's3://dr-site/offsite', '--json');
    expect(json<{ sets: { unchanged: number; new: number } }>(r).sets).toMatchObject({ unchanged: 2, new: 0 });
  });

  it('when S3 is unreachable, the scan fails clearly and the catalog still answers with its age', async () => {
    await s3.stop();
    const r = await lifeboatAsync(laptop, 'scan', 's3://dr-site/offsite', '--json');
    expect(r.status).toBe(2);
    expect(json<{ error: { code: string } }>(r).error.code).toBe('STORAGE_UNREACHABLE');
    const sets = json<unknown[]>(await lifeboatAsync(laptop, 'sets', '--json'));
    expect(sets).toHaveLength(2);
    const media = json<Array<{ lastSync: string; lastError: string | null }>>(
      await lifeboatAsync(laptop, 'media', '--json'),
    );
    expect(media[0]!.lastSync).toBeTruthy();
    expect(media[0]!.lastError).toMatch(/reach|S3/i);
    const text = (await lifeboatAsync(laptop, 'media')).stdout;
    expect(text).toMatch(/last scan failed/);
    expect(text).toMatch(/ago/);
    // Verifying an unreachable S3 medium is an environment error, said plainly.
    const v = await lifeboatAsync(laptop, 'verify', 's3://dr-site/offsite', '--json');
    expect(v.status).toBe(2);
    expect(json<{ error: { code: string; message: string } }>(v).error).toMatchObject({
      code: 'STORAGE_UNREACHABLE',
      message: expect.stringMatching(/S3|reach/i),
    });
  });
});
