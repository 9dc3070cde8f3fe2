import type { Readable } from 'node:stream';
import { MessageChannel, Worker } from 'node:worker_threads';
import { execFile, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolSource, type RunningTool } from '../backup/child';
import { ageFileStart, type AgeRecipient } from '../crypto/age';
import { LifeboatError, mapError } from '../errors';
import type { ArtifactSink } from '../storage/medium';

/**
 * The write path of large artifacts on three threads, so one backup uses both cores without a
 * thread waiting on another's hashing:
 *
 *   main:      reads the source into 1 MiB blocks (the tar writer reads files straight into them)
 *   compress:  SHA-256 of the plaintext, zstd (with zstd's own worker threads); for tars, a
 *              block that would not compress (photos, archives: byte entropy ≥ 7.9 bits) is
 *              stored in a raw zstd frame instead, at the cost of a copy
 *   seal:      age (ChaCha20-Poly1305 over 64 KiB chunks), SHA-256 of the stored bytes
 *   main:      writes the stored blocks to every destination
 *
 * Blocks move between threads by transfer (no copies). Memory is bounded at every hop: the main
 * thread owns IN_BLOCKS input blocks and waits for one to come back; each worker sends at most
 * OUT_BLOCKS blocks ahead of its consumer and otherwise blocks on a shared counter (Atomics.wait)
 * that the consumer bumps. So a slow destination stalls the seal thread, which stalls compress,
 * which stops returning input blocks, which stops the source from being read.
 *
 * The workers are plain JavaScript given as source (like the verify hash pool) so they run the
 * same under Node, Electron and the tests.
 */

const BLOCK = 1024 * 1024;
const IN_BLOCKS = 4;
const OUT_BLOCKS = 4;

const COMPRESS_SOURCE = `
'use strict';
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const z = require(workerData.zstd);
const { port, returned, block, maxOut } = workerData;
const cctx = new z.CCtx();
cctx.setParameter(z.CParameter.compressionLevel, workerData.level);
cctx.setParameter(z.CParameter.checksumFlag, 1);
if (workerData.workers > 0) {
  cctx.setParameter(z.CParameter.nbWorkers, workerData.workers);
  cctx.setParameter(z.CParameter.jobSize, workerData.jobSize);
  if (workerData.overlapLog > 0) cctx.setParameter(z.CParameter.overlapLog, workerData.overlapLog);
}
const plain = createHash('sha256');
let plainBytes = 0;
const free = [];
let outstanding = 0;
let out = null;
let fill = 0;
function takeReturned() {
  let m;
  while ((m = receiveMessageOnPort(port))) { free.push(m.message); outstanding--; }
}
function nextBuffer() {
  for (;;) {
    takeReturned();
    if (free.length > 0) return free.pop();
    if (outstanding < maxOut) return new ArrayBuffer(block);
    const seen = Atomics.load(returned, 0);
    takeReturned();
    if (free.length > 0) return free.pop();
    Atomics.wait(returned, 0, seen, 1000);
  }
}
function ship() {
  if (out === null || fill === 0) return;
  port.postMessage({ buf: out, len: fill }, [out]);
  outstanding++;
  out = null;
  fill = 0;
}
function compress(chunk, op) {
  for (;;) {
    if (out === null) out = nextBuffer();
    const [ret, produced, consumed] = cctx.compressStream2(new Uint8Array(out, fill), chunk, op);
    fill += produced;
    if (fill === block) ship();
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
function put(bytes) {
  while (bytes.length > 0) {
    if (out === null) out = nextBuffer();
    const n = Math.min(bytes.length, block - fill);
    new Uint8Array(out, fill, n).set(bytes.subarray(0, n));
    fill += n;
    bytes = bytes.subarray(n);
    if (fill === block) ship();
  }
}
// A zstd frame of raw blocks (RFC 8878: single segment, 4-byte content size, no checksum):
// what zstd itself writes for data it cannot compress, without it spending time finding that out.
// Frames follow one another in the stream; every zstd decoder reads them in turn.
let zstdOpen = false;
let rawFrameCount = 0;
function raw(view) {
  if (zstdOpen) {
    compress(new Uint8Array(0), z.EndDirective.end);
    zstdOpen = false;
  }
  const header = new Uint8Array(9);
  header.set([0x28, 0xb5, 0x2f, 0xfd, 0xa0]);
  new DataView(header.buffer).setUint32(5, view.length, true);
  put(header);
  const max = 128 * 1024;
  for (let at = 0; at < view.length; at += max) {
    const size = Math.min(max, view.length - at);
    const last = at + size >= view.length ? 1 : 0;
    const bh = (size << 3) | last;
    put(Uint8Array.of(bh & 0xff, (bh >> 8) & 0xff, (bh >> 16) & 0xff));
    put(view.subarray(at, at + size));
  }
  rawFrameCount++;
}
function feed(view) {
  if (workerData.rawFrames && view.length >= 64 * 1024 && entropy(view) >= 7.9) raw(view);
  else {
    compress(view, z.EndDirective.continue);
    zstdOpen = true;
  }
  if (fill >= block / 2) ship();
}
function end() {
  // An empty stream is still one (empty) zstd frame.
  if (zstdOpen || rawFrameCount === 0) compress(new Uint8Array(0), z.EndDirective.end);
  ship();
  port.postMessage({ end: true });
  parentPort.postMessage({ plainSha256: plain.digest('hex'), plainBytes });
}
// A tool's output on a FIFO: read here with blocking reads, so the pipe is drained as fast as
// this thread works and the main thread never touches the plaintext.
function drain(path) {
  const fd = openSync(path, 'r');
  parentPort.postMessage({ opened: true });
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
    if (m.fifo) {
      drain(m.fifo);
      end();
      return;
    }
    if (m.end) {
      end();
      return;
    }
    const view = new Uint8Array(m.buf, 0, m.len);
    plain.update(view);
    plainBytes += m.len;
    feed(view);
    parentPort.postMessage({ free: m.buf }, [m.buf]);
  } catch (e) {
    parentPort.postMessage({ error: { message: String((e && e.message) || e), code: e && e.code } });
  }
});
`;

const SEAL_SOURCE = `
'use strict';
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const { createHash, createCipheriv } = require('node:crypto');
const { port, recycle, returned, credits, block, maxOut } = workerData;
const key = workerData.payloadKey ? Buffer.from(workerData.payloadKey) : null;
const CHUNK = 64 * 1024;
const stored = createHash('sha256');
let storedBytes = 0;
let counter = 0n;
let pending = Buffer.alloc(0);
let out = null;
let fill = 0;
let sent = 0;
function ship() {
  if (out === null || fill === 0) return;
  for (;;) {
    const written = Atomics.load(credits, 0);
    if (sent - written < maxOut) break;
    Atomics.wait(credits, 0, written, 1000);
  }
  stored.update(out.subarray(0, fill));
  storedBytes += fill;
  const ab = out.buffer;
  parentPort.postMessage({ buf: ab, len: fill }, [ab]);
  sent++;
  out = null;
  fill = 0;
}
function room(n) {
  if (out !== null && block - fill >= n) return;
  ship();
  const back = receiveMessageOnPort(recycle);
  out = back ? Buffer.from(back.message) : Buffer.allocUnsafeSlow(block);
}
function put(bytes) {
  let off = 0;
  while (off < bytes.length) {
    room(1);
    const n = Math.min(block - fill, bytes.length - off);
    bytes.copy(out, fill, off, off + n);
    fill += n;
    off += n;
  }
}
function seal(data, last) {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(counter++, 3);
  nonce[11] = last ? 1 : 0;
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  room(data.length + 16);
  fill += c.update(data).copy(out, fill);
  c.final();
  fill += c.getAuthTag().copy(out, fill);
}
// The last chunk is sealed with the last-chunk flag, so at least one byte (up to a whole chunk)
// is always held back until more data or the end arrives.
function encrypt(data) {
  let off = 0;
  if (pending.length > 0) {
    const need = CHUNK - pending.length;
    if (data.length <= need) {
      pending = Buffer.concat([pending, data]);
      return;
    }
    seal(Buffer.concat([pending, data.subarray(0, need)]), false);
    off = need;
  }
  while (data.length - off > CHUNK) {
    seal(data.subarray(off, off + CHUNK), false);
    off += CHUNK;
  }
  pending = Buffer.from(data.subarray(off));
}
if (key) put(Buffer.from(workerData.header));
port.on('message', (m) => {
  try {
    if (m.end) {
      if (key) seal(pending, true);
      ship();
      parentPort.postMessage({ sha256: stored.digest('hex'), bytes: storedBytes });
      return;
    }
    const data = Buffer.from(m.buf, 0, m.len);
    if (key) encrypt(data);
    else put(data);
    port.postMessage(m.buf, [m.buf]);
    Atomics.add(returned, 0, 1);
    Atomics.notify(returned, 0);
  } catch (e) {
    parentPort.postMessage({ error: { message: String((e && e.message) || e), code: e && e.code } });
  }
});
`;

interface Waiter {
  resolve: (b: ArrayBuffer) => void;
  reject: (e: Error) => void;
}

/**
 * Where the main thread puts plaintext: fill the room of the current block (or copy bytes in);
 * a full block goes to the compress thread. Waits when every block is in flight.
 */
export class BlockWriter {
  private readonly free: ArrayBuffer[] = [];
  private readonly waiting: Waiter[] = [];
  private current: Buffer | null = null;
  private fill = 0;
  private failure: Error | null = null;
  /** Plaintext bytes written so far. */
  bytes = 0;

  constructor(
    private readonly send: (buf: ArrayBuffer, length: number) => void,
    private readonly onBytes?: (total: number) => void,
  ) {
    for (let i = 0; i < IN_BLOCKS; i++) this.free.push(new ArrayBuffer(BLOCK));
  }

  /** Free space in the current block, to be filled and then committed. */
  async room(): Promise<Buffer> {
    if (this.failure) throw this.failure;
    if (this.current === null) {
      const ab = this.free.pop() ?? (await new Promise<ArrayBuffer>((resolve, reject) => this.waiting.push({ resolve, reject })));
      this.current = Buffer.from(ab);
      this.fill = 0;
    }
    return this.current.subarray(this.fill);
  }

  /** The first n bytes of the last room() were filled. */
  commit(n: number): void {
    this.fill += n;
    this.bytes += n;
    this.onBytes?.(this.bytes);
    if (this.fill === BLOCK) this.flush();
  }

  /** Copy bytes in (headers, pipe chunks). */
  async write(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length; ) {
      const room = await this.room();
      const n = Math.min(room.length, bytes.length - off);
      room.set(bytes.subarray(off, off + n));
      this.commit(n);
      off += n;
    }
  }

  /** Send the current block even if it is not full. */
  flush(): void {
    const cur = this.current;
    if (cur === null || this.fill === 0) return;
    this.current = null;
    this.send(cur.buffer as ArrayBuffer, this.fill);
  }

  /** A block came back from the compress thread. */
  returned(ab: ArrayBuffer): void {
    const w = this.waiting.shift();
    if (w) w.resolve(ab);
    else this.free.push(ab);
  }

  fail(e: Error): void {
    this.failure = e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }
}

/** A plaintext source: a tool's output, a stream, or a function filling blocks (the tar writer). */
export type PlainSource = ToolSource | Readable | ((w: BlockWriter) => Promise<void>);

export interface ThreadedStoreOptions {
  zstdLevel: number;
  zstdWorkers: number;
  zstdJobBytes: number;
  /** zstd's overlapLog between jobs (0: zstd's default). */
  zstdOverlapLog: number;
  /** Store blocks that would not compress in raw zstd frames (tars of files). */
  rawFrames?: boolean;
  recipients: AgeRecipient[];
  sinks: ArtifactSink[];
  signal?: AbortSignal;
  onPlainBytes?: (total: number) => void;
  onStoredBytes?: (total: number) => void;
}

export interface ThreadedFacts {
  bytes: number;
  sha256: string;
  plainBytes: number;
  plainSha256: string;
}

interface WorkerError {
  error?: { message: string; code?: string };
}

function workerFailure(what: string, m: WorkerError['error'] | Error): LifeboatError {
  const e = Object.assign(new Error(m?.message ?? 'failed'), { code: (m as { code?: string } | undefined)?.code });
  const mapped = mapError(e);
  return mapped.code === 'INTERNAL' ? new LifeboatError('INTERNAL', `The ${what} thread failed: ${e.message}`) : mapped;
}

/** A FIFO at `path`, readable and writable by this user only (Node has no call for it). */
function makeFifo(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('mkfifo', ['-m', '600', path], (e) => {
      if (!e) return resolve();
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new LifeboatError(missing ? 'TOOL_MISSING' : 'STORAGE_ERROR', `Could not make a FIFO for the tool's output with mkfifo (in ${join(path, '..')}): ${e.message}`, { hint: missing ? 'mkfifo (coreutils) must be on PATH.' : 'Check LIFEBOAT_TMPDIR (or the system temp folder) is writable and on a local file system.' }));
    });
  });
}

/** Store one artifact through the three threads; resolves once every destination holds it durably. */
export async function storeThreaded(source: PlainSource, o: ThreadedStoreOptions): Promise<ThreadedFacts> {
  const zstd = require.resolve('zstd-napi/binding');
  const channel = new MessageChannel();
  const recycle = new MessageChannel();
  const returned = new Int32Array(new SharedArrayBuffer(4));
  const credits = new Int32Array(new SharedArrayBuffer(4));
  const age = o.recipients.length > 0 ? ageFileStart(o.recipients) : null;
  const compress = new Worker(COMPRESS_SOURCE, {
    eval: true,
    workerData: { zstd, port: channel.port1, returned, level: o.zstdLevel, workers: o.zstdWorkers, jobSize: o.zstdJobBytes, overlapLog: o.zstdOverlapLog, rawFrames: o.rawFrames === true, block: BLOCK, maxOut: OUT_BLOCKS },
    transferList: [channel.port1],
  });
  const seal = new Worker(SEAL_SOURCE, {
    eval: true,
    workerData: { port: channel.port2, recycle: recycle.port2, returned, credits, header: age?.header ?? null, payloadKey: age?.payloadKey ?? null, block: BLOCK, maxOut: OUT_BLOCKS },
    transferList: [channel.port2, recycle.port2],
  });
  const targets = o.sinks.map((s) => s.stream);
  // Failures reach us through write and end callbacks; these keep a destroyed target from
  // turning into an uncaught 'error' event.
  for (const t of targets) t.on('error', () => undefined);
  // A stored block goes back to the seal thread once every destination has written it, when
  // every destination is done with a chunk at its write callback (files; not S3's upload
  // buffers, which keep it longer).
  const reuse = o.sinks.every((s) => s.releasesChunks === true);

  let failure: Error | null = null;
  let rejectFailed!: (e: Error) => void;
  const failed = new Promise<never>((_, reject) => (rejectFailed = reject));
  failed.catch(() => undefined);
  const writer = new BlockWriter((buf, len) => compress.postMessage({ buf, len }, [buf]), o.onPlainBytes);
  const fail = (e: unknown): void => {
    if (failure) return;
    failure = e instanceof Error ? e : new Error(String(e));
    writer.fail(failure);
    rejectFailed(failure);
  };
  const onAbort = (): void => fail(new LifeboatError('CANCELLED', 'Cancelled.'));
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort);

  let resolvePlain!: (v: { sha256: string; bytes: number }) => void;
  const plainDone = new Promise<{ sha256: string; bytes: number }>((r) => (resolvePlain = r));
  let resolveStored!: (v: { sha256: string; bytes: number }) => void;
  const storedDone = new Promise<{ sha256: string; bytes: number }>((r) => (resolveStored = r));

  compress.on('message', (m: { free?: ArrayBuffer; opened?: boolean; progress?: number; plainSha256?: string; plainBytes?: number } & WorkerError) => {
    if (m.free) writer.returned(m.free);
    else if (m.opened) fifoOpened();
    else if (m.progress) o.onPlainBytes?.(m.progress);
    else if (m.plainSha256) resolvePlain({ sha256: m.plainSha256, bytes: m.plainBytes! });
    else if (m.error) fail(workerFailure('compression', m.error));
  });
  let storedSoFar = 0;
  seal.on('message', (m: { buf?: ArrayBuffer; len?: number; sha256?: string; bytes?: number } & WorkerError) => {
    if (m.buf) {
      storedSoFar += m.len!;
      o.onStoredBytes?.(storedSoFar);
      const buf = m.buf;
      const chunk = Buffer.from(buf, 0, m.len);
      let left = targets.length;
      const written = (e?: Error | null): void => {
        if (e) return fail(e);
        if (--left > 0) return;
        if (reuse) recycle.port1.postMessage(buf, [buf]);
        Atomics.add(credits, 0, 1);
        Atomics.notify(credits, 0);
      };
      for (const t of targets) {
        if (t.destroyed) written(t.errored ?? new Error('destination closed'));
        else t.write(chunk, written);
      }
    } else if (m.sha256) resolveStored({ sha256: m.sha256, bytes: m.bytes! });
    else if (m.error) fail(workerFailure('encryption', m.error));
  });
  for (const [w, what] of [[compress, 'compression'], [seal, 'encryption']] as const) {
    w.on('error', (e) => fail(workerFailure(what, e)));
    w.on('exit', (code) => {
      if (code !== 0) fail(new LifeboatError('INTERNAL', `The ${what} thread stopped (exit code ${code}).`));
    });
  }

  // A tool source on POSIX: its stdout is a FIFO the compress thread reads.
  let fifo: string | null = null;
  const held: { read: number | null; write: number | null } = { read: null, write: null };
  const releaseHeld = (): void => {
    for (const k of ['read', 'write'] as const) {
      const fd = held[k];
      held[k] = null;
      if (fd !== null) closeSync(fd);
    }
  };
  let fifoOpened!: () => void;
  const opened = new Promise<void>((resolve) => (fifoOpened = resolve));
  const running: { tool: RunningTool<ChildProcess> | null } = { tool: null };
  const feed = async (): Promise<void> => {
    if (source instanceof ToolSource) {
      if (process.platform === 'win32') {
        const tool = (running.tool = source.start('pipe'));
        for await (const chunk of tool.child.stdout!) await writer.write(chunk as Buffer);
      } else {
        const dir = mkdtempSync(join(process.env.LIFEBOAT_TMPDIR ?? tmpdir(), 'lifeboat-fifo-'));
        fifo = join(dir, 'plain');
        await makeFifo(fifo);
        // The tool starts now, while the compress thread may still be starting: a read end
        // held here lets the write end open at once, and what the tool writes meanwhile waits
        // in the pipe. Both ends are let go once the thread has the FIFO open (a write end
        // held until then also keeps the thread's open from waiting forever on a tool that
        // exited at once).
        held.read = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
        held.write = openSync(fifo, constants.O_WRONLY);
        if (failure) throw failure;
        running.tool = source.start(held.write);
        compress.postMessage({ fifo });
        await Promise.race([opened, failed]);
        releaseHeld();
        return;
      }
    } else if (typeof source === 'function') await source(writer);
    else for await (const chunk of source) await writer.write(chunk as Buffer);
    writer.flush();
    compress.postMessage({ end: true });
  };
  /** Release a thread blocked opening the FIFO (the other side never came) and remove it. */
  const removeFifo = (): void => {
    releaseHeld();
    if (!fifo) return;
    for (const flags of [constants.O_WRONLY | constants.O_NONBLOCK, constants.O_RDONLY | constants.O_NONBLOCK]) {
      try {
        closeSync(openSync(fifo, flags));
      } catch {
        // nobody waiting on that side
      }
    }
    rmSync(join(fifo, '..'), { recursive: true, force: true });
  };

  const endTargets = (): Promise<unknown> =>
    Promise.all(
      targets.map(
        (t) =>
          new Promise<void>((resolve, reject) => {
            t.once('error', reject);
            t.end(() => resolve());
          }),
      ),
    );

  try {
    const feeding = feed();
    feeding.catch(() => undefined);
    await Promise.race([feeding, failed]);
    const [plain, stored] = await Promise.race([Promise.all([plainDone, storedDone]), failed]);
    await Promise.race([endTargets(), failed]);
    await Promise.race([Promise.all(o.sinks.map((s) => s.done)), failed]);
    return { bytes: stored.bytes, sha256: stored.sha256, plainBytes: plain.bytes, plainSha256: plain.sha256 };
  } catch (e) {
    fail(e);
    if (source instanceof ToolSource) {
      if (running.tool) running.tool.child.kill('SIGTERM');
      else source.abandon(failure!);
    } else if (typeof source !== 'function') source.destroy();
    for (const t of targets) if (!t.destroyed) t.destroy(failure ?? undefined);
    if (o.signal?.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.', { cause: e });
    throw e instanceof LifeboatError ? e : mapError(e);
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    compress.removeAllListeners('exit');
    seal.removeAllListeners('exit');
    recycle.port1.close();
    removeFifo();
    // A thread still inside a blocking read cannot stop before the read returns: after a
    // while it is let go, so it never holds the process open.
    await Promise.race([Promise.all([compress.terminate(), seal.terminate()]), new Promise((r) => setTimeout(r, 2000).unref())]);
    compress.unref();
    seal.unref();
  }
}
