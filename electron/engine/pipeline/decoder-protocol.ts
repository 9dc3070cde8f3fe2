import type { MessagePort } from 'node:worker_threads';

/** The messages between threaded-decoder.ts (main thread) and decoder-worker.ts (its two threads). */

/** What an artifact must decode to, as the threads check it (restore/gate.ts's ArtifactSpec, flattened). */
export interface DecodeSpec {
  what: string;
  /** A byte past it fails at once (null: no limit). */
  storedLimit: number | null;
  plainLimit: number | null;
  /** Checked at the end when given (the gate's `check: true`). */
  expectStored: { bytes: number | null; sha256: string | null } | null;
  expectPlain: { bytes: number | null; sha256: string | null } | null;
  age: boolean;
  zstd: boolean;
}

/** An age identity as it crosses to the thread (structured clone turns Buffers into Uint8Arrays). */
export interface IdentityData {
  secretKey: Uint8Array;
  recipient: { text: string; publicKey: Uint8Array; keyId: string };
}

/** What each thread is started with (workerData.decoder). */
export interface DecoderWorkerData {
  role: 'open' | 'decode';
  spec: DecodeSpec;
  /** Only for the 'open' thread (stored bytes → age). */
  identities: IdentityData[];
  /** Between the threads: 'open' fills its slots, 'decode' reads them. */
  ring: SharedArrayBuffer;
  ringBlocks: number;
  /** [0]: ring blocks the decode thread is done with (frees their slots). */
  ringCredits: Int32Array;
  /** [0]: plaintext blocks the main thread has handed on (the decode thread waits on it). */
  outCredits: Int32Array;
  outBlocks: number;
  block: number;
  /** The channel between the two threads. */
  port: MessagePort;
}

export interface ErrorData {
  message: string;
  code?: string;
  hint?: string;
}

/** Facts of the bytes a thread has seen so far (or in all, at the end). */
export interface SeenFacts {
  bytes: number;
  sha256: string;
}

/** Main thread → open thread: a block of stored bytes (transferred), or the end. */
export type ToOpener = { buf: ArrayBuffer; len: number } | { end: true };

/** open thread → main thread. */
export type FromOpener =
  { free: ArrayBuffer; seen: SeenFacts } | { stored: SeenFacts } | { error: ErrorData; seen: SeenFacts };

/** open thread → decode thread (through `port`). */
export type OpenerToDecoder = { slot: number; len: number } | { end: true };

/** decode thread → main thread. */
export type FromDecoder =
  { out: ArrayBuffer; len: number } | { plain: SeenFacts } | { error: ErrorData; seen: SeenFacts };
