import { createHash, type Hash } from 'node:crypto';
import { Transform, type Duplex, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TrustedKey } from '../catalog/trust';
import type { AgeIdentity } from '../crypto/age';
import { LifeboatError, mapError } from '../errors';
import { admitRestore, judgeTrust, signatureFacts } from '../foreign/trust';
import type { Artifact, Manifest } from '../format/manifest';
import { decodeStages } from '../pipeline/artifact-pipeline';
import { ThreadedDecodeStream } from '../pipeline/threaded-decoder';
import type { Medium } from '../storage/medium';

/**
 * The one gate every restore, extraction and deep check reads an artifact through (DESIGN.md
 * "Trust rules for reading media"): the manifest is first judged by the trust rule, then the
 * stored bytes are hashed and counted, decrypted, decompressed, and the plaintext is hashed and
 * counted. A byte past a recorded size fails at once (a decompression bomb is never decoded in
 * full); a hash that differs fails at the end, before the consumer sees the end of the stream.
 * Consumers write to staging and put things in place only once `verified` resolved.
 */

/** How the manifest of a set copy came to be trusted; recorded by the caller (journal, report). */
export type TrustDecision =
  | { state: 'signed'; keyId: string; label: string }
  /** Not signed by a pinned key, read anyway because the operator said so (`--allow-unsigned`). */
  | { state: 'accepted-unsigned'; why: string };

/** What the gate needs of a set copy: where it is and the exact manifest bytes that were judged. */
export interface GateCopy {
  key: string;
  medium: Medium;
  setPath: string;
  manifest: Manifest;
  manifestBytes: Buffer;
}

export interface TrustOptions {
  trusted: TrustedKey[];
  /** Read a set that is unsigned or signed by a key that is not pinned (never one whose signature is wrong). */
  allowUnsigned?: boolean;
}

/**
 * The trust rule for a Lifeboat set (foreign/trust.ts, the one rule for every set): a valid
 * signature by a pinned key over the manifest bytes read. Unsigned or signed by an unpinned key:
 * refused unless `allowUnsigned`. A signature that does not verify is refused always: nothing in
 * that manifest can be believed.
 */
export async function judgeManifest(copy: GateCopy, o: TrustOptions): Promise<TrustDecision> {
  const sig = await copy.medium.readOptional(`${copy.setPath}/manifest.json.sig`);
  const facts = signatureFacts(sig, copy.manifestBytes, o.trusted);
  const trust = judgeTrust({ origin: 'lifeboat', signature: facts });
  const { overridden } = admitRestore(copy.key, trust, o.allowUnsigned);
  if (!overridden && facts.state === 'valid') return { state: 'signed', keyId: facts.keyId, label: facts.label };
  return { state: 'accepted-unsigned', why: `${copy.key}: ${trust.why ?? trust.text}` };
}

/** What an artifact must decode to: a Lifeboat artifact's facts, or less for a foreign one. */
export interface ArtifactSpec {
  /** For messages: set key and artifact path. */
  what: string;
  /** Stored size and SHA-256 (null: not recorded; the size is then only a limit when given). */
  bytes: number | null;
  sha256: string | null;
  encodings: readonly string[];
  plainBytes: number | null;
  plainSha256: string | null;
}

export function specOf(copyKey: string, a: Artifact): ArtifactSpec {
  return {
    what: `${copyKey}/${a.path}`,
    bytes: a.bytes,
    sha256: a.sha256,
    encodings: a.encodings,
    plainBytes: a.plain_bytes,
    plainSha256: a.plain_sha256,
  };
}

/**
 * Counts and hashes bytes passing through; the first chunk that goes past `limit` fails at once
 * (CHECKSUM_MISMATCH). With `expect`, the end of the stream is held back until size and hash
 * matched, so a consumer never sees a clean end of bytes that did not pass.
 */
export class CheckTap extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private digest: string | null = null;
  bytes = 0;

  constructor(
    private readonly o: {
      what: string;
      limit: number | null;
      expectBytes?: number | null;
      expectSha256?: string | null;
      onBytes?: (total: number) => void;
    },
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.o.limit !== null && this.bytes > this.o.limit) {
      done(
        new LifeboatError(
          'CHECKSUM_MISMATCH',
          `${this.o.what}: more than the ${this.o.limit} bytes its manifest records: corrupted (reading stopped there).`,
        ),
      );
      return;
    }
    this.hash.update(chunk);
    this.o.onBytes?.(this.bytes);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const { expectBytes, expectSha256, what } = this.o;
    if (expectBytes !== undefined && expectBytes !== null && this.bytes !== expectBytes) {
      done(
        new LifeboatError(
          'CHECKSUM_MISMATCH',
          `${what}: ${this.bytes} bytes, its manifest records ${expectBytes}: corrupted.`,
        ),
      );
      return;
    }
    if (expectSha256 && this.sha256() !== expectSha256) {
      done(
        new LifeboatError(
          'CHECKSUM_MISMATCH',
          `${what}: SHA-256 ${this.sha256().slice(0, 16)}… instead of ${expectSha256.slice(0, 16)}… recorded in its manifest: corrupted.`,
        ),
      );
      return;
    }
    done();
  }

  /** The hex digest of the bytes seen; valid once the stream has finished. */
  sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }
}

/** What the gate has seen of one side of an artifact (stored or decoded): a CheckTap, or the threaded decoder's count. */
export interface ByteFacts {
  readonly bytes: number;
  /** Hex SHA-256 of the bytes seen; of all of them once the stream has finished. */
  sha256(): string;
}

export interface GateStages {
  /** stored tap → decoders → plain tap (or the threaded decoder), to put between the medium's stream and a consumer. */
  stages: Duplex[];
  stored: ByteFacts;
  plain: ByteFacts;
}

/**
 * Artifacts stored in fewer bytes than this are decoded in this thread: starting the two decoder
 * threads costs ~100 ms of CPU, what this thread spends decoding ~30 MiB (BENCHMARKS.md
 * "### Decoder"; a 16 MiB WAL segment decoded slower on threads). Set LIFEBOAT_DECODE_THREADS_MIN
 * (bytes) to move the line (0: every artifact on threads, as the tamper tests were run once).
 */
const THREADS_MIN = 32 * 1024 * 1024;

function threadsMin(): number {
  const v = Number(process.env.LIFEBOAT_DECODE_THREADS_MIN);
  return process.env.LIFEBOAT_DECODE_THREADS_MIN !== undefined && Number.isFinite(v) && v >= 0 ? v : THREADS_MIN;
}

/** The encodings the threads decode (age, then zstd); anything else keeps the stream path (and its errors). */
function threadable(spec: ArtifactSpec, identities: AgeIdentity[]): boolean {
  const e = spec.encodings.join(',');
  if (!['', 'zstd', 'age', 'zstd,age'].includes(e)) return false;
  if (spec.encodings.includes('age') && identities.length === 0) return false;
  return spec.bytes === null || spec.bytes >= threadsMin();
}

/**
 * The gate's stages without the trust rule, for a caller that judges the manifest itself and
 * maps failures to its own verdicts (deep verification). `check: false` keeps only the hard stops
 * (the caller compares the hashes); `check: true` also fails the stream on a size or hash that differs.
 * A large artifact is decoded on two threads (pipeline/threaded-decoder.ts): the same checks, in the
 * same order, with the same words, as the stream stages.
 */
export function gateStages(
  spec: ArtifactSpec,
  identities: AgeIdentity[],
  o: { check: boolean; onStoredBytes?: (n: number) => void; onPlainBytes?: (n: number) => void },
): GateStages {
  if (threadable(spec, identities)) {
    const d = new ThreadedDecodeStream(
      {
        what: spec.what,
        storedLimit: spec.bytes,
        plainLimit: spec.plainBytes,
        expectStored: o.check ? { bytes: spec.bytes, sha256: spec.sha256 } : null,
        expectPlain: o.check ? { bytes: spec.plainBytes, sha256: spec.plainSha256 } : null,
        age: spec.encodings.includes('age'),
        zstd: spec.encodings.includes('zstd'),
      },
      identities,
      { onStoredBytes: o.onStoredBytes, onPlainBytes: o.onPlainBytes },
    );
    return { stages: [d], stored: d.stored, plain: d.plain };
  }
  const stored = new CheckTap({
    what: `${spec.what} (stored bytes)`,
    limit: spec.bytes,
    ...(o.check ? { expectBytes: spec.bytes, expectSha256: spec.sha256 } : {}),
    onBytes: o.onStoredBytes,
  });
  const decoders = decodeStages(spec.encodings, identities, {
    plainLimit: spec.plainBytes ?? undefined,
    what: spec.what,
  });
  const plain = new CheckTap({
    what: `${spec.what} (decoded)`,
    limit: spec.plainBytes,
    ...(o.check ? { expectBytes: spec.plainBytes, expectSha256: spec.plainSha256 } : {}),
    onBytes: o.onPlainBytes,
  });
  return { stages: [stored, ...decoders, plain], stored, plain };
}

/** Resolves once the threads of any threaded decoder among `stages` are gone (a pipeline settles before that). */
export async function decodersStopped(stages: readonly Duplex[]): Promise<void> {
  await Promise.all(stages.filter((s) => s instanceof ThreadedDecodeStream).map((s) => s.stopped()));
}

/** The gate did not fail: its reader stopped reading (the reader's own error says why). */
export class ReaderStopped extends LifeboatError {
  constructor(what: string, cause: unknown) {
    super('INTERNAL', `The reader of ${what} stopped before its end.`, { cause });
  }
}

export interface VerifiedArtifact {
  /** The plaintext. It errors (CHECKSUM_MISMATCH, DECRYPTION_FAILED…) instead of ending when a check fails. */
  stream: Readable;
  /** Settles once every byte was read and every check passed (or rejects with the first failure). */
  verified: Promise<void>;
  stored: ByteFacts;
  plain: ByteFacts;
}

export interface OpenOptions {
  identities: AgeIdentity[];
  /** The manifest's trust, decided by judgeManifest for this very copy. */
  trust: TrustDecision;
  signal?: AbortSignal;
  onStoredBytes?: (n: number) => void;
  onPlainBytes?: (n: number) => void;
}

/**
 * Open one artifact of a judged set copy through the gate. The caller consumes `stream` (into
 * staging) and uses the result only after `verified` resolved.
 */
export async function openVerifiedArtifact(
  copy: GateCopy,
  artifact: Artifact,
  o: OpenOptions,
): Promise<VerifiedArtifact> {
  if (!copy.manifest.artifacts.includes(artifact))
    throw new LifeboatError('INTERNAL', `${artifact.path} is not an artifact of the manifest judged for ${copy.key}.`);
  const g = gateStages(specOf(copy.key, artifact), o.identities, {
    check: true,
    onStoredBytes: o.onStoredBytes,
    onPlainBytes: o.onPlainBytes,
  });
  const source = await copy.medium.openRead(`${copy.setPath}/${artifact.path}`);
  const last = g.stages[g.stages.length - 1]!;
  const verified = pipeline([source, ...g.stages], o.signal ? { signal: o.signal } : {}).catch(async (e: unknown) => {
    // A failure settles only once the decoder's threads are gone: nothing is left running.
    await decodersStopped(g.stages);
    if (o.signal?.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.', { cause: e });
    if ((e as { code?: unknown } | null)?.code === 'ERR_STREAM_PREMATURE_CLOSE')
      throw new ReaderStopped(`${copy.key}/${artifact.path}`, e);
    throw mapError(e);
  });
  verified.catch(() => undefined);
  return { stream: last, verified, stored: g.stored, plain: g.plain };
}

/**
 * Wait for a consumer of a gated stream and for the gate: both must succeed. When the consumer
 * failed because the gate stopped the stream, the gate's reason is the one reported. A failure
 * settles only once the consumer has settled too: a caller that then removes its staging never
 * races writes still in flight (asynchronous tar extraction).
 */
export async function untilVerified<T>(v: VerifiedArtifact, consuming: Promise<T>): Promise<T> {
  try {
    const [out] = await Promise.all([consuming, v.verified]);
    return out;
  } catch (e) {
    v.stream.destroy();
    const [gate] = await Promise.all([
      v.verified.then(
        () => null,
        (g: unknown) => g,
      ),
      consuming.then(
        () => undefined,
        () => undefined,
      ),
    ]);
    // The gate's own failure explains the reader's (a stream cut short); else the reader's error stands.
    throw gate && !(gate instanceof ReaderStopped) ? gate : e;
  }
}

/** Read a small artifact (a file index) whole through the gate; at most `plain_bytes` are ever held. */
export async function readVerifiedArtifact(copy: GateCopy, artifact: Artifact, o: OpenOptions): Promise<Buffer> {
  const v = await openVerifiedArtifact(copy, artifact, o);
  const chunks: Buffer[] = [];
  v.stream.on('data', (c: Buffer) => chunks.push(c));
  await v.verified;
  return Buffer.concat(chunks);
}
