import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { createS3Client, type S3Options } from '../../electron/engine/storage/s3-client';

export interface TestS3 {
  endpoint: string;
  options: S3Options;
  client: S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** A real S3 API server (s3rver) on 127.0.0.1 with a temp dir; stop() removes everything. */
export async function startS3(): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const options: S3Options = {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  const client = createS3Client(options);
  // The harness checks itself (what s3.test.ts did): an object round-trips byte for byte.
  const probe = randomBytes(64 * 1024 + 3);
  await client.send(new CreateBucketCommand({ Bucket: 'harness-check' }));
  await client.send(
    new PutObjectCommand({ Bucket: 'harness-check', Key: 'probe.bin', Body: probe, ContentLength: probe.length }),
  );
  const back = Buffer.from(
    await (
      await client.send(new GetObjectCommand({ Bucket: 'harness-check', Key: 'probe.bin' }))
    ).Body!.transformToByteArray(),
  );
  await client.send(new DeleteObjectCommand({ Bucket: 'harness-check', Key: 'probe.bin' }));
  await client.send(new DeleteBucketCommand({ Bucket: 'harness-check' }));
  if (!back.equals(probe)) {
    await server.close();
    throw new Error(`The test S3 server at ${endpoint} did not return the object it was given.`);
  }
  return {
    endpoint,
    options,
    client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop: async () => {
      client.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface S3Process {
  endpoint: string;
  port: number;
  /** SIGKILL: every connection drops mid-request, as when the link to S3 is lost. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open and go silent, as when a link drops packets. */
  freeze(): void;
}

/**
 * s3rver in a process of its own, on a given directory (and port, to come back on the same
 * address after a kill): for tests that lose S3 in the middle of a request.
 */
export async function startS3Process(directory: string, port = 0): Promise<S3Process> {
  const script = `const S3rver = require(process.argv[1]);
new S3rver({ address: '127.0.0.1', port: Number(process.argv[3]), directory: process.argv[2], silent: true })
  .run().then(({ port }) => process.stdout.write(port + '\\n'));`;
  const child: ChildProcess = spawn(
    process.execPath,
    ['-e', script, require.resolve('s3rver'), directory, String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const got = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening`)));
  });
  return {
    endpoint: `http://127.0.0.1:${got}`,
    port: got,
    freeze: () => {
      child.kill('SIGSTOP');
    },
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
