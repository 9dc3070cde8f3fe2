import { posix } from 'node:path';
import { Writable } from 'node:stream';
import { LifeboatError } from '../errors';
import { BLOCK } from './tar-writer';

export type TarEntryKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block' | 'other';

export interface TarEntry {
  /** The name for display (UTF-8, invalid bytes replaced); `nameBytes` is authoritative. */
  name: string;
  kind: TarEntryKind;
  size: number;
  mode: number;
  mtimeMs: number;
  linkname: string;
  /** The raw bytes of the name and link target (pax hdrcharset=BINARY names are not UTF-8). */
  nameBytes?: Buffer;
  linkBytes?: Buffer;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
}

/** Pax, GNU long-name and long-link records larger than this are refused: no name needs a MiB. */
export const MAX_META_BYTES = 1024 * 1024;

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

function cbytes(buf: Buffer, start: number, len: number): Buffer {
  const field = buf.subarray(start, start + len);
  const nul = field.indexOf(0);
  return Buffer.from(field.subarray(0, nul < 0 ? len : nul));
}

/** A pax numeric record, or the header field when absent; a malformed number is a damaged archive. */
function paxNumber(pax: Record<string, Buffer>, key: string, fallback: number): number {
  const v = pax[key];
  if (v === undefined) return fallback;
  const n = Number(v.toString('latin1'));
  // Times before 1970 are negative; sizes and ids never are.
  if (!Number.isFinite(n) || (n < 0 && key !== 'mtime'))
    throw new LifeboatError('FORMAT_INVALID', `A tar pax record ${key} is not a number.`);
  return n;
}

function parsePax(body: Buffer): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number.parseInt(body.subarray(pos, space).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    if (pos + len > body.length) throw new LifeboatError('FORMAT_INVALID', 'A pax header record runs past its header.');
    // Values stay bytes: path and linkpath may be raw (hdrcharset=BINARY), not UTF-8.
    const record = body.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq > 0) out[record.subarray(0, eq).toString('latin1')] = Buffer.from(record.subarray(eq + 1));
    pos += len;
  }
  return out;
}

const KINDS: Record<string, TarEntryKind> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '5': 'dir',
  '2': 'symlink',
  '1': 'hardlink',
  '6': 'fifo',
  '3': 'char',
  '4': 'block',
};

/**
 * A streaming tar reader (ustar, pax, GNU long names) as a Writable: write the archive's bytes,
 * get entries and their data. Damaged headers (bad checksum) and truncated archives are errors.
 */
export class TarReader extends Writable {
  private buf: Buffer = Buffer.alloc(0);
  private current: TarEntry | null = null;
  private remaining = 0;
  private padding = 0;
  private pax: Record<string, Buffer> = {};
  private longName: Buffer | null = null;
  private longLink: Buffer | null = null;
  private pendingMeta: { type: 'pax' | 'L' | 'K'; size: number } | null = null;
  private ended = false;
  private draining: Promise<void> = Promise.resolve();
  entries = 0;

  constructor(private readonly handlers: TarHandlers) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.draining = this.drain();
    this.draining.then(
      () => callback(),
      (e: unknown) => callback(e as Error),
    );
  }

  /**
   * Once destroyed (a failure elsewhere in the pipeline, a cancel), no handler is called again;
   * the destroy completes once the handler in flight has returned.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.settled().then(() => callback(error));
  }

  /** Resolves once no handler is running (whatever the outcome of the chunk being parsed). */
  settled(): Promise<void> {
    return this.draining.then(
      () => undefined,
      () => undefined,
    );
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
      if (this.destroyed) return;
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
        else if (this.pendingMeta.type === 'L') this.longName = cbytes(body, 0, body.length);
        else this.longLink = cbytes(body, 0, body.length);
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
        if (this.buf.some((b) => b !== 0))
          throw new LifeboatError('FORMAT_INVALID', 'Data after the end of the tar archive.');
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
    if (sum !== stored)
      throw new LifeboatError(
        'FORMAT_INVALID',
        `A tar header is damaged (checksum mismatch) after ${this.entries} entries.`,
      );
    const type = String.fromCharCode(h[156]!) || '0';
    const size = octal(h, 124, 12);
    if ((type === 'x' || type === 'L' || type === 'K' || type === 'g') && size > MAX_META_BYTES) {
      // Buffered whole before the entry it describes: a huge one would be a memory bomb.
      throw new LifeboatError(
        'FORMAT_INVALID',
        `A tar metadata header of ${size} bytes (after ${this.entries} entries) is larger than any name needs.`,
      );
    }
    if (type === 'x' || type === 'L' || type === 'K') {
      this.pendingMeta = { type: type === 'x' ? 'pax' : type, size };
      return;
    }
    if (type === 'g') {
      this.pendingMeta = { type: 'pax', size }; // global pax records: parsed and applied as local
      return;
    }
    const ustar = h.subarray(257, 263).toString('latin1').startsWith('ustar');
    const prefix = ustar ? cbytes(h, 345, 155) : Buffer.alloc(0);
    const base = cbytes(h, 0, 100);
    let nameBytes =
      this.pax.path ?? this.longName ?? (prefix.length ? Buffer.concat([prefix, Buffer.from('/'), base]) : base);
    // A trailing slash marks folders; it is no part of the name.
    let end = nameBytes.length;
    while (end > 1 && nameBytes[end - 1] === 0x2f) end--;
    nameBytes = nameBytes.subarray(0, end);
    const linkBytes = this.pax.linkpath ?? this.longLink ?? cbytes(h, 157, 100);
    const kind = KINDS[type] ?? 'other';
    const realSize = paxNumber(this.pax, 'size', size);
    const mtimeMs = Math.round(paxNumber(this.pax, 'mtime', octal(h, 136, 12)) * 1000);
    const entry: TarEntry = {
      name: nameBytes.toString('utf8'),
      kind,
      size: kind === 'file' ? realSize : 0,
      mode: octal(h, 100, 8),
      mtimeMs,
      linkname: linkBytes.toString('utf8'),
      nameBytes,
      linkBytes,
      uid: paxNumber(this.pax, 'uid', octal(h, 108, 8)),
      gid: paxNumber(this.pax, 'gid', octal(h, 116, 8)),
      devmajor: ustar ? octal(h, 329, 8) : 0,
      devminor: ustar ? octal(h, 337, 8) : 0,
    };
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
 * Why a name (of a tar entry or of a file index line) cannot be extracted safely, or null: empty,
 * absolute, a `..` or NUL anywhere, a drive letter. Checked at verification and again at every
 * restore, whatever verified the set before.
 */
export function unsafeNameReason(name: string | Buffer): string | null {
  // Checked on the decoded text: '/', '.' and NUL are ASCII, and decoding never makes them out of other bytes.
  const shown = typeof name === 'string' ? name : name.toString('utf8');
  if (shown.length === 0) return 'an empty name';
  if (shown.includes('\0')) return `a NUL byte in ${JSON.stringify(shown)}`;
  if (shown.startsWith('/') || /^[A-Za-z]:[\\/]/.test(shown)) return `absolute path ${shown}`;
  // A backslash is an ordinary byte of a Linux or macOS name (`..\notes` is one file, kept by every
  // backup): only where it separates folders (Windows) can `..\` climb out.
  if (shown.includes('..') && shown.split(process.platform === 'win32' ? /[\\/]/ : '/').includes('..'))
    return `".." in ${shown}`;
  return null;
}

/** Whether a link target, read from the link's folder, stays inside the tree (information only: a link is data). */
export function linkLeavesTree(name: string, target: string): boolean {
  if (target.startsWith('/')) return true;
  const resolved = posix.normalize(posix.join(posix.dirname(name), target));
  return resolved === '..' || resolved.startsWith('../');
}

/**
 * Why an entry cannot be extracted, or null: an unsafe name, or a hard link whose target is
 * outside the tree (a hard link to anything outside would expose that file). Symbolic links may
 * point anywhere: they are restored as links and never written through.
 */
export function unsafeEntryReason(e: TarEntry): string | null {
  const byName = unsafeNameReason(e.nameBytes ?? e.name);
  if (byName) return byName;
  if (e.kind === 'hardlink') {
    const t = unsafeNameReason(e.linkBytes ?? e.linkname);
    if (t) return `${e.name} is a hard link to ${t}`;
  }
  if (e.kind === 'symlink' && (e.linkBytes ?? Buffer.from(e.linkname)).includes(0))
    return `${e.name} links to a name with a NUL byte`;
  return null;
}

/**
 * The symbolic links seen so far in a walk (tar or index order), to tell when a later entry lies
 * under one: a restore refuses to write through a link, so verification calls that unsafe too.
 * Bounded: past `limit` links, later ones are not remembered (`overflow` says so).
 */
export class LinkShadow {
  private readonly links = new Set<string>();
  overflow = false;

  constructor(private readonly limit = 200_000) {}

  add(name: string): void {
    if (this.links.size >= this.limit) this.overflow = true;
    else this.links.add(name.replace(/^(\.\/)+/, ''));
  }

  /** The link an entry would be written through, or null. */
  under(name: string): string | null {
    if (this.links.size === 0) return null;
    const clean = name.replace(/^(\.\/)+/, '');
    for (let i = clean.indexOf('/'); i > 0; i = clean.indexOf('/', i + 1)) {
      const up = clean.slice(0, i);
      if (this.links.has(up)) return up;
    }
    return null;
  }
}
