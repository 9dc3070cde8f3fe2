import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type TestS3 } from '../helpers/s3';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket('lifeboat-test');
});
afterAll(async () => {
  await s3.stop();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function download(key: string): Promise<Buffer> {
  const r = await s3.client.send(new GetObjectCommand({ Bucket: 'lifeboat-test', Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

describe('S3 API server on loopback', () => {
  it('round-trips an object with its SHA-256 unchanged (streamed PutObject with a length)', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 17);
    await s3.client.send(new PutObjectCommand({ Bucket: 'lifeboat-test', Key: 'a/stream.bin', Body: Readable.from([body.subarray(0, 1000), body.subarray(1000)]), ContentLength: body.length }));
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: 'lifeboat-test', Key: 'a/stream.bin' }));
    expect(head.ContentLength).toBe(body.length);
    expect(sha(await download('a/stream.bin'))).toBe(sha(body));
  });

  it('round-trips a multipart upload of a stream of unknown length', async () => {
    const body = randomBytes(12 * 1024 * 1024 + 5);
    const chunks = [];
    for (let i = 0; i < body.length; i += 1024 * 1024) chunks.push(body.subarray(i, i + 1024 * 1024));
    await new Upload({ client: s3.client, params: { Bucket: 'lifeboat-test', Key: 'b/multipart.bin', Body: Readable.from(chunks) }, partSize: 5 * 1024 * 1024 }).done();
    expect(sha(await download('b/multipart.bin'))).toBe(sha(body));
  });
});
