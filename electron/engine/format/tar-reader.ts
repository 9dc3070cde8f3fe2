import { posix } from 'node:path';
import { Writable } from 'node:stream';
import { LifeboatError } from '../errors';
import { BLOCK } from './tar-writer';

export type TarEntryKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  name: string;
  kind: TarEntryKind;
  size: number;
  mode: number;
  mtimeMs: number;
  linkname: string;
}

export interface TarHandlers {
  onEntry?(entry: TarEntry): void;
  /** Content bytes of the current entry (files). */
  onData?(entry: TarEntry, chunk: Buffer): void | Promise<void>;
  onEntryEnd?(entry: TarEntry): void | Promise<void>;
}

function octal(buf: Buffer, start: number, len: number): number {
  const field = buf.subarray(start, start + len);
  // GNU base-256 for large numbers.
  if (field[0]! & 0x80) {
    let v = 0;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i]!;
    return v;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function cstring(buf: Buffer, start: number, len: number): string {
  const field = buf.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number.parseInt(body.subarray(pos, space).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = body.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

/**
 * A streaming tar reader (ustar, pax, GNU long names) as a Writable: write the archive's bytes,
 * get entries and their data. Damaged headers (bad checksum) and truncated archives are errors.
 */
export class TarReader extends Writable {
  private buf: Buffer = Buffer.alloc(0);
  private current: TarEntry | null = null;
  private remaining = 0;
  private padding = 0;
  private pax: Record<string, string> = {};
  private longName: string | null = null;
  private longLink: string | null = null;
  private pendingMeta: { type: 'pax' | 'L' | 'K'; size: number } | null = null;
  private ended = false;
  entries = 0;

  constructor(private readonly handlers: TarHandlers) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.drain().then(() => callback(), (e: unknown) => callback(e as Error));
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.remaining > 0 || this.current || this.pendingMeta) {
      callback(new LifeboatError('FORMAT_INVALID', 'The tar archive is truncated (it ends inside an entry).'));
      return;
    }
    if (!this.ended) {
      callback(new LifeboatError('FORMAT_INVALID', 'The tar archive is truncated (no end-of-archive marker).'));
      return;
    }
    callback();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.current && this.remaining > 0) {
        if (this.buf.length === 0) return;
        const take = Math.min(this.remaining, this.buf.length);
        const data = this.buf.subarray(0, take);
        this.buf = this.buf.subarray(take);
        this.remaining -= take;
        await this.handlers.onData?.(this.current, data);
        continue;
      }
      if (this.pendingMeta) {
        const need = this.pendingMeta.size + ((BLOCK - (this.pendingMeta.size % BLOCK)) % BLOCK);
        if (this.buf.length < need) return;
        const body = this.buf.subarray(0, this.pendingMeta.size);
        if (this.pendingMeta.type === 'pax') this.pax = { ...this.pax, ...parsePax(body) };
        else if (this.pendingMeta.type === 'L') this.longName = body.toString('utf8').replace(/\0+$/, '');
        else this.longLink = body.toString('utf8').replace(/\0+$/, '');
        this.buf = this.buf.subarray(need);
        this.pendingMeta = null;
        continue;
      }
      if (this.current) {
        if (this.buf.length < this.padding) return;
        this.buf = this.buf.subarray(this.padding);
        const done = this.current;
        this.current = null;
        this.padding = 0;
        await this.handlers.onEntryEnd?.(done);
        continue;
      }
      if (this.ended) {
        // Anything after the end marker must be zero padding.
        if (this.buf.some((b) => b !== 0)) throw new LifeboatError('FORMAT_INVALID', 'Data after the end of the tar archive.');
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.buf.length < BLOCK) return;
      const header = this.buf.subarray(0, BLOCK);
      if (header.every((b) => b === 0)) {
        this.buf = this.buf.subarray(BLOCK);
        this.ended = true;
        continue;
      }
      this.buf = this.buf.subarray(BLOCK);
      this.parseHeader(header);
    }
  }

  private parseHeader(h: Buffer): void {
    const stored = octal(h, 148, 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== stored) throw new LifeboatError('FORMAT_INVALID', `A tar header is damaged (checksum mismatch) after ${this.entries} entries.`);
    const type = String.fromCharCode(h[156]!) || '0';
    const size = octal(h, 124, 12);
    if (type === 'x' || type === 'L' || type === 'K') {
      this.pendingMeta = { type: type === 'x' ? 'pax' : type, size };
      return;
    }
    if (type === 'g') {
      this.pendingMeta = { type: 'pax', size }; // global pax records: parsed and applied as local
      return;
    }
    const prefix = h.subarray(257, 263).toString('latin1').startsWith('ustar') ? cstring(h, 345, 155) : '';
    const base = cstring(h, 0, 100);
    const name = this.pax.path ?? this.longName ?? (prefix ? `${prefix}/${base}` : base);
    const linkname = this.pax.linkpath ?? this.longLink ?? cstring(h, 157, 100);
    const kind: TarEntryKind = type === '0' || type === '\0' || type === '7' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : type === '1' ? 'hardlink' : 'other';
    const realSize = this.pax.size ? Number(this.pax.size) : size;
    const mtimeMs = this.pax.mtime ? Math.round(Number(this.pax.mtime) * 1000) : octal(h, 136, 12) * 1000;
    const entry: TarEntry = { name: name.replace(/\/+$/, '') || name, kind, size: kind === 'file' ? realSize : 0, mode: octal(h, 100, 8), mtimeMs, linkname };
    this.pax = {};
    this.longName = null;
    this.longLink = null;
    this.entries++;
    this.handlers.onEntry?.(entry);
    this.current = entry;
    // Data follows for files (and, rarely, other types with a size).
    this.remaining = kind === 'file' || kind === 'other' ? realSize : 0;
    this.padding = (BLOCK - (this.remaining % BLOCK)) % BLOCK;
  }
}

/**
 * Why an entry would escape the folder it is extracted into, or null when it is safe:
 * absolute names, `..` segments, and links (symbolic or hard) pointing outside.
 */
export function unsafeEntryReason(e: TarEntry): string | null {
  const name = e.name;
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) return `absolute path ${name}`;
  if (name.split(/[\\/]/).includes('..')) return `".." in ${name}`;
  if (e.kind === 'symlink' || e.kind === 'hardlink') {
    if (e.linkname.startsWith('/')) return `${name} links to the absolute path ${e.linkname}`;
    const base = e.kind === 'symlink' ? posix.dirname(name) : '.';
    const resolved = posix.normalize(posix.join(base, e.linkname));
    if (resolved === '..' || resolved.startsWith('../')) return `${name} links outside the archive (${e.linkname})`;
  }
  return null;
}
