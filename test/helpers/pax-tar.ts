/**
 * A tiny POSIX pax tar writer for tests: hostile archives are built byte by byte here (names
 * with `..`, links, device nodes, raw non-UTF-8 names), independent of the engine's own writer.
 */

export interface TarSpec {
  name: string | Buffer;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';
  mode?: number;
  body?: Buffer | string;
  linkname?: string | Buffer;
  uid?: number;
  gid?: number;
  mtime?: number;
  devmajor?: number;
  devminor?: number;
}

const FLAG: Record<TarSpec['type'], string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(
  name: Buffer,
  flag: string,
  size: number,
  o: { mode: number; uid: number; gid: number; mtime: number; linkname: Buffer; devmajor: number; devminor: number },
): Buffer {
  const h = Buffer.alloc(512);
  name.copy(h, 0, 0, Math.min(100, name.length));
  h.write(octal(o.mode, 8), 100, 'latin1');
  h.write(octal(o.uid, 8), 108, 'latin1');
  h.write(octal(o.gid, 8), 116, 'latin1');
  h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(o.mtime, 12), 136, 'latin1');
  h.write(' '.repeat(8), 148, 'latin1');
  h.write(flag, 156, 'latin1');
  o.linkname.copy(h, 157, 0, Math.min(100, o.linkname.length));
  h.write('ustar\u000000', 257, 'latin1');
  h.write(octal(o.devmajor, 8), 329, 'latin1');
  h.write(octal(o.devminor, 8), 337, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'latin1');
  return h;
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

const isUtf8 = (b: Buffer): boolean => Buffer.from(b.toString('utf8'), 'utf8').equals(b);

export function paxTar(entries: TarSpec[], { end = true }: { end?: boolean } = {}): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name);
    const linkname =
      e.linkname === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.linkname) ? e.linkname : Buffer.from(e.linkname);
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.body) ? e.body : Buffer.from(e.body);
    const o = {
      mode: e.mode ?? (e.type === 'dir' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? 1_700_000_000,
      linkname,
      devmajor: e.devmajor ?? 0,
      devminor: e.devminor ?? 0,
    };
    const records: Buffer[] = [];
    if (name.length > 100 || !isUtf8(name)) records.push(paxRecord('path', name));
    if (linkname.length > 100 || !isUtf8(linkname)) records.push(paxRecord('linkpath', linkname));
    if (records.length && (!isUtf8(name) || !isUtf8(linkname)))
      records.unshift(paxRecord('hdrcharset', Buffer.from('BINARY')));
    if (records.length) {
      const pax = Buffer.concat(records);
      out.push(
        header(Buffer.from('PaxHeaders/x'), 'x', pax.length, { ...o, mode: 0o644, linkname: Buffer.alloc(0) }),
        pax,
        pad(pax.length),
      );
    }
    out.push(header(name, FLAG[e.type], body.length, o), body, pad(body.length));
  }
  if (end) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

/** One v2 file index line. */
export function indexLine(e: Record<string, unknown>): string {
  return JSON.stringify({
    size: 0,
    mtime_ms: 1_700_000_000_000,
    mode: e.type === 'dir' ? 0o755 : 0o644,
    sha256: null,
    target: null,
    ...e,
  });
}
