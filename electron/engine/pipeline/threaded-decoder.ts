import { Duplex } from 'node:stream';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { AgeIdentity } from '../crypto/age';
import { LifeboatError, mapError } from '../errors';
import type { ErrorCode } from '../../../shared/errors';
import { workerScript } from '../process/worker-script';
import type {
  DecodeSpec,
  DecoderWorkerData,
  ErrorData,
  FromDecoder,
  FromOpener,
  SeenFacts,
  ToOpener,
} from './decoder-protocol';

/** How a decoder thread's out-of-memory begins: a failure of the run, never a fact about the set. */
export const DECODER_OUT_OF_MEMORY = 'A decoder thread ran out of its memory';

export type { DecodeSpec } from './decoder-protocol';

/**
 * The read path of large artifacts on two threads, the mirror of threaded-encoder.ts:
 *
 *   main:    copies the medium's chunks into BLOCK-sized blocks and hands them on (transferred;
 *            they come back once read)
 *   open:    stored bytes' size limit, SHA-256, count; age decryption, into a ring of shared
 *            blocks
 *   decode:  zstd, the plaintext's size limit, SHA-256, count, into fresh blocks transferred to
 *            the main thread, which pushes them to the reader
 *
 * Every hop is bounded: IN_BLOCKS stored blocks (the medium is not read while all are out),
 * RING_BLOCKS between the threads (a shared counter the open thread waits on), OUT_BLOCKS
 * plaintext blocks the reader has not taken (a shared counter the decode thread waits on). So a
 * slow reader stops the decoding, which stops the reading of the medium.
 *
 * It is one Duplex stage (stored bytes in, plaintext out) in place of the gate's taps and
 * decoders (restore/gate.ts), so every reader of the gate gets it unchanged. Any failure — a
 * check in a thread, a thread dying, the medium or the reader failing, a cancel (the pipeline's
 * signal) — destroys the stage, which terminates both threads before it reports: nothing is left
 * running. The checks, their order and their words are the stream path's (decoder-worker.ts).
 */

/** 1 MiB blocks (as the medium's reads): ~9 MiB in flight in all, whatever the artifact's size. */
export const DECODE_BLOCK = 1024 * 1024;
const IN_BLOCKS = 3;
const RING_BLOCKS = 3;
const OUT_BLOCKS = 3;

/**
 * Each thread's V8 heap, bounded (a Worker's default young generation may grow to 48 MiB and its
 * old one to the machine's): measured at 9–10 MiB in all, 6 MiB used, for each thread while a
 * 394 MiB dump decoded (the blocks are ArrayBuffers, outside these limits). Four times that is
 * room enough; a thread that still runs out is ended with a clear error, never a partial verdict.
 */
export const DECODER_HEAP_LIMITS = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 } as const;

/**
 * Plaintext blocks between two collections of this thread's young generation. The blocks this
 * thread hands on (and the medium's chunks it copies) die young but sit outside the V8 heap, whose
 * small size lets V8 wait for tens of MiB of them before it collects: ~20–25 MiB of the process's
 * peak RSS (BENCHMARKS.md "Where the time goes"). A scavenge of a heap this small takes well under
 * a millisecond. Only where the process exposes the collector (the CLI does, bin/lifeboat.cjs).
 */
const SCAVENGE_EVERY = 8;
const collector = (): ((o: { type: 'minor' }) => void) | undefined =>
  (globalThis as { gc?: (o: { type: 'minor' }) => void }).gc;

/** What the stage has seen of one side (stored or plaintext): what the gate's CheckTap answers. */
export class SeenBytes {
  bytes = 0;
  private digest: string | null = null;

  /** Hex SHA-256 of the bytes seen (all of them once the stage ended; up to a failure otherwise). */
  sha256(): string {
    return this.digest ?? '';
  }

  /** @internal */
  set(f: SeenFacts): void {
    this.bytes = f.bytes;
    this.digest = f.sha256;
  }
}

function failureOf(e: ErrorData): LifeboatError {
  return new LifeboatError((e.code ?? 'INTERNAL') as ErrorCode, e.message, e.hint ? { hint: e.hint } : {});
}

/** Live threads of this process's decoders (the tests check none is left). */
let live = 0;
export function liveDecoderThreads(): number {
  return live;
}

export interface ThreadedDecodeOptions {
  onStoredBytes?: (n: number) => void;
  onPlainBytes?: (n: number) => void;
  /** The threads' heap limits (default DECODER_HEAP_LIMITS). */
  heapLimits?: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number };
}

/** A thread's failure as the operator reads it: running out of its heap is said as such. */
function threadFailure(e: unknown, limits: { maxOldGenerationSizeMb: number }): LifeboatError {
  if ((e as { code?: unknown } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY')
    return new LifeboatError(
      'INTERNAL',
      `${DECODER_OUT_OF_MEMORY} (a heap of ${limits.maxOldGenerationSizeMb} MiB): the artifact was not decoded to its end and nothing of it may be used.`,
      { hint: "Run it again; if it fails the same way, report it with the run's log.", cause: e },
    );
  return mapError(e);
}

/** Stored bytes in, verified plaintext out, decoded on two threads. */
export class ThreadedDecodeStream extends Duplex {
  readonly stored = new SeenBytes();
  readonly plain = new SeenBytes();
  private threads: { opener: Worker; decoder: Worker } | null = null;
  private readonly outCredits = new Int32Array(new SharedArrayBuffer(4));
  private readonly free: ArrayBuffer[] = [];
  private waitingForBlock: (() => void) | null = null;
  private current: Buffer | null = null;
  private fill = 0;
  private handed = 0;
  /** Plaintext blocks pushed while the reader was full: credited at its next read. */
  private owed = 0;
  private sinceScavenge = 0;
  private storedDone = false;
  private plainDone = false;
  private stopping: Promise<void> | null = null;
  private finalDone: ((e?: Error | null) => void) | null = null;

  constructor(
    private readonly spec: DecodeSpec,
    private readonly identities: AgeIdentity[],
    private readonly o: ThreadedDecodeOptions = {},
  ) {
    super({ readableHighWaterMark: DECODE_BLOCK, writableHighWaterMark: DECODE_BLOCK });
    for (let i = 0; i < IN_BLOCKS; i++) this.free.push(new ArrayBuffer(DECODE_BLOCK));
  }

  // The threads start with the first byte (or the end) written: a stage made but never used (its
  // caller failed first) leaves nothing running.
  private started(): { opener: Worker; decoder: Worker } {
    if (this.threads) return this.threads;
    if (this.stopping) throw new LifeboatError('CANCELLED', 'The decoder was stopped.');
    const ring = new SharedArrayBuffer(RING_BLOCKS * DECODE_BLOCK);
    const ringCredits = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const common = { spec: this.spec, ring, ringBlocks: RING_BLOCKS, ringCredits, outCredits: this.outCredits };
    const script = workerScript(__dirname, 'decoder-worker');
    const start = (role: 'open' | 'decode', port: MessagePort): Worker => {
      const decoder: DecoderWorkerData = {
        ...common,
        role,
        identities: role === 'open' ? this.identities : [],
        outBlocks: OUT_BLOCKS,
        block: DECODE_BLOCK,
        port,
      };
      const limits = this.o.heapLimits ?? DECODER_HEAP_LIMITS;
      const w = new Worker(script.filename, {
        execArgv: script.execArgv,
        workerData: { decoder },
        transferList: [port],
        resourceLimits: { ...limits },
      });
      live++;
      w.once('exit', () => live--);
      w.on('error', (e) => this.destroy(threadFailure(e, limits)));
      w.once('exit', (code) => {
        if (!this.stopping)
          this.destroy(new LifeboatError('INTERNAL', `A decoder thread stopped (exit code ${code}).`));
      });
      return w;
    };
    const opener = start('open', port1);
    const decoder = start('decode', port2);
    opener.on('message', (m: FromOpener) => this.fromOpener(m));
    decoder.on('message', (m: FromDecoder) => this.fromDecoder(m));
    this.threads = { opener, decoder };
    return this.threads;
  }

  private fromOpener(m: FromOpener): void {
    if (this.destroyed) return;
    if ('free' in m) {
      this.stored.set(m.seen);
      const w = this.waitingForBlock;
      this.free.push(m.free);
      this.waitingForBlock = null;
      w?.();
    } else if ('stored' in m) {
      this.stored.set(m.stored);
      this.storedDone = true;
      this.maybeEnd();
    } else {
      this.stored.set(m.seen);
      this.destroy(failureOf(m.error));
    }
  }

  private fromDecoder(m: FromDecoder): void {
    if (this.destroyed) return;
    if ('out' in m) {
      this.plain.bytes += m.len;
      if (++this.sinceScavenge >= SCAVENGE_EVERY) {
        this.sinceScavenge = 0;
        collector()?.({ type: 'minor' });
      }
      this.o.onPlainBytes?.(this.plain.bytes);
      if (this.push(Buffer.from(m.out, 0, m.len))) this.credit(1);
      else this.owed++;
    } else if ('plain' in m) {
      this.plain.set(m.plain);
      this.plainDone = true;
      this.maybeEnd();
    } else {
      this.plain.set(m.seen);
      this.destroy(failureOf(m.error));
    }
  }

  private credit(n: number): void {
    Atomics.add(this.outCredits, 0, n);
    Atomics.notify(this.outCredits, 0);
  }

  // Both threads reported the end and every check passed: they are stopped before the reader sees the end.
  private maybeEnd(): void {
    if (!this.storedDone || !this.plainDone) return;
    this.stop().then(
      () => {
        if (this.destroyed) return;
        this.push(null);
        const done = this.finalDone;
        this.finalDone = null;
        done?.();
      },
      (e: unknown) => this.destroy(mapError(e)),
    );
  }

  override _read(): void {
    if (this.owed === 0) return;
    const n = this.owed;
    this.owed = 0;
    this.credit(n);
  }

  private async block(): Promise<Buffer> {
    if (this.current) return this.current;
    while (this.free.length === 0) {
      if (this.destroyed) throw new LifeboatError('CANCELLED', 'The decoder was stopped.');
      await new Promise<void>((resolve) => (this.waitingForBlock = resolve));
    }
    if (this.destroyed) throw new LifeboatError('CANCELLED', 'The decoder was stopped.');
    this.current = Buffer.from(this.free.pop()!);
    this.fill = 0;
    return this.current;
  }

  private send(m: ToOpener, transfer?: ArrayBuffer[]): void {
    this.started().opener.postMessage(m, transfer);
  }

  private flushBlock(): void {
    const cur = this.current;
    if (!cur || this.fill === 0) return;
    this.current = null;
    this.send({ buf: cur.buffer as ArrayBuffer, len: this.fill }, [cur.buffer as ArrayBuffer]);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.hand(chunk).then(() => done(), done);
  }

  private async hand(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length;) {
      const cur = await this.block();
      const n = Math.min(DECODE_BLOCK - this.fill, chunk.length - off);
      cur.set(chunk.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === DECODE_BLOCK) this.flushBlock();
    }
    this.handed += chunk.length;
    this.o.onStoredBytes?.(this.handed);
  }

  // The writable side finishes only once every check passed (as a Transform's does after its
  // flush): a pipeline ending in this stage settles on the verdict, not on the last byte handed on.
  override _final(done: (e?: Error | null) => void): void {
    this.finalDone = done;
    this.flushBlock();
    this.send({ end: true });
  }

  /** Resolves once both threads are gone (after the end, a failure or a cancel; never before the stage ended). */
  async stopped(): Promise<void> {
    if (this.stopping) return this.stopping;
    await new Promise<void>((resolve) => this.once('close', resolve));
    return this.stop();
  }

  /** Stop both threads (once); resolves when they are gone. */
  private stop(): Promise<void> {
    const t = this.threads;
    this.stopping ??= t
      ? Promise.all([t.opener.terminate(), t.decoder.terminate()]).then(() => undefined)
      : Promise.resolve();
    return this.stopping;
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    const w = this.waitingForBlock;
    this.waitingForBlock = null;
    w?.();
    this.stop().then(
      () => done(err),
      () => done(err),
    );
  }
}
