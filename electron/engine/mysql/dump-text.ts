import { Transform, type TransformCallback } from 'node:stream';
import { LifeboatError } from '../errors';

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

/** Statements that reach beyond the one database a set restores into (accounts, other databases, the server). */
const FORBIDDEN_PAIRS = new Set([
  'CREATE DATABASE',
  'CREATE SCHEMA',
  'DROP DATABASE',
  'DROP SCHEMA',
  'ALTER DATABASE',
  'ALTER SCHEMA',
  'CREATE USER',
  'DROP USER',
  'ALTER USER',
  'RENAME USER',
  'CREATE ROLE',
  'DROP ROLE',
  'SET ROLE',
  'SET PASSWORD',
  'SET GLOBAL',
  'SET PERSIST',
  'INSTALL PLUGIN',
  'INSTALL SONAME',
  'UNINSTALL PLUGIN',
  'UNINSTALL SONAME',
  'CHANGE MASTER',
  'START SLAVE',
  'START REPLICA',
  'STOP SLAVE',
  'STOP REPLICA',
  'LOAD DATA',
  'LOAD XML',
]);
const FORBIDDEN_WORDS = new Set(['GRANT', 'REVOKE', 'SHUTDOWN', '@@GLOBAL']);
/** The client's own commands by their long names (recognised at a statement's start), and USE. */
const FORBIDDEN_FIRST = new Set([
  'USE',
  'CONNECT',
  'SOURCE',
  'SYSTEM',
  'TEE',
  'NOTEE',
  'PAGER',
  'NOPAGER',
  'CHARSET',
  'KILL',
  'FLUSH',
  'RESET',
  'PURGE',
]);

const isWordByte = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80;

type GuardState =
  | 'code'
  | 'squote'
  | 'dquote'
  | 'btick'
  | 'line-comment'
  | 'block-comment'
  | 'comment-open'
  | 'comment-open-m'
  | 'dash'
  | 'backslash'
  | 'version';

/**
 * Refuses a dump that does more than build one database: a set restores into a new database as
 * the URL's user, so `USE other`, `DROP DATABASE other`, `GRANT`, an account or server statement
 * or a client command (`connect`, a backslash command) in it would act with that user's rights
 * elsewhere — mariadb-dump writes none of them for one database. Read as SQL (strings, quoted
 * names and comments skipped; the code of `/*!NNNNN … *\/` comments read, as the server runs it),
 * every word pair checked, inside routine and event bodies too. What it cannot see: a qualified
 * `other`.`t` in DML, which only the user's rights stop (restore as a user owning only the new
 * database). Passes the bytes through unchanged; fails at the first such statement.
 */
export class DumpStatementGuard extends Transform {
  private state: GuardState = 'code';
  private escaped = false;
  private word: number[] = [];
  private last = '';
  private beforeLast = '';
  /** The next word starts a statement. */
  private atStart = true;
  private line = 1;
  /** The first bytes of the current line (for `DELIMITER` at a line's start). */
  private lineHead: number[] = [];
  private delimiterEnd = 0x3b;
  private pendingSlash = false;
  private pendingDash = false;

  /** Reads the next bytes of the dump; throws at the first statement it refuses. */
  check(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) this.byte(chunk[i]!);
  }

  /** The dump's end (its last word). */
  finish(): void {
    this.endWord();
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    try {
      this.check(chunk);
      cb(null, chunk);
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.finish();
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  private refuse(what: string): never {
    throw new LifeboatError(
      'FORMAT_INVALID',
      `The dump holds ${what} (line ${this.line}): a set restores into one new database, and a dump that reaches other databases, accounts, the server or the client is not a plain dump: a restore refuses it before the server is touched.`,
      { hint: 'Do not trust this set: restore an older one, and find out what wrote this dump.' },
    );
  }

  private endWord(): void {
    if (this.word.length === 0) return;
    const w = Buffer.from(this.word).toString('utf8').toUpperCase();
    this.word = [];
    if (this.atStart && FORBIDDEN_FIRST.has(w)) this.refuse(`\`${w}\` at a statement's start`);
    if (FORBIDDEN_WORDS.has(w)) this.refuse(`\`${w}\``);
    if (FORBIDDEN_PAIRS.has(`${this.last} ${w}`)) this.refuse(`\`${this.last} ${w}\``);
    if (`${this.beforeLast} ${this.last} ${w}` === 'SET DEFAULT ROLE') this.refuse('`SET DEFAULT ROLE`');
    this.beforeLast = this.last;
    this.last = w;
    this.atStart = false;
  }

  private statementEnd(): void {
    this.atStart = true;
    this.last = '';
    this.beforeLast = '';
  }

  private newLine(): void {
    const d = /^\s*delimiter\s+(\S+)/i.exec(Buffer.from(this.lineHead).toString('utf8'));
    if (d) {
      this.delimiterEnd = d[1]!.charCodeAt(d[1]!.length - 1);
      this.statementEnd();
    }
    this.line++;
    this.lineHead = [];
  }

  private byte(c: number): void {
    if (this.lineHead.length < 64 && c !== 0x0a) this.lineHead.push(c);
    switch (this.state) {
      case 'squote':
      case 'dquote':
        if (c === 0x0a) this.newLine();
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === (this.state === 'squote' ? 0x27 : 0x22)) this.state = 'code';
        return;
      case 'btick':
        if (c === 0x0a) this.newLine();
        if (c === 0x60) this.state = 'code';
        return;
      case 'line-comment':
        if (c === 0x0a) {
          this.state = 'code';
          this.newLine();
        }
        return;
      case 'block-comment':
        if (c === 0x0a) this.newLine();
        if (c === 0x2f && this.escaped) this.state = 'code';
        this.escaped = c === 0x2a;
        return;
      case 'comment-open':
        // `/*!NNNNN …*/` and `/*M!NNNNN …*/` hold code the server runs; any other comment is skipped.
        if (c === 0x21) this.state = 'version';
        else if (c === 0x4d) this.state = 'comment-open-m';
        else {
          this.state = 'block-comment';
          this.escaped = false;
          this.byte(c);
        }
        return;
      case 'comment-open-m':
        if (c === 0x21) this.state = 'version';
        else {
          this.state = 'block-comment';
          this.escaped = false;
          this.byte(c);
        }
        return;
      case 'version':
        if (c >= 0x30 && c <= 0x39) return;
        this.state = 'code';
        break;
      case 'dash':
        // `-- ` starts a comment only before a space or a control character (`1--1` is arithmetic).
        this.state = 'code';
        if (c <= 0x20) {
          if (c === 0x0a) this.newLine();
          else this.state = 'line-comment';
          return;
        }
        break;
      case 'backslash':
        // `\-` (the client's sandbox mode, which mariadb-dump writes on its first line) only restricts.
        if (c !== 0x2d) this.refuse(`a client command (\\${String.fromCharCode(c)})`);
        this.state = 'code';
        return;
      case 'code':
        break;
    }
    if (isWordByte(c) || (c === 0x40 && this.word.every((b) => b === 0x40))) {
      if (this.word.length < 64) this.word.push(c);
      this.pendingSlash = this.pendingDash = false;
      return;
    }
    this.endWord();
    if (c === 0x0a) this.newLine();
    else if (c === 0x27) {
      this.state = 'squote';
      this.escaped = false;
    } else if (c === 0x22) {
      this.state = 'dquote';
      this.escaped = false;
    } else if (c === 0x60) this.state = 'btick';
    else if (c === 0x23) this.state = 'line-comment';
    else if (c === 0x5c) this.state = 'backslash';
    else if (c === 0x3b || c === this.delimiterEnd) this.statementEnd();
    else if (c === 0x2a && this.pendingSlash) this.state = 'comment-open';
    else if (c === 0x2d && this.pendingDash) this.state = 'dash';
    this.pendingSlash = c === 0x2f;
    this.pendingDash = c === 0x2d && this.state === 'code';
    if (this.state !== 'code') this.pendingSlash = this.pendingDash = false;
  }
}
