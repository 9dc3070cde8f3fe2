import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { compress } from 'zstd-napi';
import { generateIdentity } from '../../electron/engine/crypto/age';
import { storeArtifact } from '../../electron/engine/pipeline/artifact-pipeline';
import {
  DECODE_BLOCK,
  DECODER_HEAP_LIMITS,
  liveDecoderThreads,
  ThreadedDecodeStream,
} from '../../electron/engine/pipeline/threaded-decoder';
import { decodersStopped, gateStages, type ArtifactSpec } from '../../electron/engine/restore/gate';
import type { ArtifactSink } from '../../electron/engine/storage/medium';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const id = generateIdentity().identity;
const other = generateIdentity().identity;

function memorySink(): ArtifactSink & { bytes: () => Buffer } {
  const parts: Buffer[] = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      parts.push(Buffer.from(c));
      cb();
    },
    final(cb) {
      resolveDone();
      cb();
    },
  });
  return { stream, done, bytes: () => Buffer.concat(parts) };
}

/** Encode `plain` with the write path; the stored bytes and the spec a manifest would record. */
async function encode(plain: Buffer, encrypted = true): Promise<{ stored: Buffer; spec: ArtifactSpec }> {
  const sink = memorySink();
  // In memory: encoded in this thread (the threaded encoder gives the same bytes; its own test proves that).
  const f = await storeArtifact(plain, { recipients: encrypted ? [id.recipient] : [], sinks: [sink] });
  return {
    stored: sink.bytes(),
    spec: {
      what: 'set/a.dump',
      bytes: f.bytes,
      sha256: f.sha256,
      encodings: f.encodings,
      plainBytes: f.plain_bytes,
      plainSha256: f.plain_sha256,
    },
  };
}

/** The medium: the stored bytes in 64 KiB chunks, as a file stream gives them. */
function medium(stored: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < stored.length; at += 64 * 1024) chunks.push(stored.subarray(at, at + 64 * 1024));
  return Readable.from(chunks);
}

interface Outcome {
  out: Buffer;
  error: { code: unknown; message: string } | null;
  storedBytes: number;
  plainBytes: number;
}

/** Decode through the gate's stages, on threads or in this thread. */
async function decode(
  stored: Buffer,
  spec: ArtifactSpec,
  o: { threads: boolean; ids?: (typeof id)[]; check?: boolean; sink?: Writable; signal?: AbortSignal },
): Promise<Outcome> {
  process.env.LIFEBOAT_DECODE_THREADS_MIN = o.threads ? '0' : String(Number.MAX_SAFE_INTEGER);
  const g = gateStages(spec, o.ids ?? [id], { check: o.check ?? true });
  expect(g.stages[0] instanceof ThreadedDecodeStream).toBe(o.threads);
  const parts: Buffer[] = [];
  const sink =
    o.sink ??
    new Writable({
      write(c: Buffer, _e, cb) {
        parts.push(c);
        cb();
      },
    });
  let error: Outcome['error'] = null;
  try {
    await pipeline([medium(stored), ...g.stages, sink], o.signal ? { signal: o.signal } : {});
  } catch (e) {
    error = { code: (e as { code?: unknown }).code, message: (e as Error).message };
    await decodersStopped(g.stages);
  }
  return { out: Buffer.concat(parts), error, storedBytes: g.stored.bytes, plainBytes: g.plain.bytes };
}

/** Both paths give the same verdict, word for word; the threaded one leaves no thread. */
async function sameVerdict(stored: Buffer, spec: ArtifactSpec, ids = [id]): Promise<Outcome> {
  const streamed = await decode(stored, spec, { threads: false, ids });
  const threaded = await decode(stored, spec, { threads: true, ids });
  expect(threaded.error).toEqual(streamed.error);
  expect(liveDecoderThreads()).toBe(0);
  return threaded;
}

afterEach(() => {
  delete process.env.LIFEBOAT_DECODE_THREADS_MIN;
});

describe('the threaded decoder', () => {
  it(
    'decodes what the encoder wrote, at every size around a block, encrypted or not',
    { timeout: 90_000 },
    async () => {
      const text = Buffer.from('id,name,amount\n1,lifeboat,42\n'.repeat(200_000));
      const sizes = [0, 1, DECODE_BLOCK - 1, DECODE_BLOCK, DECODE_BLOCK + 1, 5 * 1024 * 1024 + 77];
      for (const [n, encrypted] of sizes.map((n, i) => [n, i % 2 === 0] as const)) {
        const plain = n > 4 * 1024 * 1024 ? text.subarray(0, n) : randomBytes(n);
        const { stored, spec } = await encode(plain, encrypted);
        const r = await decode(stored, spec, { threads: true });
        expect(r.error).toBeNull();
        expect(r.out.length).toBe(n);
        expect(sha(r.out)).toBe(sha(plain));
        expect([r.storedBytes, r.plainBytes]).toEqual([stored.length, n]);
        expect(liveDecoderThreads()).toBe(0);
      }
    },
  );

  it(
    'fails a tampered stored byte, a wrong plaintext hash, a wrong key, a truncation as the stream path does',
    { timeout: 90_000 },
    async () => {
      const plain = randomBytes(DECODE_BLOCK + 300_000);
      const { stored, spec } = await encode(plain);
      for (const at of [100, stored.length >> 1, stored.length - 5]) {
        const bad = Buffer.from(stored);
        bad[at]! ^= 0x40;
        const r = await sameVerdict(bad, spec);
        expect(r.error?.code).toMatch(/CHECKSUM_MISMATCH|DECRYPTION_FAILED/);
      }
      // A pipeline ending in the stage (openVerifiedArtifact's) settles on the verdict, not on the last byte.
      const bad = Buffer.concat([stored, Buffer.alloc(1)]);
      process.env.LIFEBOAT_DECODE_THREADS_MIN = '0';
      const g = gateStages(spec, [id], { check: true });
      const ending = pipeline([medium(bad), ...g.stages]);
      g.stages[0]!.resume();
      await expect(ending).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
      const lying = await sameVerdict(stored, { ...spec, plainSha256: sha(Buffer.from('other')) });
      expect(lying.error).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
      expect(lying.error?.message).toContain('(decoded): SHA-256');
      const wrongKey = await sameVerdict(stored, spec, [other]);
      expect(wrongKey.error).toMatchObject({ code: 'DECRYPTION_FAILED' });
      expect(wrongKey.error?.message).toContain('None of the given identities');
      const truncated = await sameVerdict(stored.subarray(0, stored.length - 1000), spec);
      expect(truncated.error?.code).toBe('CHECKSUM_MISMATCH');
      const longer = await sameVerdict(Buffer.concat([stored, Buffer.alloc(10)]), spec);
      expect(longer.error?.message).toContain('more than the');
      // Deep verification's way (check: false): no hash verdict from the stage, the facts to judge by.
      const unchecked = await decode(
        stored,
        { ...spec, sha256: sha(Buffer.from('x')) },
        { threads: true, check: false },
      );
      expect(unchecked.error).toBeNull();
      expect(unchecked.storedBytes).toBe(stored.length);
    },
  );

  it("decodes a 40 MiB artifact within its threads' heap limits", { timeout: 90_000 }, async () => {
    expect(DECODER_HEAP_LIMITS.maxOldGenerationSizeMb).toBeLessThanOrEqual(32);
    const line = Buffer.from('2026-12-02 19:00:00+00,customer 4711,order shipped by express carrier,129.00\n');
    const plain = Buffer.alloc(40 * 1024 * 1024 + 123, line);
    const { stored, spec } = await encode(plain);
    const r = await decode(stored, spec, { threads: true });
    expect(r.error).toBeNull();
    expect(r.out.length).toBe(plain.length);
    expect(sha(r.out)).toBe(sha(plain));
    expect(liveDecoderThreads()).toBe(0);
  });

  it('says a thread that runs out of its heap, with no verdict and no thread left', { timeout: 90_000 }, async () => {
    const plain = randomBytes(3 * DECODE_BLOCK);
    const { stored, spec } = await encode(plain);
    const d = new ThreadedDecodeStream(
      {
        what: 'set/a.dump',
        storedLimit: spec.bytes,
        plainLimit: spec.plainBytes,
        expectStored: { bytes: spec.bytes, sha256: spec.sha256 },
        expectPlain: { bytes: spec.plainBytes, sha256: spec.plainSha256 },
        age: true,
        zstd: true,
      },
      [id],
      // Far too small for a thread to even start: it runs out of memory at once.
      { heapLimits: { maxOldGenerationSizeMb: 1, maxYoungGenerationSizeMb: 1 } },
    );
    const parts: Buffer[] = [];
    const sink = new Writable({
      write(c: Buffer, _e, cb) {
        parts.push(c);
        cb();
      },
    });
    const outcome = pipeline([medium(stored), d, sink]).then(
      () => null,
      (e: unknown) => e,
    );
    const e = await outcome;
    await d.stopped();
    expect(e).toMatchObject({ code: 'INTERNAL' });
    expect((e as Error).message).toContain('ran out of its memory');
    expect(Buffer.concat(parts).length).toBeLessThan(plain.length);
    expect(liveDecoderThreads()).toBe(0);
  });

  it('stops a decompression bomb at the recorded plain size without decoding it', { timeout: 90_000 }, async () => {
    // 256 MiB of zeros in one zstd frame (~8 KiB), recorded as 1 MiB of plaintext.
    const frame = compress(Buffer.alloc(256 * 1024 * 1024), { compressionLevel: 1 });
    const spec: ArtifactSpec = {
      what: 'set/bomb',
      bytes: frame.length,
      sha256: sha(frame),
      encodings: ['zstd'],
      plainBytes: 1024 * 1024,
      plainSha256: sha(Buffer.alloc(1024 * 1024)),
    };
    const started = Date.now();
    const r = await sameVerdict(frame, spec);
    expect(r.error?.message).toContain('decodes to more than the 1048576 bytes');
    expect(r.plainBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(r.out.length).toBeLessThanOrEqual(1024 * 1024);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('ends the whole chain on a cancel and on a failing reader, leaving no thread', { timeout: 90_000 }, async () => {
    const { stored, spec } = await encode(randomBytes(10 * 1024 * 1024));
    const abort = new AbortController();
    let seen = 0;
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(c: Buffer, _e, cb) {
        seen += c.length;
        if (seen > 2 * 1024 * 1024) abort.abort();
        setTimeout(cb, 5);
      },
    });
    const cancelled = await decode(stored, spec, { threads: true, sink: slow, signal: abort.signal });
    expect(cancelled.error?.code).toBe('ABORT_ERR');
    expect(liveDecoderThreads()).toBe(0);
    // Bounded: at most a few blocks were decoded ahead of a reader that stopped at 2 MiB.
    expect(cancelled.plainBytes).toBeLessThan(2 * 1024 * 1024 + 8 * DECODE_BLOCK);

    let calls = 0;
    const throwing = new Writable({
      write(_c, _e, cb) {
        cb(++calls === 3 ? new Error('disk full') : null);
      },
    });
    const failed = await decode(stored, spec, { threads: true, sink: throwing });
    expect(failed.error?.message).toBe('disk full');
    expect(liveDecoderThreads()).toBe(0);

    // A stage made but never used (its caller failed first) starts nothing.
    process.env.LIFEBOAT_DECODE_THREADS_MIN = '0';
    const unused = gateStages(spec, [id], { check: true });
    expect(liveDecoderThreads()).toBe(0);
    unused.stages[0]!.destroy();
    await decodersStopped(unused.stages);
    expect(liveDecoderThreads()).toBe(0);
  });
});
