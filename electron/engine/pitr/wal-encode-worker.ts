import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Compressor } from 'zstd-napi';

/** wal-encode-pool.ts's thread: read, hash and compress one WAL file per message. Built as its own entry (out/main/wal-encode-worker.js). */

export interface WalEncodeRequest {
  id: number;
  path: string;
}

export interface WalEncodeReply {
  id: number;
  sha256?: string;
  plainBytes?: number;
  compressed?: Uint8Array;
  error?: { code?: string; message: string };
}

/** The reply for one file (the compressed bytes are transferred, not copied). */
export function encodeWal(
  { id, path }: WalEncodeRequest,
  compressor: Compressor,
): { reply: WalEncodeReply; transfer: ArrayBuffer[] } {
  try {
    const plain = readFileSync(path);
    const sha256 = createHash('sha256').update(plain).digest('hex');
    const compressed = compressor.compress(plain);
    return {
      reply: { id, sha256, plainBytes: plain.length, compressed },
      transfer: [compressed.buffer as ArrayBuffer],
    };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { reply: { id, error: { code: err?.code, message: String(err?.message) } }, transfer: [] };
  }
}

// Started as a thread: serve the pool. (Imported elsewhere: nothing runs.)
const port = parentPort;
if (port && (workerData as { walEncoder?: boolean } | null)?.walEncoder === true) {
  const compressor = new Compressor();
  compressor.setParameters({ compressionLevel: 3, checksumFlag: true });
  port.on('message', (m: WalEncodeRequest) => {
    const { reply, transfer } = encodeWal(m, compressor);
    port.postMessage(reply, transfer);
  });
}
