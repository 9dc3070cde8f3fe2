import { Transform, type TransformCallback } from 'node:stream';
import * as binding from 'zstd-napi/binding';
import { LifeboatError } from '../errors';

/** zstd's recommended output buffer for one streaming call (128 KiB + a block). */
const OUT_SIZE = binding.dStreamOutSize();

/**
 * zstd decompression that honours back-pressure and can stop at a byte limit. zstd-napi's own
 * DecompressStream decodes a whole input chunk in one go: 64 KiB of a hostile frame (zstd reaches
 * ~32000:1) became 2 GiB in memory before anyone downstream could say stop. Here each call fills
 * one output buffer; when the reader is full the rest waits for `_read`, and the first byte past
 * `limit` fails at once without decoding the rest.
 */
export class BoundedZstdDecompress extends Transform {
  private readonly dctx = new binding.DCtx();
  private inFrame = false;
  private src: Buffer | null = null;
  private done: TransformCallback | null = null;
  private paused = false;
  private pumping = false;
  /** Plaintext bytes produced so far. */
  produced = 0;

  constructor(
    private readonly limit: number = Number.POSITIVE_INFINITY,
    private readonly what = 'the artifact',
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.src = chunk;
    this.done = done;
    this.pump();
  }

  override _read(size: number): void {
    if (this.paused) {
      this.paused = false;
      this.pump();
    }
    super._read(size);
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.src && this.done) {
        const out = Buffer.allocUnsafe(OUT_SIZE);
        let ret: number, made: number, used: number;
        try {
          [ret, made, used] = this.dctx.decompressStream(out, this.src);
        } catch (e) {
          return this.finish(
            new LifeboatError(
              'CHECKSUM_MISMATCH',
              `${this.what} is not valid zstd data: ${e instanceof Error ? e.message : String(e)}`,
            ),
          );
        }
        this.src = this.src.subarray(used);
        let more = true;
        if (made > 0) {
          this.produced += made;
          if (this.produced > this.limit) {
            return this.finish(
              new LifeboatError(
                'CHECKSUM_MISMATCH',
                `${this.what} decodes to more than the ${this.limit} bytes its manifest records: corrupted (decoding stopped there).`,
              ),
            );
          }
          more = this.push(out.subarray(0, made));
        }
        if (this.src.length === 0 && (made < out.length || ret === 0)) {
          this.inFrame = ret !== 0;
          return this.finish(null);
        }
        if (!more) {
          this.paused = true;
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private finish(err: Error | null): void {
    const done = this.done;
    this.src = null;
    this.done = null;
    done?.(err);
  }

  override _flush(done: TransformCallback): void {
    if (this.inFrame)
      return done(
        new LifeboatError('CHECKSUM_MISMATCH', `${this.what} ends in the middle of a zstd frame (truncated).`),
      );
    done();
  }
}
