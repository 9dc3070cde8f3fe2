import { Worker } from 'node:worker_threads';
import { workerScript } from '../process/worker-script';
import { pageAlignedMemory } from '../storage/aligned-memory';
import type { EncoderWorkerData } from './encoder-protocol';

export type { EncoderSettings } from './encoder-protocol';

/**
 * The worker thread of the write path (threaded-encoder.ts; its code is encoder-worker.ts), kept
 * apart from it so a command can start it before it loads anything else: a thread takes
 * ~50–70 ms to boot, which otherwise sits between the first block read and the first block
 * encoded. The thread is reused for every artifact of a backup (a directory-format dump has one
 * per table) and let go when it has been idle for a while.
 *
 * This module imports only node:worker_threads and two small neutral modules, so starting the
 * thread early costs the caller little module loading.
 */

/**
 * Bytes per block between the threads. Every block costs each thread a wake-up (a message, a
 * write, a slot freed), which on a 2-vCPU VM is where the cores sat idle: 2 MiB blocks were
 * ~6% faster than 1 MiB on the files benchmark; 4 MiB a little more, for 20 MB more memory.
 */
export const BLOCK = 2 * 1024 * 1024;
/** Slots of stored bytes: up to RING_BLOCKS - 1 being written while the thread fills one. */
const RING_BLOCKS = 5;
/** How long an idle thread is kept for the next artifact. */
const IDLE_MS = 10_000;

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

function startThread(): EncoderThread {
  const ring = pageAlignedMemory(RING_BLOCKS * BLOCK);
  const credits = new Int32Array(new SharedArrayBuffer(4));
  const encoder: EncoderWorkerData = { ring, ringBlocks: RING_BLOCKS, credits, block: BLOCK };
  const script = workerScript(__dirname, 'encoder-worker');
  const worker = new Worker(script.filename, { execArgv: script.execArgv, workerData: { encoder } });
  const thread: EncoderThread = { worker, ring, credits, broken: false };
  // Whoever uses the thread listens for the details; these only mark it unusable (and keep a
  // failure of an idle thread from becoming an uncaught 'error' event).
  worker.on('error', () => (thread.broken = true));
  worker.on('exit', () => (thread.broken = true));
  return thread;
}

/**
 * The encoder threads of one owner (an Engine, a CLI command, a test): at most one kept idle for
 * the next artifact. Nothing is shared between two of them, so two engines in one process never
 * hand each other a thread.
 */
export class EncoderThreads {
  private spare: { thread: EncoderThread; timer: NodeJS.Timeout } | null = null;
  /** How many threads this owner has started (the tests check that one is reused). */
  started = 0;

  private start(): EncoderThread {
    this.started++;
    return startThread();
  }

  /** Start the thread now, for the artifact about to be written (a no-op when one is waiting). */
  prestart(): void {
    if (this.spare && !this.spare.thread.broken) return;
    this.park(this.start());
  }

  /** The thread for one artifact: the waiting one, or a new one. */
  take(): EncoderThread {
    const waiting = this.spare;
    this.spare = null;
    if (waiting) clearTimeout(waiting.timer);
    if (waiting && !waiting.thread.broken) {
      waiting.thread.worker.ref();
      return waiting.thread;
    }
    if (waiting) void discardEncoderThread(waiting.thread);
    return this.start();
  }

  /** A thread done with an artifact: kept for the next one for a while (it never holds the process open). */
  park(t: EncoderThread): void {
    if (t.broken || (this.spare && !this.spare.thread.broken)) {
      void discardEncoderThread(t);
      return;
    }
    if (this.spare) void discardEncoderThread(this.spare.thread);
    t.worker.unref();
    const timer = setTimeout(() => {
      if (this.spare?.thread === t) this.spare = null;
      void discardEncoderThread(t);
    }, IDLE_MS);
    timer.unref();
    this.spare = { thread: t, timer };
  }

  /** Stop the waiting thread (an owner closing). */
  async close(): Promise<void> {
    const waiting = this.spare;
    this.spare = null;
    if (!waiting) return;
    clearTimeout(waiting.timer);
    await discardEncoderThread(waiting.thread);
  }
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
