import { Worker } from 'node:worker_threads';
import { pageAlignedMemory } from '../storage/aligned-memory';

/**
 * The worker thread of the write path (threaded-encoder.ts), kept apart from it so a command can
 * start it before it loads anything else: a thread takes ~50–70 ms to boot, which otherwise
 * sits between the first block read and the first block encoded. The thread is reused for every
 * artifact of a backup (a directory-format dump has one per table) and let go when it has been
 * idle for a while.
 *
 * This module imports only node:worker_threads and aligned-memory.ts, so starting the thread
 * early costs the caller no module loading.
 */

/**
 * Bytes per block between the threads. Every block costs each thread a wake-up (a message, a
 * write, a slot freed), which on a 2-vCPU VM is where the cores sat idle: 2 MiB blocks were
 * ~6% faster than 1 MiB on the files benchmark; 4 MiB a little more, for 20 MB more memory.
 */
export const BLOCK = 2 * 1024 * 1024;
/** Slots of stored bytes: up to RING_BLOCKS - 1 being written while the thread fills one. */
const RING_BLOCKS = 5;

const ENCODER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createHash, createCipheriv } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const z = require(workerData.zstd);
const { ring, ringBlocks, credits, block } = workerData;
const CHUNK = 64 * 1024;
const cctx = new z.CCtx();
// zstd writes here; the bytes are encrypted (or copied) into the ring before its next call.
const zout = Buffer.allocUnsafeSlow(block);

// This artifact's state, set by begin(). The plaintext is hashed by whoever reads it: here
// only for a FIFO (drain), else by the main thread.
let plain = null;
let plainBytes = 0;
let rawFrames = false;
let zstdOpen = false;
let rawFrameCount = 0;
let key = null;
let stored = null;
let storedBytes = 0;
let counter = 0n;
// The age chunk being gathered (bytes of the zstd stream): views, copied (keep()) before the
// memory they view is reused.
let pending = [];
let pendingBytes = 0;
let pendingOwned = true;

// The ring slot being filled, and the blocks handed to the main thread (across artifacts; its
// credits count those it has written everywhere).
let out = null;
let fill = 0;
let sent = 0;
function acquire() {
  for (;;) {
    const written = Atomics.load(credits, 0);
    if (sent - written < ringBlocks) break;
    Atomics.wait(credits, 0, written, 1000);
  }
  out = Buffer.from(ring, (sent % ringBlocks) * block, block);
  fill = 0;
}
function ship() {
  if (out === null || fill === 0) return;
  stored.update(out.subarray(0, fill));
  storedBytes += fill;
  parentPort.postMessage({ slot: sent % ringBlocks, len: fill });
  sent++;
  out = null;
  fill = 0;
}
// Blocks are filled to the last byte (a chunk may span two), so every block but the last is
// whole pages: what a write past the page cache needs.
function put(bytes) {
  let off = 0;
  while (off < bytes.length) {
    if (out === null || fill === block) {
      ship();
      acquire();
    }
    const n = Math.min(block - fill, bytes.length - off);
    out.set(bytes.subarray(off, off + n), fill);
    fill += n;
    off += n;
  }
}
function seal(pieces, last) {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(counter++, 3);
  nonce[11] = last ? 1 : 0;
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  for (const p of pieces) put(c.update(p));
  c.final();
  put(c.getAuthTag());
}
// The zstd stream's bytes, into age chunks: several pieces feed one cipher, without a copy. The
// last chunk carries the last-chunk flag, so a full chunk is sealed only once a byte after it
// has arrived: at least one byte (up to a whole chunk) waits for more data or the end.
function emit(bytes) {
  if (!key) return put(bytes);
  let off = 0;
  while (off < bytes.length) {
    if (pendingBytes === CHUNK) {
      seal(pending, false);
      pending = [];
      pendingBytes = 0;
      pendingOwned = true;
    }
    const n = Math.min(CHUNK - pendingBytes, bytes.length - off);
    pending.push(bytes.subarray(off, off + n));
    pendingBytes += n;
    pendingOwned = false;
    off += n;
  }
}
// What waits in pending is copied before the memory it views is reused.
function keep() {
  if (pendingOwned || pending.length === 0) return;
  const copy = Buffer.allocUnsafeSlow(pendingBytes);
  let at = 0;
  for (const p of pending) {
    copy.set(p, at);
    at += p.length;
  }
  pending = [copy];
  pendingOwned = true;
}
function compress(chunk, op) {
  for (;;) {
    const [ret, produced, consumed] = cctx.compressStream2(zout, chunk, op);
    if (produced > 0) {
      emit(zout.subarray(0, produced));
      keep();
    }
    chunk = chunk.subarray(consumed);
    if (chunk.length === 0 && (op === z.EndDirective.continue || ret === 0)) return;
  }
}
// Byte entropy (bits per byte) of 16 samples of 1 KiB spread over the block: compressed data
// (JPEG, PDF streams, archives, ciphertext) is at 7.9–8.0 (random bytes read 7.99 on 16 KiB),
// text and dumps far below.
const counts = new Uint32Array(256);
function entropy(view) {
  counts.fill(0);
  const piece = 1024;
  const step = Math.floor((view.length - piece) / 15);
  let n = 0;
  for (let k = 0; k < 16; k++) {
    const at = k * step;
    for (let i = at; i < at + piece; i++) counts[view[i]]++;
    n += piece;
  }
  let h = 0;
  for (let b = 0; b < 256; b++) {
    if (counts[b] === 0) continue;
    const p = counts[b] / n;
    h -= p * Math.log2(p);
  }
  return h;
}
// A zstd frame of raw blocks (RFC 8878: single segment, 4-byte content size, no checksum):
// what zstd itself writes for data it cannot compress, without it spending time finding that
// out. Frames follow one another in the stream; every zstd decoder reads them in turn. The
// block's bytes go to the cipher where they are.
function raw(view) {
  if (zstdOpen) {
    compress(new Uint8Array(0), z.EndDirective.end);
    zstdOpen = false;
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
    emit(head);
    emit(view.subarray(at, at + size));
  }
  rawFrameCount++;
}
function feed(view) {
  if (rawFrames && view.length >= 64 * 1024 && entropy(view) >= 7.9) raw(view);
  else {
    compress(view, z.EndDirective.continue);
    zstdOpen = true;
  }
  keep();
}
function begin(o) {
  cctx.reset(z.ResetDirective.sessionAndParameters);
  cctx.setParameter(z.CParameter.compressionLevel, o.level);
  cctx.setParameter(z.CParameter.checksumFlag, 1);
  if (o.workers > 0) {
    cctx.setParameter(z.CParameter.nbWorkers, o.workers);
    cctx.setParameter(z.CParameter.jobSize, o.jobSize);
    if (o.overlapLog > 0) cctx.setParameter(z.CParameter.overlapLog, o.overlapLog);
  }
  plain = null;
  plainBytes = 0;
  rawFrames = o.rawFrames;
  zstdOpen = false;
  rawFrameCount = 0;
  key = o.payloadKey ? Buffer.from(o.payloadKey) : null;
  stored = createHash('sha256');
  storedBytes = 0;
  counter = 0n;
  pending = [];
  pendingBytes = 0;
  pendingOwned = true;
  if (key) put(Buffer.from(o.header));
}
function end() {
  // An empty stream is still one (empty) zstd frame.
  if (zstdOpen || rawFrameCount === 0) compress(new Uint8Array(0), z.EndDirective.end);
  if (key) seal(pending, true);
  pending = [];
  pendingBytes = 0;
  ship();
  key = null;
  const read = plain ? { plainSha256: plain.digest('hex'), plainBytes } : {};
  parentPort.postMessage({ done: { ...read, sha256: stored.digest('hex'), bytes: storedBytes } });
}
// A tool's output on a FIFO: read here with blocking reads, so the pipe is drained as fast as
// this thread works and the main thread never touches the plaintext.
function drain(path) {
  const fd = openSync(path, 'r');
  parentPort.postMessage({ opened: true });
  plain = createHash('sha256');
  const buf = Buffer.allocUnsafeSlow(block);
  let reported = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, block, null);
      if (n === 0) break;
      const view = buf.subarray(0, n);
      plain.update(view);
      plainBytes += n;
      feed(view);
      if (plainBytes - reported >= block) {
        reported = plainBytes;
        parentPort.postMessage({ progress: plainBytes });
      }
    }
  } finally {
    closeSync(fd);
  }
}
parentPort.on('message', (m) => {
  try {
    if (m.begin) {
      begin(m.begin);
      return;
    }
    if (m.fifo) {
      drain(m.fifo);
      end();
      return;
    }
    if (m.end) {
      end();
      return;
    }
    // A block of plaintext from the main thread, which hashed it: back to it once encoded.
    feed(new Uint8Array(m.buf, 0, m.len));
    parentPort.postMessage({ free: m.buf }, [m.buf]);
  } catch (e) {
    parentPort.postMessage({ error: { message: String((e && e.message) || e), code: e && e.code } });
  }
});
`;

/** One artifact's settings for the encoder thread. */
export interface EncoderSettings {
  level: number;
  workers: number;
  jobSize: number;
  /** zstd's overlapLog between jobs (0: zstd's default). */
  overlapLog: number;
  rawFrames: boolean;
  /** age: the file header and the payload key (both null: no encryption). */
  header: Uint8Array | null;
  payloadKey: Uint8Array | null;
}

/**
 * The encoder thread and what the main thread needs to drive it: it takes plaintext blocks (or
 * a FIFO) and fills the slots of `ring` (page-aligned shared memory, so a file can be written
 * from it without the page cache), posting each filled slot; `credits` counts the blocks the
 * main thread has written everywhere, which frees their slots.
 */
export interface EncoderThread {
  readonly worker: Worker;
  readonly ring: SharedArrayBuffer;
  readonly credits: Int32Array;
  /** It stopped or failed: it cannot be used again. */
  broken: boolean;
}

let started = 0;

/** How many encoder threads this process has started (the tests check that one is reused). */
export function encoderThreadsStarted(): number {
  return started;
}

function startThread(): EncoderThread {
  started++;
  const ring = pageAlignedMemory(RING_BLOCKS * BLOCK);
  const credits = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(ENCODER_SOURCE, {
    eval: true,
    workerData: { zstd: require.resolve('zstd-napi/binding'), ring, ringBlocks: RING_BLOCKS, credits, block: BLOCK },
  });
  const thread: EncoderThread = { worker, ring, credits, broken: false };
  // Whoever uses the thread listens for the details; these only mark it unusable (and keep a
  // failure of an idle thread from becoming an uncaught 'error' event).
  worker.on('error', () => (thread.broken = true));
  worker.on('exit', () => (thread.broken = true));
  return thread;
}

/** How long an idle thread is kept for the next artifact. */
const IDLE_MS = 10_000;
let spare: { thread: EncoderThread; timer: NodeJS.Timeout } | null = null;

/** Start the thread now, for the artifact about to be written (a no-op when one is waiting). */
export function prestartEncoderThread(): void {
  if (spare && !spare.thread.broken) return;
  parkEncoderThread(startThread());
}

/** The thread for one artifact: the waiting one, or a new one. */
export function takeEncoderThread(): EncoderThread {
  const waiting = spare;
  spare = null;
  if (waiting) clearTimeout(waiting.timer);
  if (waiting && !waiting.thread.broken) {
    waiting.thread.worker.ref();
    return waiting.thread;
  }
  if (waiting) void discardEncoderThread(waiting.thread);
  return startThread();
}

/** A thread done with an artifact: kept for the next one for a while (it never holds the process open). */
export function parkEncoderThread(t: EncoderThread): void {
  if (t.broken || (spare && !spare.thread.broken)) {
    void discardEncoderThread(t);
    return;
  }
  if (spare) void discardEncoderThread(spare.thread);
  t.worker.unref();
  const timer = setTimeout(() => {
    if (spare?.thread === t) spare = null;
    void discardEncoderThread(t);
  }, IDLE_MS);
  timer.unref();
  spare = { thread: t, timer };
}

/**
 * Stop a thread. One inside a blocking read cannot stop before the read returns: after a while
 * it is let go, so it never holds the process open.
 */
export async function discardEncoderThread(t: EncoderThread): Promise<void> {
  t.broken = true;
  await Promise.race([t.worker.terminate(), new Promise((r) => setTimeout(r, 2000).unref())]);
  t.worker.unref();
}
