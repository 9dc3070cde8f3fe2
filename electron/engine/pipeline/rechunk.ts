import { Transform, type TransformCallback } from 'node:stream';

/**
 * Coalesce small chunks (64 KiB pipe reads) into larger ones, so every later stage (hashing,
 * zstd, age, writes) runs a fraction of the per-chunk overhead.
 */
export class Rechunk extends Transform {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly target = 1024 * 1024) {
    super({ readableHighWaterMark: 2 * target, writableHighWaterMark: target });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size >= this.target) {
      const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
      this.parts = [];
      this.size = 0;
      done(null, out);
      return;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.size > 0) this.push(Buffer.concat(this.parts, this.size));
    this.parts = [];
    done();
  }
}
