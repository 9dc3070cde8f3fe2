import { Worker } from 'node:worker_threads';
import { LifeboatError, mapError } from '../errors';
import { workerScript } from '../process/worker-script';
import type { EncodedWal } from './wal-archive';
import type { WalEncodeReply } from './wal-encode-worker';

/**
 * Hash and compress WAL files in worker threads, so the background archiver uses every core:
 * on its own thread one segment costs about 12 ms of SHA-256 and 8 ms of zstd (16 MiB, this
 * machine). The threads run wal-encode-worker.ts.
 */

type Reply = WalEncodeReply;

export class WalEncodePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: Array<(w: Worker) => void> = [];
  private readonly pending = new Map<number, { resolve: (r: EncodedWal) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(size: number) {
    const script = workerScript(__dirname, 'wal-encode-worker');
    for (let i = 0; i < Math.max(1, size); i++) {
      const w = new Worker(script.filename, { execArgv: script.execArgv, workerData: { walEncoder: true } });
      w.unref();
      w.on('message', (m: Reply) => this.reply(w, m));
      w.on('error', (e) => {
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(new LifeboatError('INTERNAL', `A WAL encoding thread failed: ${e.message}`));
        }
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  private reply(w: Worker, m: Reply): void {
    const p = this.pending.get(m.id);
    this.release(w);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.error) p.reject(mapError(Object.assign(new Error(m.error.message), { code: m.error.code })));
    else
      p.resolve({
        sha256: m.sha256!,
        plainBytes: m.plainBytes!,
        compressed: Buffer.from(m.compressed!.buffer, m.compressed!.byteOffset, m.compressed!.byteLength),
      });
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  private acquire(): Promise<Worker> {
    const w = this.idle.pop();
    return w ? Promise.resolve(w) : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Read, hash and compress one file on a free worker. */
  readonly encode = async (path: string): Promise<EncodedWal> => {
    const w = await this.acquire();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, path });
    });
  };

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
