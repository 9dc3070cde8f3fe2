import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CompressStream } from 'zstd-napi';
import { AgeDecryptStream, AgeEncryptStream, type AgeIdentity, type AgeRecipient } from '../crypto/age';
import { LifeboatError, mapError } from '../errors';
import type { Artifact } from '../format/manifest';
import type { ArtifactSink } from '../storage/medium';
import { fanOut } from './fan-out';
import { HashTap } from './hash-tap';
import type { EncoderThreads } from './encoder-thread';
import { storeThreaded, type PlainSource } from './threaded-encoder';
import { BoundedZstdDecompress } from './zstd-decode';

/**
 * zstd's job size and overlap for its worker threads. Dumps: 2 MiB jobs, each starting with the
 * last 512 KiB of the previous one as context (overlapLog 7). Measured on both benchmark dumps
 * against `zstd -3 -T2` (8 MiB jobs, 256 KiB overlap): output 0.995× on pgbench's blank-padded
 * rows and 0.998× on realistic data, for ~8 MB more memory than 1 MiB jobs without useful
 * overlap — which were 1.18× on pgbench (each job started cold on data that compresses 100×);
 * 4 MiB jobs cost 20 MB more, and full overlap ~25% more CPU on real data. Tars of files (mostly
 * compressed already, one zstd thread) keep 1 MiB jobs and zstd's default overlap.
 */
const DUMP_JOBS = { zstdJobBytes: 2 * 1024 * 1024, zstdOverlapLog: 7 };
const TAR_JOBS = { zstdJobBytes: 1024 * 1024, zstdOverlapLog: 0, rawFrames: true };

export interface StoreOptions {
  /** zstd level (default 3); zstd's worker threads compress. */
  zstdLevel?: number;
  zstdWorkers?: number;
  recipients: AgeRecipient[];
  sinks: ArtifactSink[];
  signal?: AbortSignal;
  /** Called as plaintext bytes pass (for progress). */
  onPlainBytes?: (total: number) => void;
  /** Called as stored bytes pass. */
  onStoredBytes?: (total: number) => void;
  /** The owner's encoder threads, kept between artifacts (threaded-encoder.ts). */
  encoderThreads?: EncoderThreads;
}

export type StoredFacts = Pick<
  Artifact,
  'bytes' | 'sha256' | 'plain_bytes' | 'plain_sha256' | 'encodings' | 'recipients'
> & {
  /** Plaintext bytes that would not compress (sampled entropy); 0 for a small in-memory artifact. Not a manifest field. */
  incompressibleBytes: number;
};

/**
 * The write path of every artifact: plaintext → SHA-256 → zstd → age → SHA-256 → every
 * destination, streaming with back-pressure and constant memory. Resolves once each
 * destination holds the bytes durably. Streams and tar sources run on two threads
 * (threaded-encoder.ts); a small in-memory artifact (a file index) is encoded here, where
 * starting threads would cost more than the work.
 */
export async function storeArtifact(source: Buffer | PlainSource, o: StoreOptions): Promise<StoredFacts> {
  const encodings: Artifact['encodings'] = o.recipients.length > 0 ? ['zstd', 'age'] : ['zstd'];
  const recipients = o.recipients.map((r) => r.keyId);
  if (!Buffer.isBuffer(source)) {
    // A tool's output (a dump: compressible, compression is the heavy part) gets zstd's two
    // threads; a tar of files (mostly compressed formats already) gets one, which costs less
    // CPU on data that does not compress while still compressing beside the hashing.
    const tar = typeof source === 'function';
    const zstdWorkers = o.zstdWorkers ?? (tar ? 1 : 2);
    const facts = await storeThreaded(source, {
      ...o,
      zstdLevel: o.zstdLevel ?? 3,
      zstdWorkers,
      ...(tar ? TAR_JOBS : DUMP_JOBS),
    });
    return {
      bytes: facts.bytes,
      sha256: facts.sha256,
      plain_bytes: facts.plainBytes,
      plain_sha256: facts.plainSha256,
      encodings,
      recipients,
      incompressibleBytes: facts.incompressibleBytes,
    };
  }
  const plain = new HashTap(o.onPlainBytes);
  const stored = new HashTap(o.onStoredBytes);
  const stages: Transform[] = [plain, new CompressStream({ compressionLevel: o.zstdLevel ?? 3, checksumFlag: true })];
  if (o.recipients.length > 0) stages.push(new AgeEncryptStream(o.recipients));
  stages.push(stored);
  // A destination failing on its own (S3 lost) stops the pipeline at once with its own error.
  const stop = new AbortController();
  let sinkError: unknown = null;
  for (const s of o.sinks) {
    s.done.catch((e: unknown) => {
      sinkError ??= e;
      stop.abort(e);
    });
  }
  const cancel = (): void => stop.abort(o.signal?.reason);
  if (o.signal?.aborted) cancel();
  o.signal?.addEventListener('abort', cancel);
  try {
    await pipeline([Readable.from([source]), ...stages, fanOut(o.sinks.map((s) => s.stream))], { signal: stop.signal });
    await Promise.all(o.sinks.map((s) => s.done));
  } catch (e) {
    if (o.signal?.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.', { cause: e });
    const err = sinkError ?? e;
    throw err instanceof LifeboatError ? err : mapError(err);
  } finally {
    o.signal?.removeEventListener('abort', cancel);
  }
  return {
    bytes: stored.bytes,
    sha256: stored.sha256(),
    plain_bytes: plain.bytes,
    plain_sha256: plain.sha256(),
    encodings,
    recipients,
    incompressibleBytes: 0,
  };
}

/**
 * The read path: stored bytes → (age) → (zstd) → plaintext, for verification and restores.
 * `identities` are needed when the artifact is encrypted. zstd decodes with back-pressure and,
 * given `plainLimit` (the manifest's plain_bytes), stops at the first byte past it: a hostile
 * frame is never decoded in full. Readers go through restore/gate.ts, which adds the hashes.
 */
export function decodeStages(
  encodings: readonly string[],
  identities: AgeIdentity[],
  o: { plainLimit?: number; what?: string } = {},
): Transform[] {
  const stages: Transform[] = [];
  for (const e of [...encodings].reverse()) {
    switch (e) {
      case 'age':
        if (identities.length === 0)
          throw new LifeboatError(
            'DECRYPTION_FAILED',
            `${o.what ?? 'This artifact'} is encrypted and no age identity was given.`,
            { hint: 'Pass --identity <file> with the key it was encrypted to.' },
          );
        stages.push(new AgeDecryptStream(identities));
        break;
      case 'zstd':
        stages.push(new BoundedZstdDecompress(o.plainLimit, o.what));
        break;
      default:
        throw new LifeboatError('FORMAT_UNSUPPORTED', `Unknown encoding ${e}.`);
    }
  }
  return stages;
}

/** Read and decode a small artifact (a file index) fully into memory. */
export async function readDecoded(
  source: Readable,
  encodings: readonly string[],
  identities: AgeIdentity[],
  o: { plainLimit?: number; what?: string } = {},
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, callback) {
      total += chunk.length;
      // A byte past the manifest's plain_bytes is corruption (an index bomb): stop, hold no more.
      if (o.plainLimit !== undefined && total > o.plainLimit) {
        callback(
          new LifeboatError(
            'CHECKSUM_MISMATCH',
            `${o.what ?? 'The artifact'} decodes to more than the ${o.plainLimit} bytes its manifest records: corrupted (reading stopped there).`,
          ),
        );
        return;
      }
      chunks.push(chunk);
      callback();
    },
  });
  try {
    await pipeline([source, ...decodeStages(encodings, identities, o), sink]);
  } catch (e) {
    throw e instanceof LifeboatError ? e : mapError(e);
  }
  return Buffer.concat(chunks);
}
