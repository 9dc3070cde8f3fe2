import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ToolSource } from '../../electron/engine/process/child';
import { generateIdentity } from '../../electron/engine/crypto/age';
import { readDecoded, storeArtifact } from '../../electron/engine/pipeline/artifact-pipeline';
import { EncoderThreads } from '../../electron/engine/pipeline/encoder-thread';
import type { ArtifactSink } from '../../electron/engine/storage/medium';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * An in-memory destination that writes vectors, like a file; `delayMs` holds each call (and its
 * chunks) before acknowledging it; `failAt` fails the n-th call.
 */
function memorySink(
  o: { delayMs?: number; releasesChunks?: boolean; failAt?: number } = {},
): ArtifactSink & { bytes: () => Buffer; written: () => number } {
  const parts: Buffer[] = [];
  let writes = 0;
  let written = 0;
  let resolveDone!: () => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => undefined);
  const stream = new Writable({
    highWaterMark: 1024 * 1024,
    writev(chunks, callback) {
      writes++;
      if (o.failAt !== undefined && writes >= o.failAt)
        return callback(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
      const finish = (): void => {
        // Copied only now: a buffer reused too early would show up as corrupt output.
        for (const { chunk } of chunks) {
          parts.push(Buffer.from(chunk as Buffer));
          written += (chunk as Buffer).length;
        }
        callback();
      };
      if (o.delayMs) setTimeout(finish, o.delayMs);
      else finish();
    },
    final(callback) {
      resolveDone();
      callback();
    },
    destroy(error, callback) {
      if (error) rejectDone(error);
      callback(error);
    },
  });
  return { stream, done, releasesChunks: o.releasesChunks, bytes: () => Buffer.concat(parts), written: () => written };
}

describe('the threaded write path', () => {
  const id = generateIdentity().identity;

  it('counts the plaintext that would not compress (trends, the ransomware indicator)', async () => {
    const random = randomBytes(4 * 1024 * 1024);
    const text = Buffer.from('invoice 42 paid in full\n'.repeat(200_000));
    const noisy = await storeArtifact(Readable.from([random]), { recipients: [], sinks: [memorySink()] });
    const plain = await storeArtifact(Readable.from([text]), { recipients: [], sinks: [memorySink()] });
    expect(noisy.incompressibleBytes).toBeGreaterThan(0.9 * random.length);
    expect(plain.incompressibleBytes).toBe(0);
  }, 30_000);

  it.each([0, 1, 65535, 65536, 65537, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 5])(
    '%i bytes encrypted round-trip, with the hashes of both sides',
    async (size) => {
      const data = randomBytes(size);
      // Half compressible, so zstd output and the age chunking do not line up with the input.
      data.fill(7, 0, size >> 1);
      const sink = memorySink({ releasesChunks: true });
      const facts = await storeArtifact(
        Readable.from(size ? [data.subarray(0, size >> 2), data.subarray(size >> 2)] : []),
        { recipients: [id.recipient], sinks: [sink] },
      );
      const stored = sink.bytes();
      expect(facts).toMatchObject({
        bytes: stored.length,
        sha256: sha(stored),
        plain_bytes: size,
        plain_sha256: sha(data),
        encodings: ['zstd', 'age'],
        recipients: [id.recipient.keyId],
      });
      expect((await readDecoded(Readable.from([stored]), facts.encodings, [id])).equals(data)).toBe(true);
    },
  );

  it('writes the same bytes to every destination, reused blocks or not', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 3);
    const a = memorySink({ releasesChunks: true, delayMs: 2 });
    const b = memorySink({ releasesChunks: false });
    const facts = await storeArtifact(Readable.from([data]), { recipients: [], sinks: [a, b] });
    expect(a.bytes().equals(b.bytes())).toBe(true);
    expect(facts.encodings).toEqual(['zstd']);
    expect((await readDecoded(Readable.from([a.bytes()]), facts.encodings, [])).equals(data)).toBe(true);
  });

  it('recycled blocks are never overwritten before a slow destination has written them', async () => {
    const data = randomBytes(12 * 1024 * 1024);
    const slow = memorySink({ releasesChunks: true, delayMs: 3 });
    const facts = await storeArtifact(Readable.from([data]), { recipients: [id.recipient], sinks: [slow] });
    expect(sha(slow.bytes())).toBe(facts.sha256);
    expect(sha(await readDecoded(Readable.from([slow.bytes()]), facts.encodings, [id]))).toBe(sha(data));
  });

  it('keeps memory bounded: the source is read only a few blocks ahead of a slow destination', async () => {
    const total = 96 * 1024 * 1024;
    let read = 0;
    let maxAhead = 0;
    const sink = memorySink({ releasesChunks: true, delayMs: 4 });
    const source = new Readable({
      read() {
        if (read >= total) return this.push(null);
        read += 1024 * 1024;
        maxAhead = Math.max(maxAhead, read - sink.written());
        this.push(randomBytes(1024 * 1024));
      },
    });
    await storeArtifact(source, { recipients: [id.recipient], sinks: [sink] });
    expect(sink.written()).toBeGreaterThan(total);
    // Input blocks + blocks between the threads + zstd's window and the stream buffers: far below the artifact.
    expect(maxAhead).toBeLessThan(40 * 1024 * 1024);
  });

  it('a destination that fails stops the whole write with its error', async () => {
    const sink = memorySink({ failAt: 3 });
    const err = await storeArtifact(Readable.from([randomBytes(8 * 1024 * 1024)]), {
      recipients: [id.recipient],
      sinks: [sink],
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORAGE_FULL' });
  });

  it('a source that fails stops the write with its error', async () => {
    const source = new Readable({
      read() {
        this.destroy(Object.assign(new Error('pg_dump: connection lost'), { code: 'EPIPE' }));
      },
    });
    const err = await storeArtifact(source, { recipients: [], sinks: [memorySink()] }).catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/connection lost|EPIPE|broken/i);
  });

  it('cancellation stops it promptly with CANCELLED', async () => {
    const controller = new AbortController();
    let n = 0;
    const source = new Readable({
      read() {
        if (++n === 5) controller.abort();
        this.push(randomBytes(1024 * 1024));
      },
    });
    const started = Date.now();
    const err = await storeArtifact(source, {
      recipients: [id.recipient],
      sinks: [memorySink()],
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('tars of files: blocks that do not compress go into raw zstd frames', () => {
  const id = generateIdentity().identity;
  // Photos between text files, with block boundaries falling inside both.
  const text = Buffer.from('lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(40_000)).subarray(
    0,
    2 * 1024 * 1024 + 333,
  );
  const parts = [
    randomBytes(3 * 1024 * 1024),
    text,
    randomBytes(1536 * 1024 + 7),
    text.subarray(0, 5000),
    randomBytes(100 * 1024),
  ];
  const data = Buffer.concat(parts);
  const tar = async (w: { write: (b: Uint8Array) => Promise<void> }): Promise<void> => {
    for (const p of parts) await w.write(p);
  };
  const RAW_FRAME = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0]);

  it('stores random bytes as they are, in raw frames (no expansion), and still compresses the text', async () => {
    const sink = memorySink({ releasesChunks: true });
    const facts = await storeArtifact(tar, { recipients: [], sinks: [sink] });
    const stored = sink.bytes();
    expect(facts).toMatchObject({ plain_bytes: data.length, plain_sha256: sha(data), sha256: sha(stored) });
    expect(stored.indexOf(RAW_FRAME)).toBeGreaterThanOrEqual(0);
    const random = parts[0]!.length + parts[2]!.length + parts[4]!.length;
    // Random bytes stored raw (33 bytes of framing per MiB), the text compressed ~100×.
    expect(stored.length).toBeGreaterThan(random);
    expect(stored.length).toBeLessThan(random + text.length / 4);
    expect((await readDecoded(Readable.from([stored]), facts.encodings, [])).equals(data)).toBe(true);
  });

  it('round-trips encrypted, the stored hash covering exactly the bytes written', async () => {
    const sink = memorySink({ releasesChunks: true });
    const facts = await storeArtifact(tar, { recipients: [id.recipient], sinks: [sink] });
    expect(facts).toMatchObject({ bytes: sink.bytes().length, sha256: sha(sink.bytes()), plain_sha256: sha(data) });
    expect((await readDecoded(Readable.from([sink.bytes()]), facts.encodings, [id])).equals(data)).toBe(true);
  });

  it('a dump (a stream) is always compressed by zstd itself', async () => {
    const sink = memorySink();
    await storeArtifact(Readable.from([data]), { recipients: [], sinks: [sink] });
    expect(sink.bytes().indexOf(RAW_FRAME)).toBe(-1);
  });
});

describe('the encoder thread is kept for the next artifact', () => {
  const id = generateIdentity().identity;

  it('artifacts with different settings one after another use one thread; after a failure a new one takes over', async () => {
    const threads = new EncoderThreads();
    threads.prestart();
    const before = threads.started;
    expect(before).toBe(1);
    const text = Buffer.from('one line of a dump\n'.repeat(100_000));
    const photo = randomBytes(2 * 1024 * 1024 + 17);
    const runs: Array<{
      source: () => Parameters<typeof storeArtifact>[0];
      plain: Buffer;
      recipients: (typeof id.recipient)[];
    }> = [
      { source: () => async (w) => w.write(photo), plain: photo, recipients: [id.recipient] },
      { source: () => Readable.from([text]), plain: text, recipients: [] },
      {
        source: () => async (w) => w.write(Buffer.concat([text, photo])),
        plain: Buffer.concat([text, photo]),
        recipients: [id.recipient],
      },
    ];
    for (const r of runs) {
      const sink = memorySink({ releasesChunks: true });
      const facts = await storeArtifact(r.source(), {
        recipients: r.recipients,
        sinks: [sink],
        encoderThreads: threads,
      });
      expect(facts).toMatchObject({ sha256: sha(sink.bytes()), plain_sha256: sha(r.plain) });
      expect((await readDecoded(Readable.from([sink.bytes()]), facts.encodings, [id])).equals(r.plain)).toBe(true);
    }
    expect(threads.started).toBe(before);

    const err = await storeArtifact(Readable.from([randomBytes(4 * 1024 * 1024)]), {
      recipients: [id.recipient],
      sinks: [memorySink({ failAt: 2 })],
      encoderThreads: threads,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORAGE_FULL' });
    const sink = memorySink();
    const facts = await storeArtifact(async (w) => w.write(photo), {
      recipients: [id.recipient],
      sinks: [sink],
      encoderThreads: threads,
    });
    expect((await readDecoded(Readable.from([sink.bytes()]), facts.encodings, [id])).equals(photo)).toBe(true);
    expect(threads.started).toBe(before + 1);
    await threads.close();
  });

  it('two owners (two engines in one process) never share a thread', async () => {
    const a = new EncoderThreads();
    const b = new EncoderThreads();
    a.prestart();
    const text = Buffer.from('row\n'.repeat(10_000));
    for (const owner of [a, b, a, b]) {
      const sink = memorySink();
      const facts = await storeArtifact(Readable.from([text]), {
        recipients: [],
        sinks: [sink],
        encoderThreads: owner,
      });
      expect(facts.plain_sha256).toBe(sha(text));
    }
    // Each kept its own thread: a's prestarted one served both of a's artifacts, b started one.
    expect([a.started, b.started]).toEqual([1, 1]);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('a tool writing the plaintext (pg_dump, pg_basebackup) through a FIFO', () => {
  const id = generateIdentity().identity;
  const sh = (script: string, signal?: AbortSignal): ToolSource =>
    ToolSource.of('sh', ['-c', script], { what: 'the test tool', signal });

  it('stores exactly what the tool wrote, and reports its progress', async () => {
    const tool = sh('yes lifeboat | head -c 5000001');
    const sink = memorySink();
    let progress = 0;
    const facts = await storeArtifact(tool, {
      recipients: [id.recipient],
      sinks: [sink],
      onPlainBytes: (n) => (progress = n),
    });
    await tool.exited();
    const expected = Buffer.from('lifeboat\n'.repeat(600_000)).subarray(0, 5_000_001);
    expect(facts).toMatchObject({ plain_bytes: 5_000_001, plain_sha256: sha(expected) });
    expect((await readDecoded(Readable.from([sink.bytes()]), facts.encodings, [id])).equals(expected)).toBe(true);
    expect(progress).toBeGreaterThan(4_000_000);
  });

  it('a tool that fails after writing part of its output is reported by its exit, with its message', async () => {
    const tool = sh('echo partial; echo "connection to server lost" >&2; exit 3');
    await storeArtifact(tool, { recipients: [], sinks: [memorySink()] });
    await expect(tool.exited()).rejects.toMatchObject({
      code: 'TOOL_FAILED',
      message: expect.stringContaining('connection to server lost'),
    });
  });

  it('a tool that exits before the encoder thread has started stores an empty artifact, without hanging', async () => {
    // The tool starts while the encoder thread may still be booting (the FIFO's ends are
    // held until it has opened it): a tool that is gone by then must still end the stream.
    for (let i = 0; i < 5; i++) {
      const tool = ToolSource.of('true', [], { what: 'the test tool' });
      const facts = await storeArtifact(tool, { recipients: [id.recipient], sinks: [memorySink()] });
      await tool.exited();
      expect(facts).toMatchObject({ plain_bytes: 0, plain_sha256: sha(Buffer.alloc(0)) });
    }
  });

  it('what a tool writes before the encoder thread reads is kept (it waits in the pipe)', async () => {
    const tool = sh('head -c 65536 /dev/zero; exec yes lifeboat | head -c 1000000');
    const facts = await storeArtifact(tool, { recipients: [], sinks: [memorySink()] });
    await tool.exited();
    expect(facts.plain_bytes).toBe(65536 + 1_000_000);
  });

  it('a tool that cannot start is reported, and the store does not hang', async () => {
    const tool = ToolSource.of('/nonexistent/pg_dump', [], { what: 'pg_dump' });
    await storeArtifact(tool, { recipients: [], sinks: [memorySink()] }).catch(() => undefined);
    await expect(tool.exited()).rejects.toMatchObject({ code: 'TOOL_MISSING' });
  });

  it('a destination that fails stops the tool', async () => {
    const tool = sh('exec cat /dev/urandom');
    const err = await storeArtifact(tool, { recipients: [id.recipient], sinks: [memorySink({ failAt: 3 })] }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'STORAGE_FULL' });
    await expect(tool.exited()).rejects.toThrow(/SIGTERM/);
  });

  it('cancellation stops the tool and the store promptly', async () => {
    const controller = new AbortController();
    const tool = sh('exec cat /dev/urandom', controller.signal);
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const err = await storeArtifact(tool, {
      recipients: [id.recipient],
      sinks: [memorySink()],
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    await expect(tool.exited()).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
