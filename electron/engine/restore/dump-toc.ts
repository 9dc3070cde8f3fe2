import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError } from '../errors';

/**
 * The file names a directory-format dump's toc.dat gives pg_restore to open. pg_restore opens
 * `<dump folder>/<name>` with whatever name toc.dat holds, so a toc.dat made by hand (and signed
 * by a trusted key) could make it read any file the restoring user can: an identity, or the
 * staging copy of bytes not yet checked. Every name must be one pg_dump writes — `<id>.dat` for a
 * table's data, `blobs.toc` / `blobs_<id>.toc` for large objects — and every large-object list
 * may name only `blob_<oid>.dat`. Read after the toc.dat's own bytes matched their signed hash.
 *
 * The layout read here is pg_dump's archive header and table of contents (pg_backup_archiver.c
 * ReadHead/ReadToc, archive versions 1.12 to 1.16: PostgreSQL 9.0 to 17+), in its own words.
 */
export interface TocDataFile {
  dumpId: number;
  desc: string | null;
  filename: string;
}

const V = (maj: number, min: number): number => maj * 10_000 + min * 100;

export function tocDataFiles(toc: Buffer, where: string): TocDataFile[] {
  let pos = 0;
  const bad = (why: string): never => {
    throw new LifeboatError(
      'UNSAFE_PATH',
      `${where}: its toc.dat cannot be read as pg_dump writes it (${why}): refused.`,
    );
  };
  const byte = (): number => {
    if (pos >= toc.length) bad('it ends early');
    return toc[pos++]!;
  };
  if (toc.subarray(0, 5).toString('latin1') !== 'PGDMP') bad('no PGDMP header');
  pos = 5;
  const version = V(byte(), byte()) + byte();
  if (version < V(1, 12) || version > V(1, 16))
    bad(`archive version ${Math.floor(version / 10_000)}.${Math.floor(version / 100) % 100} is not one Lifeboat reads`);
  const intSize = byte();
  if (intSize < 1 || intSize > 8) bad('integer size');
  byte(); // offset size (1.7+)
  if (byte() !== 3) bad('not a directory-format archive');
  const int = (): number => {
    const negative = byte() !== 0;
    let n = 0;
    for (let i = 0; i < intSize; i++) n += byte() * 2 ** (8 * i);
    return negative ? -n : n;
  };
  const str = (): string | null => {
    const n = int();
    if (n < 0) return null;
    if (pos + n > toc.length) bad('a string runs past its end');
    const s = toc.subarray(pos, pos + n).toString('utf8');
    pos += n;
    return s;
  };
  if (version >= V(1, 15))
    byte(); // compression algorithm
  else int(); // compression level
  for (let i = 0; i < 7; i++) int(); // creation time
  str(); // database name
  str(); // server version
  str(); // pg_dump version
  const count = int();
  if (count < 0 || count > toc.length) bad('entry count');
  const out: TocDataFile[] = [];
  for (let i = 0; i < count; i++) {
    const dumpId = int();
    int(); // had a data dumper
    str(); // table oid
    str(); // oid
    str(); // tag
    const desc = str();
    int(); // section
    str(); // definition
    str(); // drop statement
    str(); // copy statement
    str(); // namespace
    str(); // tablespace
    if (version >= V(1, 14)) str(); // table access method
    if (version >= V(1, 16)) int(); // relkind
    str(); // owner
    str(); // with oids
    while (str() !== null); // dependencies, ended by a null string
    const filename = str();
    if (filename) out.push({ dumpId, desc, filename });
  }
  if (pos !== toc.length) bad('bytes after its last entry');
  for (const f of out)
    if (!/^\d+\.dat$/.test(f.filename) && !/^blobs(_\d+)?\.toc$/.test(f.filename))
      throw new LifeboatError(
        'UNSAFE_PATH',
        `${where}: its toc.dat sends pg_restore to read ${JSON.stringify(f.filename)} for entry ${f.dumpId}, not a file pg_dump writes: refused.`,
      );
  return out;
}

/** A large-object list (blobs.toc): `<oid> blob_<oid>.dat` lines only. */
export function checkBlobsToc(text: string, where: string): void {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (!/^\d+ blob_\d+\.dat$/.test(line))
      throw new LifeboatError(
        'UNSAFE_PATH',
        `${where}: its large-object list names ${JSON.stringify(line.slice(0, 80))}, not a file pg_dump writes: refused.`,
      );
  }
}

/** Every name a decoded dump folder gives pg_restore, checked (toc.dat and its large-object lists). */
export async function checkDumpFolder(dir: string, where: string): Promise<void> {
  const files = tocDataFiles(await readFile(join(dir, 'toc.dat')), where);
  const names = new Set(await readdir(dir));
  for (const f of files)
    if (f.filename.endsWith('.toc') && names.has(f.filename))
      checkBlobsToc(await readFile(join(dir, f.filename), 'utf8'), where);
}
