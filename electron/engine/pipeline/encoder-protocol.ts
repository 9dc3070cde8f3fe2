/** The messages between threaded-encoder.ts (main thread) and encoder-worker.ts (the encoder thread). */

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

/** What the thread is started with (workerData.encoder). */
export interface EncoderWorkerData {
  ring: SharedArrayBuffer;
  ringBlocks: number;
  /** [0]: blocks the main thread has written everywhere (frees their ring slots). */
  credits: Int32Array;
  block: number;
}

export type ToEncoder =
  { begin: EncoderSettings } | { fifo: string } | { end: true } | { buf: ArrayBuffer; len: number };

export interface EncoderFacts {
  sha256: string;
  bytes: number;
  /** Plaintext bytes that would not compress, estimated from sampled byte entropy (encoder-worker.ts). */
  incompressibleBytes: number;
  /** Only when the thread read the plaintext itself (a FIFO). */
  plainSha256?: string;
  plainBytes?: number;
}

export type FromEncoder =
  | { slot: number; len: number }
  | { free: ArrayBuffer }
  | { opened: true }
  | { progress: number }
  | { done: EncoderFacts }
  | { error: { message: string; code?: string } };
