import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { decompress as decompressSync } from 'zstd-napi';
import type { FromEncoder } from '../../electron/engine/pipeline/encoder-protocol';
import { Encoder } from '../../electron/engine/pipeline/encoder-worker';
import { workerScript, type WorkerScript } from '../../electron/engine/process/worker-script';
import type { HashReply } from '../../electron/engine/verify/hash-worker';
import type { WalEncodeReply } from '../../electron/engine/pitr/wal-encode-worker';

const root = resolve(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-worker-script-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The worker's first reply to `message`, then the worker is stopped. */
async function ask<T>(script: WorkerScript, workerData: unknown, message: unknown): Promise<T> {
  const w = new Worker(script.filename, { execArgv: script.execArgv, workerData });
  try {
    return await new Promise<T>((res, rej) => {
      w.once('message', (m: T) => res(m));
      w.once('error', rej);
      w.postMessage(message);
    });
  } finally {
    await w.terminate();
  }
}

// Both ways a worker is loaded: the TypeScript source through the loader (the tests, a checkout),
// and the built file (the app and the CLI: `npx electron-vite build` first, as `npm test` does).
const ways: Array<[string, (name: string, sourceDir: string) => WorkerScript]> = [
  ['source', (name, sourceDir) => workerScript(join(root, 'electron/engine', sourceDir), name)],
  ['built', (name) => workerScript(join(root, 'out/main/chunks'), name)],
];

describe('worker threads in TypeScript, found built or as source', () => {
  it('picks out/main/<name>.js from the bundle (code in out/main or its chunks) and the .ts beside a source', () => {
    expect(existsSync(join(root, 'out/main/encoder-worker.js')), 'run `npx electron-vite build` first').toBe(true);
    for (const at of ['out/main', 'out/main/chunks'])
      expect(workerScript(join(root, at), 'hash-worker')).toEqual({
        filename: join(root, 'out/main/hash-worker.js'),
        execArgv: [],
      });
    const source = workerScript(join(root, 'electron/engine/verify'), 'hash-worker');
    expect(source.filename).toBe(join(root, 'electron/engine/verify/hash-worker.ts'));
    expect(source.execArgv[0]).toBe('--import');
    expect(source.execArgv[1]).toMatch(/^file:.*jiti-register\.mjs$/);
    expect(() => workerScript(dir, 'no-such-worker')).toThrow(/neither built/);
  });

  for (const [way, find] of ways) {
    it(`${way}: the hash worker hashes a file, and reports a missing one`, async () => {
      const file = join(dir, `hash-${way}`);
      const bytes = Buffer.from(`bytes to hash ${way}\n`.repeat(5000));
      writeFileSync(file, bytes);
      const ok = await ask<HashReply>(find('hash-worker', 'verify'), { hashWorker: true }, { id: 7, path: file });
      expect(ok).toEqual({ id: 7, bytes: bytes.length, sha256: sha(bytes) });
      const missing = await ask<HashReply>(
        find('hash-worker', 'verify'),
        { hashWorker: true },
        { id: 8, path: join(dir, 'missing') },
      );
      expect(missing.error?.code).toBe('ENOENT');
    });

    it(`${way}: the WAL encoder hashes and compresses a segment`, async () => {
      const file = join(dir, `wal-${way}`);
      const bytes = Buffer.alloc(1024 * 1024, 7);
      writeFileSync(file, bytes);
      const r = await ask<WalEncodeReply>(
        find('wal-encode-worker', 'pitr'),
        { walEncoder: true },
        { id: 1, path: file },
      );
      expect(r).toMatchObject({ id: 1, sha256: sha(bytes), plainBytes: bytes.length });
      expect(decompressSync(Buffer.from(r.compressed!)).equals(bytes)).toBe(true);
    });

    it(`${way}: the encoder thread answers begin/end with the facts of an empty artifact`, async () => {
      const block = 64 * 1024;
      const encoder = {
        ring: new SharedArrayBuffer(2 * block),
        ringBlocks: 2,
        credits: new Int32Array(new SharedArrayBuffer(4)),
        block,
      };
      const script = find('encoder-worker', 'pipeline');
      const w = new Worker(script.filename, { execArgv: script.execArgv, workerData: { encoder } });
      try {
        const messages: FromEncoder[] = [];
        const done = new Promise<void>((res, rej) => {
          w.on('message', (m: FromEncoder) => (messages.push(m), 'done' in m && res()));
          w.once('error', rej);
        });
        w.postMessage({
          begin: { level: 3, workers: 0, jobSize: 0, overlapLog: 0, rawFrames: false, header: null, payloadKey: null },
        });
        w.postMessage({ end: true });
        await done;
        const slot = messages.find((m) => 'slot' in m);
        const facts = messages.find((m) => 'done' in m);
        expect(slot && 'slot' in slot ? slot.len : 0).toBeGreaterThan(0);
        const stored = Buffer.from(encoder.ring, 0, slot && 'slot' in slot ? slot.len : 0);
        expect(facts).toEqual({ done: { sha256: sha(stored), bytes: stored.length, incompressibleBytes: 0 } });
        expect(decompressSync(stored).length).toBe(0);
      } finally {
        await w.terminate();
      }
    });
  }

  it('the encoder runs in this thread too (its code is covered like any module): zstd, raw frames, failures as messages', () => {
    const block = 256 * 1024;
    const encoder = {
      ring: new SharedArrayBuffer(4 * block),
      ringBlocks: 4,
      credits: new Int32Array(new SharedArrayBuffer(4)),
      block,
    };
    const posted: FromEncoder[] = [];
    const e = new Encoder(encoder, (m) => posted.push(m));
    const stored: Buffer[] = [];
    const take = (): void => {
      for (const m of posted.splice(0)) {
        if ('slot' in m) {
          stored.push(Buffer.from(Buffer.from(encoder.ring, m.slot * block, m.len)));
          Atomics.add(encoder.credits, 0, 1);
        }
      }
    };
    const text = Buffer.from('a line of a dump\n'.repeat(20_000));
    const noise = Buffer.from(Array.from({ length: 128 * 1024 }, (_, i) => (i * 2654435761) >>> 24));
    e.begin({ level: 3, workers: 0, jobSize: 0, overlapLog: 0, rawFrames: true, header: null, payloadKey: null });
    for (const part of [text, noise]) {
      const ab = new ArrayBuffer(part.length);
      new Uint8Array(ab).set(part);
      e.handle({ buf: ab, len: part.length });
      take();
    }
    e.handle({ end: true });
    const done = posted.find((m) => 'done' in m);
    take();
    const all = Buffer.concat(stored);
    // The text compresses; the noise does not (trends: the share that does not compress).
    expect(done).toEqual({ done: { sha256: sha(all), bytes: all.length, incompressibleBytes: noise.length } });
    expect(decompressSync(all).equals(Buffer.concat([text, noise]))).toBe(true);
    e.handle({ fifo: join(dir, 'no-such-fifo') });
    expect(posted.at(-1)).toMatchObject({ error: { code: 'ENOENT' } });
  });
});
