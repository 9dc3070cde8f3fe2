import { isUtf8 } from 'node:buffer';

/**
 * A streaming POSIX tar (ustar + pax extended headers) writer: what GNU tar, bsdtar and
 * Python's tarfile all read. Pax records are emitted only when ustar cannot hold a field
 * (long or non-ASCII names, link targets, sizes of 8 GiB and more, large ids, sub-second or
 * negative mtimes). Names are bytes: one that is not valid UTF-8 goes into pax `path`/`linkpath`
 * records under `hdrcharset=BINARY`, which GNU tar reads back as the exact bytes.
 */
export const BLOCK = 512;

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';

export interface TarHeader {
  /** The member name as bytes (or text, taken as UTF-8). */
  name: string | Buffer;
  type: TarEntryType;
  mode: number;
  size: number;
  mtimeMs: number;
  /** The exact mtime in nanoseconds when known (pax `mtime` then keeps all of it). */
  mtimeNs?: bigint;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Symlink target, or for a hardlink the member name of the entry it links to. */
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
}

const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

/** The largest value an octal field of `width` bytes (with its NUL) holds. */
function octalMax(width: number): number {
  return 8 ** (width - 1) - 1;
}

function octal(value: number, width: number): string {
  return `${Math.floor(value)
    .toString(8)
    .padStart(width - 1, '0')}\0`;
}

function asBytes(s: string | Buffer): Buffer {
  return typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
}

/** Printable ASCII that fits the ustar field: then no pax record is needed. */
function fits(b: Buffer, bytes: number): boolean {
  if (b.length > bytes) return false;
  for (const c of b) if (c < 0x20 || c > 0x7e) return false;
  return true;
}

/** One pax record, `<len> <key>=<value>\n`, where len counts its own digits; the value is bytes. */
function paxRecord(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), asBytes(value), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body]);
}

interface UstarFields {
  name: Buffer;
  typeflag: string;
  mode: number;
  size: number;
  mtime: number;
  uid: number;
  gid: number;
  linkname: Buffer;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

function ustarBlock(h: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  h.name.copy(b, 0, 0, Math.min(100, h.name.length));
  b.write(octal(h.mode & 0o7777, 8), 100, 8, 'ascii');
  b.write(octal(h.uid, 8), 108, 8, 'ascii');
  b.write(octal(h.gid, 8), 116, 8, 'ascii');
  b.write(octal(h.size, 12), 124, 12, 'ascii');
  b.write(octal(h.mtime, 12), 136, 12, 'ascii');
  b.write('        ', 148, 8, 'ascii');
  b.write(h.typeflag, 156, 1, 'ascii');
  h.linkname.copy(b, 157, 0, Math.min(100, h.linkname.length));
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  b.write(h.uname, 265, 31, 'ascii');
  b.write(h.gname, 297, 31, 'ascii');
  if (h.typeflag === '3' || h.typeflag === '4') {
    b.write(octal(h.devmajor, 8), 329, 8, 'ascii');
    b.write(octal(h.devminor, 8), 337, 8, 'ascii');
  }
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return b;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** A printable-ASCII stand-in for a name in a ustar field that a pax record overrides. */
function placeholder(b: Buffer, max: number): Buffer {
  const ascii = Buffer.from(b.toString('latin1').replace(/[^\x20-\x7e]/g, '_'), 'latin1');
  return ascii.length > max ? ascii.subarray(ascii.length - max) : ascii;
}

/** Seconds with nine decimals (pax allows any precision; GNU tar keeps nanoseconds). */
function paxTime(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  return `${neg ? '-' : ''}${a / 1_000_000_000n}.${String(a % 1_000_000_000n).padStart(9, '0')}`;
}

/** The header block(s) for one entry, with a pax header first when ustar cannot hold it. */
export function tarHeader(h: TarHeader): Buffer {
  let name = asBytes(h.name);
  if (h.type === 'dir' && name[name.length - 1] !== 0x2f) name = Buffer.concat([name, Buffer.from('/')]);
  const linkname = h.linkname === undefined ? Buffer.alloc(0) : asBytes(h.linkname);
  const size = h.type === 'file' ? h.size : 0;
  const mtime = Math.floor(h.mtimeMs / 1000);
  const uid = h.uid ?? 0;
  const gid = h.gid ?? 0;
  const uname = h.uname ?? '';
  const gname = h.gname ?? '';
  const pax: Buffer[] = [];
  // hdrcharset applies to every record of the header: with it, path and linkpath are raw bytes
  // (a valid UTF-8 name is the same bytes either way).
  if (!isUtf8(name) || !isUtf8(linkname)) pax.push(paxRecord('hdrcharset', 'BINARY'));
  if (!fits(name, 100)) pax.push(paxRecord('path', name));
  if (linkname.length > 0 && !fits(linkname, 100)) pax.push(paxRecord('linkpath', linkname));
  if (size > octalMax(12)) pax.push(paxRecord('size', String(size)));
  const exact = h.mtimeNs !== undefined ? paxTime(h.mtimeNs) : (h.mtimeMs / 1000).toFixed(3);
  if (
    (h.mtimeNs !== undefined ? h.mtimeNs % 1_000_000_000n !== 0n : h.mtimeMs % 1000 !== 0) ||
    mtime < 0 ||
    mtime > octalMax(12)
  )
    pax.push(paxRecord('mtime', exact));
  if (uid > octalMax(8)) pax.push(paxRecord('uid', String(uid)));
  if (gid > octalMax(8)) pax.push(paxRecord('gid', String(gid)));
  const unameFits = fits(Buffer.from(uname, 'utf8'), 31);
  const gnameFits = fits(Buffer.from(gname, 'utf8'), 31);
  if (!unameFits) pax.push(paxRecord('uname', uname));
  if (!gnameFits) pax.push(paxRecord('gname', gname));
  const main = ustarBlock({
    name: fits(name, 100) ? name : placeholder(name, 99),
    typeflag: TYPEFLAG[h.type],
    mode: h.mode,
    size: size > octalMax(12) ? 0 : size,
    mtime: mtime < 0 || mtime > octalMax(12) ? 0 : mtime,
    uid: uid > octalMax(8) ? 0 : uid,
    gid: gid > octalMax(8) ? 0 : gid,
    linkname: fits(linkname, 100) ? linkname : placeholder(linkname, 99),
    uname: unameFits ? uname : '',
    gname: gnameFits ? gname : '',
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (pax.length === 0) return main;
  const body = Buffer.concat(pax);
  const paxName = Buffer.concat([Buffer.from('PaxHeaders/'), placeholder(name, 80)]);
  const paxHeader = ustarBlock({
    name: paxName,
    typeflag: 'x',
    mode: 0o644,
    size: body.length,
    mtime: Math.max(0, Math.min(mtime, octalMax(12))),
    uid: 0,
    gid: 0,
    linkname: Buffer.alloc(0),
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, body, padding(body.length), main]);
}

export function tarPadding(size: number): Buffer {
  return padding(size);
}

/** Two zero blocks end an archive. */
export const TAR_END = Buffer.alloc(BLOCK * 2);
