import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

/** hash-pool.ts's thread: SHA-256 of one local file per message. Built as its own entry (out/main/hash-worker.js). */

export interface HashRequest {
  id: number;
  path: string;
}

export interface HashReply {
  id: number;
  progress?: number;
  bytes?: number;
  sha256?: string;
  error?: { code?: string; message: string };
}

/** Hash a file with small synchronous reads, reporting progress every 32 MiB. */
export function hashFile({ id, path }: HashRequest, buf: Buffer, post: (m: HashReply) => void): void {
  // Small synchronous reads: the bytes are hashed while still in this core's cache, which on a
  // two-core machine beats handing reads to another thread (measured: bench/verify.bench.mjs).
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
        post({ id, progress: total });
        reported = total;
      }
    }
    post({ id, bytes: total, sha256: hash.digest('hex') });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    post({ id, error: { code: err?.code, message: String(err?.message) } });
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

// Started as a thread: serve the pool. (Imported elsewhere: nothing runs.)
const port = parentPort;
if (port && (workerData as { hashWorker?: boolean } | null)?.hashWorker === true) {
  const buf = Buffer.allocUnsafe(64 * 1024);
  port.on('message', (m: HashRequest) => hashFile(m, buf, (r) => port.postMessage(r)));
}
