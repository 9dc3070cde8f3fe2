import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMediumInfo } from '../../electron/engine/format/medium';
import { isGcsEndpoint, s3ClientConfig } from '../../electron/engine/storage/s3-client';
import { S3Medium } from '../../electron/engine/storage/s3-medium';
import { startS3, type TestS3 } from '../helpers/s3';

/**
 * No GCS emulator speaks the XML API's S3 dialect here, so what is checked is what Lifeboat sends:
 * the S3 medium with the settings GCS gets, through a recording proxy in front of s3rver that
 * refuses what GCS refuses (docs/media.md, "Google Cloud Storage"): the flexible checksum headers
 * of the AWS SDK's defaults and aws-chunked bodies. DeleteObjects is the exception: GCS requires
 * Content-MD5 or x-amz-checksum-crc32 on it.
 */
interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  refused: string | null;
}

function refusal(method: string, url: string, h: IncomingHttpHeaders): string | null {
  const multiDelete = method === 'POST' && /[?&]delete(=|&|$)/.test(url);
  for (const name of Object.keys(h)) {
    if (name.startsWith('x-amz-checksum-') && !(multiDelete && name === 'x-amz-checksum-crc32')) return name;
    if (name === 'x-amz-sdk-checksum-algorithm' && !multiDelete) return name;
    if (name === 'x-amz-trailer' || name === 'x-amz-decoded-content-length') return name;
  }
  if (/aws-chunked/i.test(String(h['content-encoding'] ?? ''))) return 'content-encoding: aws-chunked';
  if (/^STREAMING-/.test(String(h['x-amz-content-sha256'] ?? ''))) return 'x-amz-content-sha256: STREAMING-…';
  if (multiDelete && !h['content-md5'] && !h['x-amz-checksum-crc32']) return 'multi-object delete without a checksum';
  return null;
}

let s3: TestS3;
let proxy: Server;
let endpoint: string;
const seen: Seen[] = [];

beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket('gcs-bucket');
  const upstream = new URL(s3.endpoint);
  proxy = createServer((req, res) => {
    const why = refusal(req.method!, req.url!, req.headers);
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, refused: why });
    if (why) {
      req.resume();
      res.writeHead(400, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version='1.0' encoding='UTF-8'?><Error><Code>InvalidArgument</Code><Message>${why}</Message></Error>`,
      );
      return;
    }
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
}, 30_000);
afterAll(async () => {
  await new Promise<void>((r) => proxy?.close(() => r()));
  await s3?.stop();
}, 30_000);

describe('GCS through its S3-compatible XML API', () => {
  it('gets path-style addressing, checksums only where required, and the region auto', () => {
    const env = {};
    const config = s3ClientConfig(
      { endpoint: 'https://storage.googleapis.com', credentials: { accessKeyId: 'GOOG1E', secretAccessKey: 'x' } },
      env,
    );
    expect(config).toMatchObject({
      endpoint: 'https://storage.googleapis.com',
      region: 'auto',
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    expect(isGcsEndpoint('https://my-bucket.storage.googleapis.com')).toBe(true);
    expect(isGcsEndpoint('https://storage.googleapis.com.evil.example')).toBe(false);
    // AWS itself keeps its defaults, and another endpoint keeps us-east-1.
    expect(s3ClientConfig({}, env).requestChecksumCalculation).toBeUndefined();
    expect(s3ClientConfig({ endpoint: 'http://minio:9000' }, env).region).toBe('us-east-1');
  });

  it('a whole set (multipart artifact), listing, reads, WAL, removal and clean-up send nothing GCS refuses', async () => {
    const medium = new S3Medium('s3://gcs-bucket/prod', {
      endpoint,
      region: 'auto',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    try {
      await medium.writeInfo(newMediumInfo('gcs'));
      const writer = await medium.beginSet('shop', 'set-1');
      const sink = writer.openArtifact('files.tar.zst.age');
      const data = randomBytes(20 * 1024 * 1024 + 5); // three parts of 8 MiB: a multipart upload
      sink.stream.end(data);
      await sink.done;
      await writer.commit([
        { name: 'SHA256SUMS', bytes: Buffer.from('sums\n') },
        { name: 'manifest.json', bytes: Buffer.from('{}') },
      ]);
      await medium.putFile('wal/shop/000000010000000000000001', Buffer.from('wal'));
      expect((await medium.listSets()).map((s) => s.path)).toEqual(['sets/shop/set-1']);
      expect((await medium.listFiles('', { skip: ['sets'] })).map((f) => f.path)).toContain('lifeboat-medium.json');
      expect(await medium.listNamed('wal/shop', '00000001')).toHaveLength(1);
      expect((await medium.stat('sets/shop/set-1/files.tar.zst.age'))?.size).toBe(data.length);
      const chunks: Buffer[] = [];
      for await (const c of await medium.openRead('sets/shop/set-1/files.tar.zst.age')) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(data)).toBe(true);
      expect(await medium.readOptional('sets/shop/set-1/missing')).toBeNull();
      // An interrupted set, then removals: multi-object deletes.
      const left = await medium.beginSet('shop', 'set-2');
      await left.abort();
      await medium.removeSet('sets/shop/set-1');
      await medium.removeFile('wal/shop/000000010000000000000001');
      expect(await medium.listSets()).toEqual([]);
      expect(await medium.cleanupPartials()).toEqual([]);
    } finally {
      medium.client.destroy();
    }
    expect(seen.filter((r) => r.refused).map((r) => `${r.method} ${r.url}: ${r.refused}`)).toEqual([]);
    const ops = new Set(
      seen.map((r) => {
        const q = new URL(r.url, 'http://x').searchParams;
        if (q.has('uploads')) return 'CreateMultipartUpload';
        if (q.has('partNumber')) return 'UploadPart';
        if (q.has('uploadId') && r.method === 'POST') return 'CompleteMultipartUpload';
        if (q.has('delete')) return 'DeleteObjects';
        if (q.get('list-type') === '2') return 'ListObjectsV2';
        return `${r.method} object`;
      }),
    );
    for (const op of [
      'CreateMultipartUpload',
      'UploadPart',
      'CompleteMultipartUpload',
      'DeleteObjects',
      'ListObjectsV2',
      'PUT object',
      'GET object',
      'HEAD object',
    ])
      expect(ops, op).toContain(op);
    // Path-style: the bucket is the path's first segment, never a host name.
    expect(seen.every((r) => r.url.startsWith('/gcs-bucket'))).toBe(true);
  }, 60_000);

  it("the proxy has teeth: the SDK's default flexible checksums are refused as GCS refuses them", async () => {
    const config = s3ClientConfig({ endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }, {});
    const client = new S3Client({ ...config, requestChecksumCalculation: 'WHEN_SUPPORTED', maxAttempts: 1 });
    try {
      await expect(
        client.send(new PutObjectCommand({ Bucket: 'gcs-bucket', Key: 'x', Body: Buffer.from('defaults') })),
      ).rejects.toMatchObject({ name: 'InvalidArgument' });
      expect(seen.at(-1)?.refused).toMatch(/x-amz-checksum-crc32|x-amz-sdk-checksum-algorithm/);
    } finally {
      client.destroy();
    }
  });
});
