import { Worker } from 'node:worker_threads';
import { LifeboatError, mapError } from '../errors';

/**
 * SHA-256 of local files in worker threads, so several artifacts hash at once on several
 * cores (the main thread's crypto is single-threaded). The worker is plain JavaScript given as
 * source, so it runs the same under Node, Electron and the tests without a build step.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
// Small synchronous reads: the bytes are hashed while still in this core's cache, which on a
// two-core machine beats handing reads to another thread (measured: bench/verify.bench.mjs).
const buf = Buffer.allocUnsafe(64 * 1024);
parentPort.on('message', ({ id, path }) => {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const hash = createHash('sha256');
    let total = 0;
    let reported = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      total += n;
      if (total - reported >= 32 * 1024 * 1024) {
        parentPort.postMessage({ id, progress: total });
        reported = total;
      }
    }
    parentPort.postMessage({ id, bytes: total, sha256: hash.digest('hex') });
  } catch (e) {
    parentPort.postMessage({ id, error: { code: e && e.code, message: String(e && e.message) } });
  } finally {
    if (fd >= 0) closeSync(fd);
  }
});
`;

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
    const created = new Worker(WORKER_SOURCE, { eval: true });
    created.unref();
    created.on('message', (m: { id: number; progress?: number; bytes?: number; sha256?: string; error?: { code?: string; message: string } }) => {
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
  hash(path: string, onProgress: (bytes: number) => void, signal: AbortSignal): Promise<{ bytes: number; sha256: string }> {
    if (this.all.length - this.idle.length >= this.size) throw new LifeboatError('INTERNAL', 'HashPool used beyond its size.');
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
