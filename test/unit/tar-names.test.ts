import { describe, expect, it } from 'vitest';
import { entryPathBytes, entryTargetBytes, parseIndex } from '../../electron/engine/format/file-index';
import { displayName, nameFields } from '../../electron/engine/format/names';
import { BLOCK, tarHeader } from '../../electron/engine/format/tar-writer';

const b = (...bytes: number[]): Buffer => Buffer.from(bytes);

/** The pax records of a header built by tarHeader: each record's length prefix must be exact. */
function paxRecords(header: Buffer): Map<string, Buffer> {
  expect(String.fromCharCode(header[156]!)).toBe('x');
  const size = parseInt(header.toString('ascii', 124, 135), 8);
  const body = header.subarray(BLOCK, BLOCK + size);
  const out = new Map<string, Buffer>();
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    const len = Number(body.toString('ascii', at, space));
    const record = body.subarray(at, at + len);
    expect(record[record.length - 1]).toBe(0x0a);
    const eq = record.indexOf(0x3d);
    out.set(record.toString('ascii', space - at + 1, eq), record.subarray(eq + 1, record.length - 1));
    at += len;
  }
  return out;
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return parseInt(block.toString('ascii', 148, 154), 8) === sum;
}

describe('names are bytes: display forms', () => {
  it('keeps valid UTF-8 and escapes every byte that is not part of a valid sequence', () => {
    expect(displayName(Buffer.from('ünïcødé-名前-😀.txt'))).toBe('ünïcødé-名前-😀.txt');
    expect(displayName(Buffer.from('caf\xe9.txt', 'latin1'))).toBe('caf\\xe9.txt');
    expect(displayName(Buffer.concat([Buffer.from('é'), b(0xff), Buffer.from('名')]))).toBe('é\\xff名');
    // Overlong, surrogate, truncated and out-of-range sequences are not UTF-8.
    expect(displayName(b(0xc0, 0x80))).toBe('\\xc0\\x80');
    expect(displayName(b(0xed, 0xa0, 0x80))).toBe('\\xed\\xa0\\x80');
    expect(displayName(b(0xe2, 0x82))).toBe('\\xe2\\x82');
    expect(displayName(b(0xf4, 0x90, 0x80, 0x80))).toBe('\\xf4\\x90\\x80\\x80');
  });

  it('gives a base64 form only to names that are not UTF-8', () => {
    expect(nameFields(Buffer.from('plain/名前'))).toEqual({ text: 'plain/名前', b64: null });
    const latin = Buffer.from('dir\xe9/f', 'latin1');
    expect(nameFields(latin)).toEqual({ text: 'dir\\xe9/f', b64: latin.toString('base64') });
  });
});

describe('tar headers', () => {
  it('writes a name that is not UTF-8 as raw bytes under hdrcharset=BINARY', () => {
    const name = Buffer.from('src/caf\xe9.txt', 'latin1');
    const h = tarHeader({ name, type: 'file', mode: 0o644, size: 3, mtimeMs: 1_000_000 });
    const pax = paxRecords(h);
    expect(pax.get('hdrcharset')?.toString()).toBe('BINARY');
    expect(pax.get('path')?.equals(name)).toBe(true);
    expect(checksumOk(h.subarray(0, BLOCK))).toBe(true);
    expect(checksumOk(h.subarray(h.length - BLOCK))).toBe(true);
  });

  it('puts long names, large ids, owner names, sub-second and negative mtimes in pax records', () => {
    const long = `d/${'x'.repeat(300)}`;
    const h = tarHeader({
      name: long,
      type: 'file',
      mode: 0o4755,
      size: 0,
      mtimeMs: -1500,
      uid: 3_000_000,
      gid: 7,
      uname: 'a-user-name-longer-than-31-bytes-x',
      gname: 'g',
    });
    const pax = paxRecords(h);
    expect(pax.get('path')?.toString()).toBe(long);
    expect(pax.get('uid')?.toString()).toBe('3000000');
    expect(pax.has('gid')).toBe(false);
    expect(pax.get('uname')?.toString()).toBe('a-user-name-longer-than-31-bytes-x');
    expect(pax.get('mtime')?.toString()).toBe('-1.500');
    expect(pax.has('hdrcharset')).toBe(false);
    const ns = paxRecords(
      tarHeader({ name: 'f'.repeat(101), type: 'file', mode: 0o644, size: 0, mtimeMs: 1000, mtimeNs: 1_000_000_123n }),
    );
    expect(ns.get('mtime')?.toString()).toBe('1.000000123');
  });

  it('writes hardlinks, FIFOs and devices with their typeflags and device numbers', () => {
    const link = tarHeader({
      name: 'a/second',
      type: 'hardlink',
      mode: 0o644,
      size: 99,
      mtimeMs: 0,
      linkname: 'a/first',
    });
    expect(String.fromCharCode(link[156]!)).toBe('1');
    expect(link.toString('ascii', 124, 135)).toBe('00000000000'); // a hardlink has no data
    expect(link.toString('ascii', 157, 164)).toBe('a/first');
    expect(String.fromCharCode(tarHeader({ name: 'p', type: 'fifo', mode: 0o644, size: 0, mtimeMs: 0 })[156]!)).toBe(
      '6',
    );
    const dev = tarHeader({ name: 'null', type: 'char', mode: 0o666, size: 0, mtimeMs: 0, devmajor: 1, devminor: 3 });
    expect(String.fromCharCode(dev[156]!)).toBe('3');
    expect(parseInt(dev.toString('ascii', 329, 336), 8)).toBe(1);
    expect(parseInt(dev.toString('ascii', 337, 344), 8)).toBe(3);
    expect(checksumOk(dev)).toBe(true);
  });
});

describe('file index format 2', () => {
  it('reads format 1 lines and format 2 lines with byte names', () => {
    const v1 =
      '{"path":"a/b","type":"file","size":1,"mtime_ms":5,"mode":420,"sha256":"00","target":null,"in":"20260101T000000Z-files"}';
    const v2 = JSON.stringify({
      path: 'a/caf\\xe9',
      path_b64: Buffer.from('a/caf\xe9', 'latin1').toString('base64'),
      type: 'hardlink',
      size: 0,
      mtime_ms: 5,
      mode: 420,
      uid: 0,
      gid: 0,
      sha256: null,
      target: 'a/b',
      dev: '1',
      ino: '2',
      ctime_ns: '3',
      in: 'x',
    });
    const [one, two] = parseIndex(Buffer.from(`${v1}\n${v2}\n`));
    expect(entryPathBytes(one!).toString()).toBe('a/b');
    expect(entryPathBytes(two!).equals(Buffer.from('a/caf\xe9', 'latin1'))).toBe(true);
    expect(entryTargetBytes(two!)?.toString()).toBe('a/b');
  });

  it('refuses a bad base64 name, a link without a target, and ids that are not decimal', () => {
    const base = { path: 'p', type: 'file', size: 0, mtime_ms: 0, mode: 0, sha256: null, target: null, in: 'x' };
    expect(() => parseIndex(Buffer.from(JSON.stringify({ ...base, path_b64: 'not base64!' })))).toThrow(/path_b64/);
    expect(() => parseIndex(Buffer.from(JSON.stringify({ ...base, type: 'hardlink' })))).toThrow(/target/);
    expect(() => parseIndex(Buffer.from(JSON.stringify({ ...base, ino: '12a' })))).toThrow(/ino/);
    expect(() => parseIndex(Buffer.from(JSON.stringify({ ...base, rdev: [1] })))).toThrow(/rdev/);
  });
});
