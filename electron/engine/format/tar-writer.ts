/**
 * A streaming POSIX tar (ustar + pax extended headers) writer: what GNU tar, bsdtar and
 * Python's tarfile all read. Pax records are emitted only when ustar cannot hold a field
 * (long or non-ASCII names, link targets, sizes of 8 GiB and more).
 */
export const BLOCK = 512;

export type TarEntryType = 'file' | 'dir' | 'symlink';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  size: number;
  mtimeMs: number;
  uid?: number;
  gid?: number;
  linkname?: string;
}

function octal(value: number, width: number): string {
  return `${Math.floor(value).toString(8).padStart(width - 1, '0')}\0`;
}

function fits(s: string, bytes: number): boolean {
  return Buffer.byteLength(s) <= bytes && /^[\x20-\x7e]*$/.test(s);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (Buffer.byteLength(`${len}${body}`) !== len) len = Buffer.byteLength(`${len}${body}`);
  return `${len}${body}`;
}

function ustarBlock(h: { name: string; typeflag: string; mode: number; size: number; mtime: number; uid: number; gid: number; linkname: string }): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  b.write(octal(h.mode & 0o7777, 8), 100, 8, 'ascii');
  b.write(octal(h.uid, 8), 108, 8, 'ascii');
  b.write(octal(h.gid, 8), 116, 8, 'ascii');
  b.write(octal(h.size, 12), 124, 12, 'ascii');
  b.write(octal(h.mtime, 12), 136, 12, 'ascii');
  b.write('        ', 148, 8, 'ascii');
  b.write(h.typeflag, 156, 1, 'ascii');
  b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return b;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** The header block(s) for one entry, with a pax header first when ustar cannot hold it. */
export function tarHeader(h: TarHeader): Buffer {
  const name = h.type === 'dir' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const linkname = h.linkname ?? '';
  const size = h.type === 'file' ? h.size : 0;
  const mtime = Math.floor(h.mtimeMs / 1000);
  const pax: string[] = [];
  if (!fits(name, 100)) pax.push(paxRecord('path', name));
  if (linkname && !fits(linkname, 100)) pax.push(paxRecord('linkpath', linkname));
  if (size >= 8 ** 11) pax.push(paxRecord('size', String(size)));
  if (h.mtimeMs % 1000 !== 0) pax.push(paxRecord('mtime', (h.mtimeMs / 1000).toFixed(3)));
  const typeflag = h.type === 'file' ? '0' : h.type === 'dir' ? '5' : '2';
  const main = ustarBlock({
    name: fits(name, 100) ? name : name.replace(/[^\x20-\x7e]/g, '_').slice(-99),
    typeflag,
    mode: h.mode,
    size: size >= 8 ** 11 ? 0 : size,
    mtime,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    linkname: fits(linkname, 100) ? linkname : '',
  });
  if (pax.length === 0) return main;
  const body = Buffer.from(pax.join(''), 'utf8');
  const paxHeader = ustarBlock({ name: `PaxHeaders/${name.replace(/[^\x20-\x7e]/g, '_').slice(-80)}`, typeflag: 'x', mode: 0o644, size: body.length, mtime, uid: 0, gid: 0, linkname: '' });
  return Buffer.concat([paxHeader, body, padding(body.length), main]);
}

export function tarPadding(size: number): Buffer {
  return padding(size);
}

/** Two zero blocks end an archive. */
export const TAR_END = Buffer.alloc(BLOCK * 2);
