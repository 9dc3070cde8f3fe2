import { Worker } from 'node:worker_threads';
import { LifeboatError, mapError } from '../errors';
import { workerScript } from '../process/worker-script';
import type { HashReply } from './hash-worker';

/**
 * SHA-256 of local files in worker threads, so several artifacts hash at once on several
 * cores (the main thread's crypto is single-threaded). The threads run hash-worker.ts.
 */

interface Pending {
  resolve: (r: { bytes: number; sha256: string }) => void;
  reject: (e: Error) => void;
  onProgress: (bytes: number) => void;
}

export class HashPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly size: number) {}

  private worker(): Worker {
    const w = this.idle.pop();
    if (w) return w;
    const script = workerScript(__dirname, 'hash-worker');
    const created = new Worker(script.filename, { execArgv: script.execArgv, workerData: { hashWorker: true } });
    created.unref();
    created.on('message', (m: HashReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.progress !== undefined) return p.onProgress(m.progress);
      this.pending.delete(m.id);
      this.idle.push(created);
      if (m.error) p.reject(mapError(Object.assign(new Error(m.error.message), { code: m.error.code })));
      else p.resolve({ bytes: m.bytes!, sha256: m.sha256! });
    });
    this.all.push(created);
    return created;
  }

  /** Hash a file; rejects with CANCELLED when `signal` aborts (the worker is stopped). */
  hash(
    path: string,
    onProgress: (bytes: number) => void,
    signal: AbortSignal,
  ): Promise<{ bytes: number; sha256: string }> {
    if (this.all.length - this.idle.length >= this.size)
      throw new LifeboatError('INTERNAL', 'HashPool used beyond its size.');
    const id = this.nextId++;
    const w = this.worker();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.delete(id);
        void w.terminate();
        const i = this.all.indexOf(w);
        if (i >= 0) this.all.splice(i, 1);
        reject(new LifeboatError('CANCELLED', 'Cancelled.'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
        onProgress,
      });
      w.postMessage({ id, path });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
    this.all.length = 0;
    this.idle.length = 0;
  }
}
