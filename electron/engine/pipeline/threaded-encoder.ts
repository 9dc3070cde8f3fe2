import type { Readable } from 'node:stream';
import { execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolSource, type RunningTool } from '../process/child';
import { ageFileStart, type AgeRecipient } from '../crypto/age';
import { LifeboatError, mapError } from '../errors';
import type { ArtifactSink } from '../storage/medium';
import type { EncoderFacts, EncoderSettings, FromEncoder, ToEncoder } from './encoder-protocol';
import { BLOCK, discardEncoderThread, EncoderThreads, type EncoderThread } from './encoder-thread';

/**
 * The write path of large artifacts on two threads, one per core of a small machine, with the
 * work split so neither waits long on the other:
 *
 *   main:     reads the source into 2 MiB blocks (the tar writer reads files straight into them,
 *             hashing each file for the index) and takes the plaintext's SHA-256 as it goes
 *   encoder:  zstd (with zstd's own worker threads for dumps); for tars, a block that would not
 *             compress (photos, archives: byte entropy ≥ 7.9 bits) goes into a raw zstd frame
 *             instead; age (ChaCha20-Poly1305 over 64 KiB chunks) into a ring of page-aligned
 *             shared blocks; SHA-256 of the stored bytes. A tool's output (pg_dump) it reads
 *             itself from a FIFO, hashing the plaintext there.
 *   main:     writes the ring's blocks to every destination (a file on Linux straight from the
 *             ring to the disk, past the page cache: folder-medium.ts)
 *
 * Blocks move by transfer or through shared memory (no copies between threads). Memory is
 * bounded at every hop: the main thread owns IN_BLOCKS input blocks and waits for one to come
 * back; the encoder fills a ring slot only once the main thread has written what it held there
 * (a shared counter it waits on with Atomics.wait). So a slow destination stalls the encoder,
 * which stops returning input blocks, which stops the source from being read.
 *
 * The thread's code is encoder-worker.ts (its own entry in the build); encoder-thread.ts starts
 * it (early, when a command asks) and its owner's EncoderThreads keeps it for the next artifact.
 */

const IN_BLOCKS = 4;

interface Waiter {
  resolve: (b: ArrayBuffer) => void;
  reject: (e: Error) => void;
}

/**
 * Where the main thread puts plaintext: fill the room of the current block (or copy bytes in);
 * a full block goes to the encoder thread. The plaintext's SHA-256 is taken here, as it is
 * committed (the tar writer has just hashed the same bytes for its file index: they are still
 * in this core's cache). Waits when every block is in flight.
 */
export class BlockWriter {
  private readonly plain = createHash('sha256');
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
      // Between blocks the event loop gets a turn even when a block is free: the thread's
      // messages (stored blocks to write, which free its ring) must not wait for the source.
      await new Promise((resolve) => setImmediate(resolve));
      const ab =
        this.free.pop() ??
        (await new Promise<ArrayBuffer>((resolve, reject) => this.waiting.push({ resolve, reject })));
      this.current = Buffer.from(ab);
      this.fill = 0;
    }
    return this.current.subarray(this.fill);
  }

  /** The first n bytes of the last room() were filled. */
  commit(n: number): void {
    this.plain.update(this.current!.subarray(this.fill, this.fill + n));
    this.fill += n;
    this.bytes += n;
    this.onBytes?.(this.bytes);
    if (this.fill === BLOCK) this.flush();
  }

  /** Copy bytes in (headers, pipe chunks). */
  async write(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) {
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

  /** SHA-256 and size of everything written (once, at the end). */
  digest(): { sha256: string; bytes: number } {
    return { sha256: this.plain.digest('hex'), bytes: this.bytes };
  }

  /** A block came back from the encoder thread. */
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
  /** The owner's encoder threads (kept between artifacts); without them this artifact gets a thread of its own. */
  encoderThreads?: EncoderThreads;
}

export interface ThreadedFacts {
  bytes: number;
  sha256: string;
  plainBytes: number;
  plainSha256: string;
  /** Plaintext bytes judged incompressible by their sampled entropy (encoder-worker.ts). */
  incompressibleBytes: number;
}

function workerFailure(m: { message: string; code?: string } | Error): LifeboatError {
  const e = Object.assign(new Error(m?.message ?? 'failed'), { code: (m as { code?: string } | undefined)?.code });
  const mapped = mapError(e);
  return mapped.code === 'INTERNAL' ? new LifeboatError('INTERNAL', `The encoder thread failed: ${e.message}`) : mapped;
}

/** A FIFO at `path`, readable and writable by this user only (Node has no call for it). */
function makeFifo(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('mkfifo', ['-m', '600', path], (e) => {
      if (!e) return resolve();
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new LifeboatError(
          missing ? 'TOOL_MISSING' : 'STORAGE_ERROR',
          `Could not make a FIFO for the tool's output with mkfifo (in ${join(path, '..')}): ${e.message}`,
          {
            hint: missing
              ? 'mkfifo (coreutils) must be on PATH.'
              : 'Check LIFEBOAT_TMPDIR (or the system temp folder) is writable and on a local file system.',
          },
        ),
      );
    });
  });
}

/** Store one artifact through the encoder thread; resolves once every destination holds it durably. */
export async function storeThreaded(source: PlainSource, o: ThreadedStoreOptions): Promise<ThreadedFacts> {
  const settings = encoderSettings(o);
  const threads = o.encoderThreads ?? new EncoderThreads();
  const thread = threads.take();
  const send = (m: ToEncoder, transfer?: ArrayBuffer[]): void => thread.worker.postMessage(m, transfer);
  send({ begin: settings });
  const targets = o.sinks.map((s) => s.stream);
  // Failures reach us through write and end callbacks; these keep a destroyed target from
  // turning into an uncaught 'error' event.
  for (const t of targets) t.on('error', () => undefined);
  const writer = new BlockWriter((buf, len) => send({ buf, len }, [buf]), o.onPlainBytes);
  const latch = new FailureLatch(writer);
  // A destination that fails on its own (an S3 upload whose connection is lost) says so through
  // its `done` at once: waiting for that only at the end leaves the stream's pending write
  // unanswered (a destroyed stream does not call it back), the ring full and the backup stuck.
  for (const s of o.sinks) s.done.catch((e: unknown) => latch.fail(e));
  const onAbort = (): void => latch.fail(new LifeboatError('CANCELLED', 'Cancelled.'));
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort);
  const tool = new ToolOutput();
  const encoder = listenToEncoder(thread, o, writer, latch, tool);
  try {
    const feeding = feed(source, writer, send, tool, latch);
    feeding.catch(() => undefined);
    await Promise.race([feeding, latch.failed]);
    const facts = await Promise.race([encoder.encoded, latch.failed]);
    await Promise.race([endTargets(targets), latch.failed]);
    await Promise.race([Promise.all(o.sinks.map((s) => s.done)), latch.failed]);
    // The plaintext was hashed by whoever read it: the thread for a FIFO, this thread otherwise.
    const plain =
      facts.plainSha256 !== undefined ? { sha256: facts.plainSha256, bytes: facts.plainBytes! } : writer.digest();
    return {
      bytes: facts.bytes,
      sha256: facts.sha256,
      plainBytes: plain.bytes,
      plainSha256: plain.sha256,
      incompressibleBytes: facts.incompressibleBytes,
    };
  } catch (e) {
    latch.fail(e);
    stopSource(source, tool.running, latch.failure!);
    for (const t of targets) if (!t.destroyed) t.destroy(latch.failure ?? undefined);
    if (o.signal?.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.', { cause: e });
    throw e instanceof LifeboatError ? e : mapError(e);
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    encoder.detach();
    tool.removeFifo();
    // After a failure the thread may be anywhere (inside a blocking read, waiting for slots that
    // will not be freed): it is stopped. Otherwise it waits for the next artifact.
    if (!latch.failure && o.encoderThreads) threads.park(thread);
    else await discardEncoderThread(thread);
  }
}

/** What the encoder thread is told at the start of an artifact. */
function encoderSettings(o: ThreadedStoreOptions): EncoderSettings {
  const age = o.recipients.length > 0 ? ageFileStart(o.recipients) : null;
  return {
    level: o.zstdLevel,
    workers: o.zstdWorkers,
    jobSize: o.zstdJobBytes,
    overlapLog: o.zstdOverlapLog,
    rawFrames: o.rawFrames === true,
    header: age?.header ?? null,
    payloadKey: age?.payloadKey ?? null,
  };
}

/** The first failure of an artifact, from wherever it comes: it fails the block writer and settles `failed`. */
class FailureLatch {
  failure: Error | null = null;
  readonly failed: Promise<never>;
  private reject!: (e: Error) => void;

  constructor(private readonly writer: BlockWriter) {
    this.failed = new Promise<never>((_, reject) => (this.reject = reject));
    this.failed.catch(() => undefined);
  }

  fail(e: unknown): void {
    if (this.failure) return;
    this.failure = e instanceof Error ? e : new Error(String(e));
    this.writer.fail(this.failure);
    this.reject(this.failure);
  }
}

/**
 * The encoder thread's messages for this artifact: stored blocks to write to every destination,
 * input blocks coming back, the FIFO opened, progress, the end, a failure. `encoded` settles at the end.
 */
function listenToEncoder(
  thread: EncoderThread,
  o: ThreadedStoreOptions,
  writer: BlockWriter,
  latch: FailureLatch,
  tool: ToolOutput,
): { encoded: Promise<EncoderFacts>; detach(): void } {
  const { worker } = thread;
  let resolveDone!: (v: EncoderFacts) => void;
  const encoded = new Promise<EncoderFacts>((r) => (resolveDone = r));
  const writeSlot = slotWriter(thread, o, latch);
  const onMessage = (m: FromEncoder): void => {
    if ('slot' in m) writeSlot(m.slot, m.len);
    else if ('free' in m) writer.returned(m.free);
    else if ('opened' in m) tool.fifoOpened();
    else if ('progress' in m) o.onPlainBytes?.(m.progress);
    else if ('done' in m) resolveDone(m.done);
    else latch.fail(workerFailure(m.error));
  };
  const onError = (e: Error): void => latch.fail(workerFailure(e));
  const onExit = (code: number): void =>
    latch.fail(new LifeboatError('INTERNAL', `The encoder thread stopped (exit code ${code}).`));
  worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  return { encoded, detach: () => worker.off('message', onMessage).off('error', onError).off('exit', onExit) };
}

/**
 * A stored block is a slot of the ring, which the thread fills again once every destination has
 * written it (a credit on the shared counter): a destination done with a chunk at its write
 * callback (a file) gets the slot itself, one that keeps chunks longer (S3's upload buffers) a copy.
 */
function slotWriter(
  thread: EncoderThread,
  o: ThreadedStoreOptions,
  latch: FailureLatch,
): (slot: number, len: number) => void {
  const { ring, credits } = thread;
  const targets = o.sinks.map((s) => s.stream);
  const copies = o.sinks.map((s) => s.releasesChunks !== true);
  let storedSoFar = 0;
  return (slot, len) => {
    storedSoFar += len;
    o.onStoredBytes?.(storedSoFar);
    const chunk = Buffer.from(ring, slot * BLOCK, len);
    let left = targets.length;
    const written = (e?: Error | null): void => {
      if (e) return latch.fail(e);
      if (--left > 0) return;
      Atomics.add(credits, 0, 1);
      Atomics.notify(credits, 0);
    };
    targets.forEach((t, i) => {
      if (t.destroyed) written(t.errored ?? new Error('destination closed'));
      else t.write(copies[i] ? Buffer.from(chunk) : chunk, written);
    });
  };
}

/** The plaintext into the encoder: a tool's output (through a FIFO the thread reads, on POSIX), a function, or a stream. */
async function feed(
  source: PlainSource,
  writer: BlockWriter,
  send: (m: ToEncoder) => void,
  tool: ToolOutput,
  latch: FailureLatch,
): Promise<void> {
  if (source instanceof ToolSource) {
    if (process.platform !== 'win32') return tool.throughFifo(source, send, latch);
    const running = (tool.running = source.start('pipe'));
    for await (const chunk of running.child.stdout!) await writer.write(chunk as Buffer);
  } else if (typeof source === 'function') await source(writer);
  else for await (const chunk of source) await writer.write(chunk as Buffer);
  writer.flush();
  send({ end: true });
}

/** A tool source's process and, on POSIX, the FIFO its stdout is, which the encoder thread reads. */
class ToolOutput {
  running: RunningTool<ChildProcess> | null = null;
  private fifo: string | null = null;
  private readonly held: { read: number | null; write: number | null } = { read: null, write: null };
  private opened!: () => void;
  private readonly openedByThread = new Promise<void>((resolve) => (this.opened = resolve));

  /** The thread has the FIFO open. */
  fifoOpened(): void {
    this.opened();
  }

  async throughFifo(source: ToolSource, send: (m: ToEncoder) => void, latch: FailureLatch): Promise<void> {
    const dir = mkdtempSync(join(process.env.LIFEBOAT_TMPDIR ?? tmpdir(), 'lifeboat-fifo-'));
    const fifo = (this.fifo = join(dir, 'plain'));
    await makeFifo(fifo);
    // The tool starts now, while the encoder thread may still be starting: a read end
    // held here lets the write end open at once, and what the tool writes meanwhile waits
    // in the pipe. Both ends are let go once the thread has the FIFO open (a write end
    // held until then also keeps the thread's open from waiting forever on a tool that
    // exited at once).
    this.held.read = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    this.held.write = openSync(fifo, constants.O_WRONLY);
    if (latch.failure) throw latch.failure;
    this.running = source.start(this.held.write);
    send({ fifo });
    await Promise.race([this.openedByThread, latch.failed]);
    this.releaseHeld();
  }

  private releaseHeld(): void {
    for (const k of ['read', 'write'] as const) {
      const fd = this.held[k];
      this.held[k] = null;
      if (fd !== null) closeSync(fd);
    }
  }

  /** Release a thread blocked opening the FIFO (the other side never came) and remove it. */
  removeFifo(): void {
    this.releaseHeld();
    if (!this.fifo) return;
    for (const flags of [constants.O_WRONLY | constants.O_NONBLOCK, constants.O_RDONLY | constants.O_NONBLOCK]) {
      try {
        closeSync(openSync(this.fifo, flags));
      } catch {
        // nobody waiting on that side
      }
    }
    rmSync(join(this.fifo, '..'), { recursive: true, force: true });
  }
}

/** After a failure: the tool stopped (or told it will not be started), a stream source destroyed. */
function stopSource(source: PlainSource, running: RunningTool<ChildProcess> | null, failure: Error): void {
  if (source instanceof ToolSource) {
    if (running) running.child.kill('SIGTERM');
    else source.abandon(failure);
  } else if (typeof source !== 'function') source.destroy();
}

function endTargets(targets: ArtifactSink['stream'][]): Promise<unknown> {
  return Promise.all(
    targets.map(
      (t) =>
        new Promise<void>((resolve, reject) => {
          t.once('error', reject);
          t.end(() => resolve());
        }),
    ),
  );
}
