import { createHash, type Hash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import * as z from 'zstd-napi/binding';
import { AgeDecryptStream, type AgeIdentity } from '../crypto/age';
import type {
  DecodeSpec,
  DecoderWorkerData,
  ErrorData,
  FromDecoder,
  FromOpener,
  OpenerToDecoder,
  SeenFacts,
  ToOpener,
} from './decoder-protocol';

/**
 * The two threads of the read path (started and driven by threaded-decoder.ts), one script:
 *
 *   open:    stored bytes' size limit, SHA-256 and count; age decryption (the very
 *            AgeDecryptStream of the in-process path, driven block by block, so every damage is
 *            reported with the same words) into a ring of shared blocks
 *   decode:  zstd (each call bounded: never a byte more than one past the recorded plain size),
 *            the plaintext's size limit, SHA-256 and count, into fresh blocks transferred to the
 *            main thread
 *
 * The checks and their messages are those of restore/gate.ts's CheckTap and zstd-decode.ts, in
 * the same order (stored size, age, zstd, plain size; at the end stored hash, age's last chunk,
 * zstd's truncation, plain hash), so a verdict is the one the stream path gives.
 */

class Failure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

function errorData(e: unknown): ErrorData {
  const err = e as { message?: unknown; code?: unknown; hint?: unknown };
  return {
    message: String(err?.message ?? e),
    code: typeof err?.code === 'string' ? err.code : undefined,
    hint: typeof err?.hint === 'string' ? err.hint : undefined,
  };
}

/** Counts and hashes bytes; the gate's CheckTap without the stream (same limits, same words). */
class Seen {
  private readonly hash: Hash = createHash('sha256');
  private final: string | null = null;
  bytes = 0;

  constructor(
    private readonly what: string,
    private readonly limit: number | null,
  ) {}

  /** Bytes that pass; a chunk going past the limit fails (counted, as CheckTap counts it). */
  add(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    if (this.limit !== null && this.bytes > this.limit)
      throw new Failure(
        'CHECKSUM_MISMATCH',
        `${this.what}: more than the ${this.limit} bytes its manifest records: corrupted (reading stopped there).`,
      );
    this.hash.update(chunk);
  }

  facts(): SeenFacts {
    return { bytes: this.bytes, sha256: this.final ?? this.hash.copy().digest('hex') };
  }

  check(expect: { bytes: number | null; sha256: string | null } | null): SeenFacts {
    this.final ??= this.hash.digest('hex');
    const f = { bytes: this.bytes, sha256: this.final };
    if (!expect) return f;
    if (expect.bytes !== null && f.bytes !== expect.bytes)
      throw new Failure(
        'CHECKSUM_MISMATCH',
        `${this.what}: ${f.bytes} bytes, its manifest records ${expect.bytes}: corrupted.`,
      );
    if (expect.sha256 && f.sha256 !== expect.sha256)
      throw new Failure(
        'CHECKSUM_MISMATCH',
        `${this.what}: SHA-256 ${f.sha256.slice(0, 16)}… instead of ${expect.sha256.slice(0, 16)}… recorded in its manifest: corrupted.`,
      );
    return f;
  }
}

/** Wait until fewer than `most` blocks are out (credits count those given back); wakes to let a terminate through. */
function waitForRoom(credits: Int32Array, sent: number, most: number): void {
  for (;;) {
    const back = Atomics.load(credits, 0);
    if (sent - back < most) return;
    Atomics.wait(credits, 0, back, 200);
  }
}

/** The open thread: stored bytes in (from the main thread), decrypted bytes out (to the ring). */
export class Opener {
  private readonly seen: Seen;
  private readonly age: AgeDecryptStream | null;
  private readonly pieces: Buffer[] = [];
  private out: Buffer | null = null;
  private fill = 0;
  private sent = 0;
  private failed = false;

  constructor(
    private readonly d: DecoderWorkerData,
    private readonly toMain: (m: FromOpener, transfer?: ArrayBuffer[]) => void,
    private readonly toDecoder: (m: OpenerToDecoder) => void,
  ) {
    const spec = d.spec;
    this.seen = new Seen(`${spec.what} (stored bytes)`, spec.storedLimit);
    if (spec.age) {
      const ids: AgeIdentity[] = d.identities.map((i) => ({
        secretKey: Buffer.from(i.secretKey),
        recipient: { text: i.recipient.text, publicKey: Buffer.from(i.recipient.publicKey), keyId: i.recipient.keyId },
      }));
      const age = new AgeDecryptStream(ids);
      // Driven here call by call: what it pushes is collected, not streamed.
      age.push = (c: unknown): boolean => {
        if (c) this.pieces.push(c as Buffer);
        return true;
      };
      this.age = age;
    } else this.age = null;
  }

  private put(bytes: Uint8Array): void {
    const { block, ring, ringBlocks, ringCredits } = this.d;
    let off = 0;
    while (off < bytes.length) {
      if (this.out === null) {
        waitForRoom(ringCredits, this.sent, ringBlocks);
        this.out = Buffer.from(ring, (this.sent % ringBlocks) * block, block);
        this.fill = 0;
      }
      const n = Math.min(block - this.fill, bytes.length - off);
      this.out.set(bytes.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === block) this.ship();
    }
  }

  private ship(): void {
    if (this.out === null || this.fill === 0) return;
    this.toDecoder({ slot: this.sent % this.d.ringBlocks, len: this.fill });
    this.sent++;
    this.out = null;
    this.fill = 0;
  }

  private decrypt(chunk: Buffer, last: boolean): void {
    if (!this.age) return this.put(chunk);
    const failed: Error[] = [];
    const done = (e?: Error | null): void => void (e && failed.push(e));
    if (last) this.age._flush(done);
    else this.age._transform(chunk, 'binary', done);
    if (failed[0]) throw failed[0];
    for (const p of this.pieces.splice(0)) this.put(p);
  }

  private block(view: Buffer): void {
    const limit = this.d.spec.storedLimit;
    const room = limit === null ? view.length : Math.max(0, limit - this.seen.bytes);
    if (room >= view.length) {
      this.seen.add(view);
      this.decrypt(view, false);
      return;
    }
    // A block running past the recorded size: what fits goes through first, then the hard stop.
    if (room > 0) {
      this.seen.add(view.subarray(0, room));
      this.decrypt(view.subarray(0, room), false);
    }
    this.seen.add(view.subarray(room));
  }

  handle(m: ToOpener): void {
    if (this.failed) return;
    try {
      if ('end' in m) {
        const stored = this.seen.check(this.d.spec.expectStored);
        if (this.age) this.decrypt(Buffer.alloc(0), true);
        this.ship();
        this.toMain({ stored });
        this.toDecoder({ end: true });
        return;
      }
      this.block(Buffer.from(m.buf, 0, m.len));
      this.toMain({ free: m.buf, seen: this.seen.facts() }, [m.buf]);
    } catch (e) {
      this.failed = true;
      this.toMain({ error: errorData(e), seen: this.seen.facts() });
    }
  }
}

/** The decode thread: decrypted bytes in (from the ring), plaintext out (to the main thread). */
export class Decoder {
  private readonly seen: Seen;
  private readonly dctx: z.DCtx | null;
  private readonly spec: DecodeSpec;
  private inFrame = false;
  private produced = 0;
  private out: Buffer | null = null;
  private fill = 0;
  private sent = 0;
  private failed = false;

  constructor(
    private readonly d: DecoderWorkerData,
    private readonly toMain: (m: FromDecoder, transfer?: ArrayBuffer[]) => void,
  ) {
    this.spec = d.spec;
    this.seen = new Seen(`${d.spec.what} (decoded)`, d.spec.plainLimit);
    this.dctx = d.spec.zstd ? new z.DCtx() : null;
  }

  private room(): Buffer {
    if (this.out === null || this.fill === this.d.block) {
      this.ship();
      waitForRoom(this.d.outCredits, this.sent, this.d.outBlocks);
      this.out = Buffer.from(new ArrayBuffer(this.d.block));
      this.fill = 0;
    }
    return this.out.subarray(this.fill);
  }

  private ship(): void {
    const out = this.out;
    if (out === null || this.fill === 0) return;
    this.toMain({ out: out.buffer as ArrayBuffer, len: this.fill }, [out.buffer as ArrayBuffer]);
    this.sent++;
    this.out = null;
    this.fill = 0;
  }

  private emit(made: Buffer): void {
    this.seen.add(made);
    this.fill += made.length;
  }

  private copy(src: Buffer): void {
    for (let off = 0; off < src.length;) {
      const room = this.room();
      const n = Math.min(room.length, src.length - off);
      room.set(src.subarray(off, off + n));
      this.emit(room.subarray(0, n));
      off += n;
    }
  }

  // zstd-decode.ts's loop, writing straight into the block: each call may produce at most one
  // byte past the recorded plain size, so a bomb is stopped there, never decoded in full.
  private inflate(src: Buffer): void {
    const limit = this.spec.plainLimit ?? Number.POSITIVE_INFINITY;
    for (;;) {
      const room = this.room();
      const dst = room.subarray(0, Math.min(room.length, Math.max(1, limit - this.produced + 1)));
      let ret: number, made: number, used: number;
      try {
        [ret, made, used] = this.dctx!.decompressStream(dst, src);
      } catch (e) {
        throw new Failure(
          'CHECKSUM_MISMATCH',
          `${this.spec.what} is not valid zstd data: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
      src = src.subarray(used);
      if (made > 0) {
        this.produced += made;
        if (this.produced > limit)
          throw new Failure(
            'CHECKSUM_MISMATCH',
            `${this.spec.what} decodes to more than the ${limit} bytes its manifest records: corrupted (decoding stopped there).`,
          );
        this.emit(dst.subarray(0, made));
      }
      if (src.length === 0 && (made < dst.length || ret === 0)) {
        this.inFrame = ret !== 0;
        return;
      }
    }
  }

  handle(m: OpenerToDecoder): void {
    if (this.failed) return;
    try {
      if ('end' in m) {
        if (this.inFrame)
          throw new Failure('CHECKSUM_MISMATCH', `${this.spec.what} ends in the middle of a zstd frame (truncated).`);
        this.ship();
        this.toMain({ plain: this.seen.check(this.spec.expectPlain) });
        return;
      }
      const src = Buffer.from(this.d.ring, m.slot * this.d.block, m.len);
      if (this.dctx) this.inflate(src);
      else this.copy(src);
      Atomics.add(this.d.ringCredits, 0, 1);
      Atomics.notify(this.d.ringCredits, 0);
    } catch (e) {
      this.failed = true;
      this.toMain({ error: errorData(e), seen: this.seen.facts() });
    }
  }
}

// Started as a thread: serve. (Imported elsewhere, e.g. by a test: nothing runs.)
const started = (workerData as { decoder?: DecoderWorkerData } | null)?.decoder;
if (parentPort && started) {
  const main = parentPort;
  const post = (m: FromOpener | FromDecoder, transfer?: ArrayBuffer[]): void => main.postMessage(m, transfer);
  if (started.role === 'open') {
    const opener = new Opener(started, post, (m) => started.port.postMessage(m));
    main.on('message', (m: ToOpener) => opener.handle(m));
  } else {
    const decoder = new Decoder(started, post);
    started.port.on('message', (m: OpenerToDecoder) => decoder.handle(m));
  }
}
