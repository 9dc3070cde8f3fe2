import { createCipheriv, createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import * as z from 'zstd-napi/binding';
import type { EncoderSettings, EncoderWorkerData, FromEncoder, ToEncoder } from './encoder-protocol';

/**
 * The encoder thread's code (started by encoder-thread.ts, driven by threaded-encoder.ts): zstd,
 * age and the stored bytes' SHA-256 into the shared ring. Built as its own entry
 * (out/main/encoder-worker.js); it imports only Node, zstd-napi and types, so the bundle has no
 * shared chunk to load. All state lives in one Encoder per thread.
 */

const CHUNK = 64 * 1024;

/** Shannon entropy (bits per byte) of a byte histogram of n bytes. */
function bitsPerByte(counts: Uint32Array, n: number): number {
  let h = 0;
  for (let b = 0; b < 256; b++) {
    const c = counts[b]!;
    if (c === 0) continue;
    const p = c / n;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Byte entropy (bits per byte) of 16 samples of 1 KiB spread over the block. */
function entropy(view: Uint8Array, counts: Uint32Array): number {
  // Compressed data (JPEG, PDF streams, archives, ciphertext) is at 7.9–8.0 (random bytes read
  // 7.99 on 16 KiB), text and dumps far below.
  counts.fill(0);
  const piece = 1024;
  const step = Math.floor((view.length - piece) / 15);
  for (let k = 0; k < 16; k++) {
    const at = k * step;
    for (let i = at; i < at + piece; i++) counts[view[i]!]!++;
  }
  return bitsPerByte(counts, 16 * piece);
}

/**
 * Bytes of a block that would not compress, estimated from up to 32 samples of 1 KiB (one per
 * 32 KiB: a dump's 64 KiB pipe reads get two, so the cost stays under 1/32 of the bytes), one at
 * the middle of each equal slice of the block (a tar's first header and its end-of-archive zeros,
 * at the edges, are not sampled in a one-block tar): each sample whose own byte entropy is at
 * least 7.5 bits counts for its share of the block. Random bytes read ~7.8 on 1 KiB (the estimate
 * is low on so few bytes), text and dumps below 6.
 */
function incompressibleIn(view: Uint8Array, counts: Uint32Array): number {
  const piece = 1024;
  if (view.length < piece) return 0;
  const samples = Math.max(1, Math.min(32, Math.floor(view.length / (32 * piece))));
  const slice = view.length / samples;
  let high = 0;
  for (let k = 0; k < samples; k++) {
    counts.fill(0);
    const at = Math.min(view.length - piece, Math.max(0, Math.floor((k + 0.5) * slice - piece / 2)));
    for (let i = at; i < at + piece; i++) counts[view[i]!]!++;
    if (bitsPerByte(counts, piece) >= 7.5) high++;
  }
  return Math.round((view.length * high) / samples);
}

export class Encoder {
  private readonly cctx = new z.CCtx();
  /** zstd writes here; the bytes are encrypted (or copied) into the ring before its next call. */
  private readonly zout: Buffer;
  private readonly counts = new Uint32Array(256);

  // This artifact's state, set by begin(). The plaintext is hashed by whoever reads it: here
  // only for a FIFO (drain), else by the main thread.
  private plain: Hash | null = null;
  private plainBytes = 0;
  private rawFrames = false;
  private zstdOpen = false;
  private rawFrameCount = 0;
  /** Plaintext bytes that would not compress by their sampled entropy (trends, incompressibleIn). */
  private highEntropyBytes = 0;
  private key: Buffer | null = null;
  private stored: Hash = createHash('sha256');
  private storedBytes = 0;
  private counter = 0n;
  // The age chunk being gathered (bytes of the zstd stream): views, copied (keep()) before the
  // memory they view is reused.
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private pendingOwned = true;

  // The ring slot being filled, and the blocks handed to the main thread (across artifacts; its
  // credits count those it has written everywhere).
  private out: Buffer | null = null;
  private fill = 0;
  private sent = 0;

  constructor(
    private readonly d: EncoderWorkerData,
    private readonly post: (m: FromEncoder, transfer?: ArrayBuffer[]) => void,
  ) {
    this.zout = Buffer.allocUnsafeSlow(d.block);
  }

  private acquire(): Buffer {
    const { credits, ringBlocks, ring, block } = this.d;
    for (;;) {
      const written = Atomics.load(credits, 0);
      if (this.sent - written < ringBlocks) break;
      Atomics.wait(credits, 0, written, 1000);
    }
    this.out = Buffer.from(ring, (this.sent % ringBlocks) * block, block);
    this.fill = 0;
    return this.out;
  }

  private ship(): void {
    if (this.out === null || this.fill === 0) return;
    this.stored.update(this.out.subarray(0, this.fill));
    this.storedBytes += this.fill;
    this.post({ slot: this.sent % this.d.ringBlocks, len: this.fill });
    this.sent++;
    this.out = null;
    this.fill = 0;
  }

  // Blocks are filled to the last byte (a chunk may span two), so every block but the last is
  // whole pages: what a write past the page cache needs.
  private put(bytes: Uint8Array): void {
    const block = this.d.block;
    let off = 0;
    while (off < bytes.length) {
      let out = this.out;
      if (out === null || this.fill === block) {
        this.ship();
        out = this.acquire();
      }
      const n = Math.min(block - this.fill, bytes.length - off);
      out.set(bytes.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
    }
  }

  private seal(pieces: Uint8Array[], last: boolean): void {
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64BE(this.counter++, 3);
    nonce[11] = last ? 1 : 0;
    const c = createCipheriv('chacha20-poly1305', this.key!, nonce, { authTagLength: 16 });
    for (const p of pieces) this.put(c.update(p));
    c.final();
    this.put(c.getAuthTag());
  }

  // The zstd stream's bytes, into age chunks: several pieces feed one cipher, without a copy. The
  // last chunk carries the last-chunk flag, so a full chunk is sealed only once a byte after it
  // has arrived: at least one byte (up to a whole chunk) waits for more data or the end.
  private emit(bytes: Uint8Array): void {
    if (!this.key) return this.put(bytes);
    let off = 0;
    while (off < bytes.length) {
      if (this.pendingBytes === CHUNK) {
        this.seal(this.pending, false);
        this.pending = [];
        this.pendingBytes = 0;
        this.pendingOwned = true;
      }
      const n = Math.min(CHUNK - this.pendingBytes, bytes.length - off);
      this.pending.push(bytes.subarray(off, off + n));
      this.pendingBytes += n;
      this.pendingOwned = false;
      off += n;
    }
  }

  // What waits in pending is copied before the memory it views is reused.
  private keep(): void {
    if (this.pendingOwned || this.pending.length === 0) return;
    const copy = Buffer.allocUnsafeSlow(this.pendingBytes);
    let at = 0;
    for (const p of this.pending) {
      copy.set(p, at);
      at += p.length;
    }
    this.pending = [copy];
    this.pendingOwned = true;
  }

  private compress(chunk: Uint8Array, op: z.EndDirective): void {
    for (;;) {
      const [ret, produced, consumed] = this.cctx.compressStream2(this.zout, chunk, op);
      if (produced > 0) {
        this.emit(this.zout.subarray(0, produced));
        this.keep();
      }
      chunk = chunk.subarray(consumed);
      if (chunk.length === 0 && (op === z.EndDirective.continue || ret === 0)) return;
    }
  }

  // A zstd frame of raw blocks (RFC 8878: single segment, 4-byte content size, no checksum):
  // what zstd itself writes for data it cannot compress, without it spending time finding that
  // out. Frames follow one another in the stream; every zstd decoder reads them in turn. The
  // block's bytes go to the cipher where they are.
  private raw(view: Uint8Array): void {
    if (this.zstdOpen) {
      this.compress(new Uint8Array(0), z.EndDirective.end);
      this.zstdOpen = false;
    }
    const max = 128 * 1024;
    for (let at = 0; at < view.length; at += max) {
      const size = Math.min(max, view.length - at);
      const last = at + size >= view.length ? 1 : 0;
      const bh = (size << 3) | last;
      const head = Buffer.alloc(at === 0 ? 12 : 3);
      if (at === 0) {
        head.set([0x28, 0xb5, 0x2f, 0xfd, 0xa0]);
        head.writeUInt32LE(view.length, 5);
      }
      head.set([bh & 0xff, (bh >> 8) & 0xff, (bh >> 16) & 0xff], head.length - 3);
      this.emit(head);
      this.emit(view.subarray(at, at + size));
    }
    this.rawFrameCount++;
  }

  feed(view: Uint8Array): void {
    // The share of data that does not compress is a set's trend and the ransomware indicator's
    // first signal: measured on every block (up to 32 KiB sampled).
    this.highEntropyBytes += incompressibleIn(view, this.counts);
    if (this.rawFrames && view.length >= 64 * 1024 && entropy(view, this.counts) >= 7.9) this.raw(view);
    else {
      this.compress(view, z.EndDirective.continue);
      this.zstdOpen = true;
    }
    this.keep();
  }

  begin(o: EncoderSettings): void {
    const cctx = this.cctx;
    cctx.reset(z.ResetDirective.sessionAndParameters);
    cctx.setParameter(z.CParameter.compressionLevel, o.level);
    cctx.setParameter(z.CParameter.checksumFlag, 1);
    if (o.workers > 0) {
      cctx.setParameter(z.CParameter.nbWorkers, o.workers);
      cctx.setParameter(z.CParameter.jobSize, o.jobSize);
      if (o.overlapLog > 0) cctx.setParameter(z.CParameter.overlapLog, o.overlapLog);
    }
    this.plain = null;
    this.plainBytes = 0;
    this.rawFrames = o.rawFrames;
    this.zstdOpen = false;
    this.rawFrameCount = 0;
    this.highEntropyBytes = 0;
    this.key = o.payloadKey ? Buffer.from(o.payloadKey) : null;
    this.stored = createHash('sha256');
    this.storedBytes = 0;
    this.counter = 0n;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingOwned = true;
    if (this.key && o.header) this.put(Buffer.from(o.header));
  }

  end(): void {
    // An empty stream is still one (empty) zstd frame.
    if (this.zstdOpen || this.rawFrameCount === 0) this.compress(new Uint8Array(0), z.EndDirective.end);
    if (this.key) this.seal(this.pending, true);
    this.pending = [];
    this.pendingBytes = 0;
    this.ship();
    this.key = null;
    const read = this.plain ? { plainSha256: this.plain.digest('hex'), plainBytes: this.plainBytes } : {};
    this.post({
      done: {
        ...read,
        sha256: this.stored.digest('hex'),
        bytes: this.storedBytes,
        incompressibleBytes: this.highEntropyBytes,
      },
    });
  }

  // A tool's output on a FIFO: read here with blocking reads, so the pipe is drained as fast as
  // this thread works and the main thread never touches the plaintext.
  drain(path: string): void {
    const block = this.d.block;
    const fd = openSync(path, 'r');
    this.post({ opened: true });
    const plain = createHash('sha256');
    this.plain = plain;
    const buf = Buffer.allocUnsafeSlow(block);
    let reported = 0;
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, block, null);
        if (n === 0) break;
        const view = buf.subarray(0, n);
        plain.update(view);
        this.plainBytes += n;
        this.feed(view);
        if (this.plainBytes - reported >= block) {
          reported = this.plainBytes;
          this.post({ progress: this.plainBytes });
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** One message from the main thread; failures go back to it as messages. */
  handle(m: ToEncoder): void {
    try {
      if ('begin' in m) return this.begin(m.begin);
      if ('fifo' in m) {
        this.drain(m.fifo);
        return this.end();
      }
      if ('end' in m) return this.end();
      // A block of plaintext from the main thread, which hashed it: back to it once encoded.
      this.feed(new Uint8Array(m.buf, 0, m.len));
      this.post({ free: m.buf }, [m.buf]);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      this.post({ error: { message: String(err?.message ?? e), code: err?.code } });
    }
  }
}

// Started as a thread: serve the main thread. (Imported elsewhere, e.g. by a test: nothing runs.)
if (parentPort && (workerData as { encoder?: EncoderWorkerData } | null)?.encoder) {
  const port = parentPort;
  const encoder = new Encoder((workerData as { encoder: EncoderWorkerData }).encoder, (m, transfer) =>
    port.postMessage(m, transfer),
  );
  port.on('message', (m: ToEncoder) => encoder.handle(m));
}
