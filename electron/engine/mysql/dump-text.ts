import { Transform, type TransformCallback } from 'node:stream';

/** mariadb-dump/mysqldump's header, in the first lines of a dump. */
export const MYSQL_DUMP_HEADER = /^-- (MariaDB|MySQL) dump \d/m;
/** Its last line: a dump cut short (a killed job, a full disk) has none. */
export const MYSQL_DUMP_FOOTER = /\n-- Dump completed( on [0-9: -]+)?\s*$/;

const CREATE_TABLE = Buffer.from('CREATE TABLE `');
const INSERT_INTO = Buffer.from('INSERT INTO `');
const INSERT_HEAD = /^INSERT INTO `((?:[^`]|``)+)` VALUES\s?$/;
const CREATE_HEAD = /^CREATE TABLE `((?:[^`]|``)+)`/;
/** Longest line start kept to recognise a statement; the rest of a long line is only scanned. */
const HEAD_MAX = 4096;

const unquote = (name: string): string => name.replace(/``/g, '`');

/**
 * The tables and rows a mariadb-dump/mysqldump SQL stream holds, counted as it streams by: every
 * `CREATE TABLE` at a line's start, and every row tuple of each `INSERT INTO … VALUES` (strings
 * with their backslash escapes and doubled quotes, hex blobs, rows on one line or one per line).
 * The count is exactly what a restore of this dump must give back, from the dump's own
 * consistent snapshot (a separate `COUNT(*)` at backup time would see another moment).
 */
export class DumpRowCounter {
  readonly tables = new Map<string, number>();
  private head: number[] = [];
  /** Still reading a line's start (else skipping to its end). */
  private atHead = true;
  /** In the VALUES of this table. */
  private table: string | null = null;
  private depth = 0;
  private inString = false;
  private escaped = false;

  write(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.table !== null) {
        this.value(c);
        continue;
      }
      if (c === 0x0a) {
        this.lineEnd();
        continue;
      }
      if (!this.atHead) continue;
      this.head.push(c);
      if (this.head.length === 14 && !this.startsWith(CREATE_TABLE) && !this.startsWith(INSERT_INTO)) {
        this.atHead = false;
      } else if (this.head.length >= HEAD_MAX) {
        this.atHead = false;
      } else if (c === 0x53 /* S */ || c === 0x20) {
        const m = INSERT_HEAD.exec(Buffer.from(this.head).toString('utf8'));
        if (m) {
          this.table = unquote(m[1]!);
          if (!this.tables.has(this.table)) this.tables.set(this.table, 0);
          this.depth = 0;
          this.inString = false;
          this.escaped = false;
          this.head = [];
          this.atHead = false;
        }
      }
    }
  }

  private startsWith(prefix: Buffer): boolean {
    for (let i = 0; i < prefix.length; i++) if (this.head[i] !== prefix[i]) return false;
    return true;
  }

  private lineEnd(): void {
    if (this.atHead && this.head.length >= 14 && this.startsWith(CREATE_TABLE)) {
      const m = CREATE_HEAD.exec(Buffer.from(this.head).toString('utf8'));
      if (m && !this.tables.has(unquote(m[1]!))) this.tables.set(unquote(m[1]!), 0);
    }
    this.head = [];
    this.atHead = true;
  }

  private value(c: number): void {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === 0x5c /* \ */) this.escaped = true;
      else if (c === 0x27 /* ' */) this.inString = false;
      return;
    }
    if (c === 0x27) this.inString = true;
    else if (c === 0x28 /* ( */) {
      if (this.depth === 0) this.tables.set(this.table!, (this.tables.get(this.table!) ?? 0) + 1);
      this.depth++;
    } else if (c === 0x29 /* ) */) this.depth = Math.max(0, this.depth - 1);
    else if (c === 0x3b /* ; */ && this.depth === 0) {
      this.table = null;
      this.atHead = false;
    }
  }

  /** `{ table: rows }`, sorted by name. */
  result(): Record<string, number> {
    return Object.fromEntries([...this.tables.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

/** A Transform passing the dump through while counting it. */
export class DumpCountTap extends Transform {
  readonly counter = new DumpRowCounter();
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.counter.write(chunk);
    cb(null, chunk);
  }
}

/** Lines that are the dump's own DDL (never row data): where a DEFINER clause is dropped. */
const DDL_LINE = /^(\/\*!50003 CREATE\*\/|\/\*!50106 CREATE\*\/|\/\*!50013 DEFINER|CREATE DEFINER=)/;
const DEFINER = /DEFINER=(`(?:[^`]|``)*`|'[^']*'|[^\s@*]+)@(`(?:[^`]|``)*`|'[^']*'|[^\s*]+)\s*/g;
/** A line longer than this is passed on as it is (row data; the DDL lines are short). */
const LINE_LIMIT = 1024 * 1024;

/**
 * The `DEFINER=user@host` clauses of a dump's triggers, views, routines and events dropped (on
 * the dump's own DDL lines only), so a restore as an ordinary user (no SUPER or SET USER) creates
 * them as its own: a dump names its definer, and setting another one needs those rights.
 */
export class DefinerFilter extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  private passing = false;
  removed = 0;

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    let start = 0;
    const out: Buffer[] = [];
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl + 1);
      if (this.passing) {
        out.push(piece);
        this.passing = false;
      } else out.push(this.line(this.carry.length ? Buffer.concat([this.carry, piece]) : piece));
      this.carry = Buffer.alloc(0);
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (this.passing) out.push(rest);
    else if (this.carry.length + rest.length > LINE_LIMIT) {
      out.push(this.carry, rest);
      this.carry = Buffer.alloc(0);
      this.passing = true;
    } else this.carry = Buffer.concat([this.carry, rest]);
    cb(null, Buffer.concat(out));
  }

  override _flush(cb: TransformCallback): void {
    cb(null, this.passing ? Buffer.alloc(0) : this.line(this.carry));
  }

  private line(l: Buffer): Buffer {
    if (l.length < 16) return l;
    const text = l.toString('utf8');
    if (!DDL_LINE.test(text)) return l;
    const cleaned = text.replace(DEFINER, () => {
      this.removed++;
      return '';
    });
    return cleaned === text ? l : Buffer.from(cleaned, 'utf8');
  }
}
