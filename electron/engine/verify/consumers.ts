import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FileEntry } from '../format/file-index';
import { LifeboatError, mapError } from '../errors';
import { redactText } from '../log/redact';
import { newerArchiveNeeded } from '../postgres/pg-tools';
import { LinkShadow, linkLeavesTree, TarReader, unsafeEntryReason, type TarEntry } from '../format/tar-reader';
import { BackupManifestCheck, describeProblems, manifestAlgorithms } from '../pitr/backup-manifest';
import { IndexReader } from '../restore/index-reader';
import { dumpMembersOf, MemberCheck, type DumpMember } from '../restore/dump-members';
import { checkBlobsToc, tocDataFiles } from '../restore/dump-toc';
import { DumpStatementGuard, MYSQL_DUMP_FOOTER, MYSQL_DUMP_HEADER } from '../mysql/dump-text';

/**
 * What deep verification does with an artifact's plaintext, by role: a Writable that checks it
 * as it streams, and a promise of the outcome.
 */
export interface Consumer {
  sink: Writable;
  outcome: () => Promise<{
    verdict: 'ok' | 'unreadable-dump' | 'unsafe-path' | 'corrupted' | 'undecryptable' | 'not-checked';
    detail: string | null;
    index?: FileEntry[];
    files?: FileSetDigest;
  }>;
}

const MASK = (1n << 256n) - 1n;

/**
 * The files of a tree as an order-free digest (a sum modulo 2^256 of a hash of each file's name,
 * size and content hash, plus a count), so that a set's tar and its file index, each streamed on
 * its own, can be compared in constant memory: a restore takes every file of the index from the
 * tar named in its `in`, and refuses the set when the two disagree, so deep verification must too.
 * `shape` leaves the content out, for index lines with no hash (which a restore does not check).
 */
export class FileSetDigest {
  count = 0;
  private full = 0n;
  private shape = 0n;
  /** Index files with no content hash seen: then only names and sizes are compared. */
  unhashed = 0;

  add(name: Buffer, size: number, sha256: string | null): void {
    const plain = plainName(name);
    const shape = createHash('sha256').update(plain).update(`\0${size}`).digest();
    this.shape = (this.shape + BigInt(`0x${shape.toString('hex')}`)) & MASK;
    if (sha256 === null) this.unhashed++;
    else
      this.full = (this.full + BigInt(`0x${createHash('sha256').update(shape).update(sha256).digest('hex')}`)) & MASK;
    this.count++;
  }

  /** Whether `tar` holds exactly the files this index gives it (names, sizes, and contents where hashed). */
  matches(tar: FileSetDigest): boolean {
    return this.count === tar.count && this.shape === tar.shape && (this.unhashed > 0 || this.full === tar.full);
  }
}

/** A name as a restore looks it up: empty and `.` parts dropped (`./a//b` is `a/b`). */
function plainName(name: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || name[i] === 0x2f) {
      const part = name.subarray(start, i);
      if (part.length && !(part.length === 1 && part[0] === 0x2e)) parts.push(part);
      start = i + 1;
    }
  }
  return Buffer.concat(parts.flatMap((p, i) => (i ? [Buffer.of(0x2f), p] : [p])));
}

/**
 * When a consumer's Writable has settled: the error it ended with, or null once it finished.
 * Listened to from the start, so an early error is never missed.
 */
export function settled(sink: Writable): () => Promise<Error | null> {
  let failure: Error | null = null;
  sink.on('error', (e) => (failure = e));
  const done = new Promise<void>((resolve) => {
    sink.once('finish', () => resolve());
    sink.once('error', () => resolve());
  });
  return async () => {
    await done;
    return failure;
  };
}

export function nullSink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/**
 * `pg_restore --list` reading the dump's table of contents from stdin. The child never outlives
 * the check: its stdin is closed on every path (the end of the stream, a decoding error that
 * destroys the sink, a cancel), and a sink destroyed before the end also kills it, since a
 * verdict has already been reached without it.
 */
export function pgRestoreList(pgRestore: string): Consumer {
  const child = spawn(pgRestore, ['--list'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let toc = 0;
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    toc += d.split('\n').filter((l) => /^\d+;/.test(l)).length;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => {
      running = false;
      resolve(-1);
    });
    child.once('close', (code) => {
      running = false;
      resolve(code);
    });
  });
  // pg_restore stops reading once it has the table of contents: the rest of the dump is drained.
  let stdinOpen = true;
  child.stdin.on('error', () => (stdinOpen = false));
  child.stdin.on('close', () => (stdinOpen = false));
  let ended = false;
  const closeStdin = (): void => {
    if (stdinOpen) child.stdin.destroy();
    stdinOpen = false;
  };
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _e, cb) {
      if (!stdinOpen) return cb();
      if (child.stdin.write(chunk)) cb();
      else {
        const onDrain = (): void => {
          child.stdin.off('close', onClose);
          cb();
        };
        const onClose = (): void => {
          child.stdin.off('drain', onDrain);
          cb();
        };
        child.stdin.once('drain', onDrain);
        child.stdin.once('close', onClose);
      }
    },
    final(cb) {
      ended = true;
      if (stdinOpen) child.stdin.end();
      cb();
    },
    destroy(err, cb) {
      // Destroyed before the end (a decoding error upstream, a cancel): no verdict will be asked
      // of pg_restore, and a half-fed child would wait for more input forever. After a normal
      // end (autoDestroy) pg_restore is left to finish its listing.
      if (!ended) {
        closeStdin();
        if (running) child.kill('SIGKILL');
      }
      cb(err);
    },
  });
  return {
    sink,
    outcome: async () => {
      const code = await exited;
      return listVerdict(code, toc, stderr);
    },
  };
}

/** The deep verdict of a custom-format dump from its `pg_restore --list` (stdin or a file: the same reading). */
function listVerdict(code: number | null, toc: number, stderr: string): Awaited<ReturnType<Consumer['outcome']>> {
  if (code !== 0 || toc === 0) {
    const needs = newerArchiveNeeded(stderr);
    if (needs) return { verdict: 'not-checked', detail: needs };
    return {
      verdict: 'unreadable-dump',
      detail: `pg_restore --list failed: ${redactText(stderr.trim().split('\n').slice(-2).join(' ')) || `exit ${code}`}`,
    };
  }
  return { verdict: 'ok', detail: `pg_restore --list read ${toc} table-of-contents entries` };
}

/**
 * The deep check of a custom-format dump in one pass with its test restore (verify --level
 * restore): the plaintext is written to `file` (mode 600) as it streams, and once the gate passed
 * `pg_restore --list` reads that file — the same reading as `pgRestoreList` on stdin — so the
 * restore test that follows uses the very bytes checked, never a second read of the medium. A
 * write that fails (a full temp folder) does not stop the stream: the stored and decoded bytes
 * are still judged, and the dump is said not checked here (a fact of this machine, not the set).
 */
export function pgDumpToFile(file: string, pgRestore: string): Consumer & { writeError: () => Error | null } {
  let fd: number | null = openSync(file, 'wx', 0o600);
  let writeError: Error | null = null;
  const close = (): void => {
    if (fd === null) return;
    try {
      closeSync(fd);
    } catch (e) {
      writeError ??= e as Error;
    }
    fd = null;
  };
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _e, cb) {
      if (fd !== null && !writeError) {
        try {
          for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off, chunk.length - off);
        } catch (e) {
          writeError = e as Error;
          close();
        }
      }
      cb();
    },
    final(cb) {
      close();
      cb();
    },
    destroy(err, cb) {
      close();
      cb(err);
    },
  });
  const ended = settled(sink);
  return {
    sink,
    writeError: () => writeError,
    outcome: async () => {
      const failure = await ended();
      if (failure) return { verdict: 'corrupted', detail: failure.message };
      if (writeError)
        return {
          verdict: 'not-checked',
          detail: `the decoded dump could not be written to a temp folder here: ${writeError.message}`,
        };
      const list = spawn(pgRestore, ['--list', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let toc = 0;
      let stderr = '';
      let rest = '';
      list.stdout.setEncoding('utf8').on('data', (d: string) => {
        const lines = (rest + d).split('\n');
        rest = lines.pop() ?? '';
        toc += lines.filter((l) => /^\d+;/.test(l)).length;
      });
      list.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
      const code = await new Promise<number | null>((resolve) => {
        list.once('error', () => resolve(-1));
        list.once('close', (c) => resolve(c));
      });
      if (/^\d+;/.test(rest)) toc++;
      return listVerdict(code, toc, stderr);
    },
  };
}

/** A dump whose verdict cannot be reached here: drained, and reported as not checked (never as a fault of the dump). */
export function notChecked(detail: string): Consumer {
  return { sink: nullSink(), outcome: () => Promise.resolve({ verdict: 'not-checked', detail }) };
}

/**
 * Walk every tar header: a name that could not be extracted safely (absolute, `..`, NUL, a hard
 * link to such a name) is unsafe; symbolic links pointing outside the tree are data (restored as
 * links, never written through) and only counted; FIFOs and device nodes are counted the way a
 * restore reports them (devices are made only by a restore running as root).
 */
export function tarWalk(digest = false, indexFiles = false): Consumer {
  const unsafe: string[] = [];
  // A foreign tarball (a seed script's): its entries kept for the catalog's find (Lifeboat sets have a file index).
  let kept: FileEntry[] | null = indexFiles ? [] : null;
  // A files set's tar: every file's content hashed, for the comparison with the file index.
  const files$ = digest ? new FileSetDigest() : null;
  let hashing: { entry: TarEntry; hash: Hash } | null = null;
  let files = 0;
  let bytes = 0;
  let outside = 0;
  let devices = 0;
  let fifos = 0;
  const shadow = new LinkShadow();
  const reader = new TarReader({
    onEntry: (e) => {
      // The first few reasons are kept: a hostile tar may hold millions.
      const why = unsafeEntryReason(e);
      if (why && unsafe.length < 3) unsafe.push(why);
      const through = shadow.under(e.name);
      if (through && unsafe.length < 3) unsafe.push(`${e.name} lies under the symbolic link ${through}`);
      if (e.kind === 'symlink') shadow.add(e.name);
      if (kept && kept.length >= CATALOG_INDEX_LIMIT) kept = null;
      const type =
        e.kind === 'file' || e.kind === 'hardlink' ? 'file' : e.kind === 'dir' || e.kind === 'symlink' ? e.kind : null;
      if (kept && type) {
        const path = e.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
        if (path)
          kept.push({
            path,
            type,
            size: e.size,
            mtime_ms: e.mtimeMs,
            mode: e.mode,
            sha256: null,
            target: e.kind === 'file' || e.kind === 'dir' ? null : e.linkname,
            in: '',
          });
      }
      if (e.kind === 'file') {
        files++;
        bytes += e.size;
        if (files$) hashing = { entry: e, hash: createHash('sha256') };
      } else if (e.kind === 'symlink' && linkLeavesTree(e.name, e.linkname)) outside++;
      else if (e.kind === 'char' || e.kind === 'block') devices++;
      else if (e.kind === 'fifo') fifos++;
    },
    onData: (e, chunk) => {
      if (hashing?.entry === e) hashing.hash.update(chunk);
    },
    onEntryEnd: (e) => {
      if (hashing?.entry !== e) return;
      files$!.add(e.nameBytes ?? Buffer.from(e.name), e.size, hashing.hash.digest('hex'));
      hashing = null;
    },
  });
  const ended = settled(reader);
  return {
    sink: reader,
    outcome: async () => {
      const failure = await ended();
      if (failure) return { verdict: 'corrupted', detail: failure.message };
      if (unsafe.length) return { verdict: 'unsafe-path', detail: unsafe.slice(0, 3).join('; ') };
      const detail = [
        `${reader.entries} tar entries walked (${files} files, ${bytes} bytes)`,
        ...notes(outside, devices, fifos),
      ].join('; ');
      return { verdict: 'ok', detail, ...(files$ ? { files: files$ } : {}), ...(kept ? { index: kept } : {}) };
    },
  };
}

/**
 * A directory dump's tar against the members its signed manifest lists (`source.dump_members`,
 * restore/dump-members.ts): each file's size and SHA-256, nothing more and nothing less, no link.
 * The same reading as the restore that overlaps decoding makes (MemberCheck).
 */
function dumpMembersWalk(source: Record<string, unknown>): Consumer {
  let check: MemberCheck | null = null;
  let invalid: string | null = null;
  try {
    const members = dumpMembersOf({ source });
    if (members) check = new MemberCheck(members, 'the dump');
  } catch (e) {
    invalid = mapError(e).message;
  }
  let current: { member: DumpMember; hash: Hash; bytes: number; kept: Buffer[] | null } | null = null;
  // toc.dat and the large-object lists, kept whole: the names they give pg_restore are checked (dump-toc.ts).
  const lists = new Map<string, Buffer>();
  const keep = (path: string): boolean => /(^|\/)(toc\.dat|blobs(_\d+)?\.toc)$/.test(path);
  const reader = new TarReader({
    onEntry: (e) => {
      if (!check) return;
      const member = check.admit(e);
      current = member ? { member, hash: createHash('sha256'), bytes: 0, kept: keep(member.path) ? [] : null } : null;
    },
    onData: (_e, chunk) => {
      if (!current) return;
      current.hash.update(chunk);
      current.bytes += chunk.length;
      current.kept?.push(Buffer.from(chunk));
    },
    onEntryEnd: () => {
      if (!current || !check) return;
      const c = current;
      current = null;
      check.matched(c.member, c.bytes, c.hash.digest('hex'));
      if (c.kept) lists.set(c.member.path.replace(/^.*\//, ''), Buffer.concat(c.kept));
    },
  });
  const ended = settled(reader);
  return {
    sink: reader,
    outcome: async () => {
      const failure = await ended();
      if (invalid) return { verdict: 'corrupted', detail: invalid };
      try {
        if (failure) throw failure;
        check!.complete();
        const toc = lists.get('toc.dat');
        if (toc) {
          for (const f of tocDataFiles(toc, 'the dump')) {
            const blobs = f.filename.endsWith('.toc') ? lists.get(f.filename) : undefined;
            if (blobs) checkBlobsToc(blobs.toString('utf8'), 'the dump');
          }
        }
      } catch (e) {
        const err = mapError(e);
        return { verdict: err.code === 'UNSAFE_PATH' ? 'unsafe-path' : 'corrupted', detail: err.message };
      }
      return {
        verdict: 'ok',
        detail: `${reader.entries} tar entries walked: every dump file matched its signed SHA-256 and size`,
      };
    },
  };
}

/** Information a restore will repeat: links leaving the tree, FIFOs and device nodes. */
function notes(outside: number, devices: number, fifos: number): string[] {
  const out: string[] = [];
  if (outside) out.push(`${outside} link${outside === 1 ? '' : 's'} point${outside === 1 ? 's' : ''} outside the tree`);
  if (devices)
    out.push(`${devices} device node${devices === 1 ? '' : 's'} (restored only by a restore running as root)`);
  if (fifos) out.push(`${fifos} FIFO${fifos === 1 ? '' : 's'}`);
  return out;
}

/** Entries kept for the catalog's `find` at most: past this the index is checked but not recorded. */
export const CATALOG_INDEX_LIMIT = 200_000;

/**
 * The file index read line by line (bounded memory at any size, a per-line limit): every line
 * checked as a restore checks it, unsafe names are `unsafe-path`, links out of the tree counted.
 */
function indexParse(setId?: string): Consumer {
  // The files this set's own tar must hold (the others come from the sets of its chain).
  const files$ = setId ? new FileSetDigest() : null;
  let outside = 0;
  let devices = 0;
  let fifos = 0;
  let kept: FileEntry[] | null = [];
  let entries = 0;
  const shadow = new LinkShadow();
  const under: string[] = [];
  const reader = new IndexReader((e) => {
    entries++;
    if (files$ && e.type === 'file' && e.in === setId) files$.add(e.path, e.size, e.sha256);
    const through = shadow.under(e.display);
    if (through && under.length < 3) under.push(`file index: ${e.display} lies under the symbolic link ${through}`);
    if (e.type === 'symlink') shadow.add(e.display);
    if (e.type === 'symlink' && linkLeavesTree(e.display, e.target!.toString('utf8'))) outside++;
    else if (e.type === 'char' || e.type === 'block') devices++;
    else if (e.type === 'fifo') fifos++;
    if (kept && kept.length >= CATALOG_INDEX_LIMIT) kept = null;
    // The catalog's find knows files, folders and links: a hard link is found as a file, FIFOs and devices are left out.
    const type = e.type === 'hardlink' ? 'file' : e.type;
    if (type === 'file' || type === 'dir' || type === 'symlink') {
      kept?.push({
        path: e.display,
        type,
        size: e.size,
        mtime_ms: e.mtimeMs,
        mode: e.mode,
        sha256: e.sha256,
        target: e.target?.toString('utf8') ?? null,
        in: e.in,
      });
    }
  });
  const ended = settled(reader);
  return {
    sink: reader,
    outcome: async () => {
      const failure = await ended();
      if (failure)
        return {
          verdict: failure instanceof LifeboatError && failure.code === 'UNSAFE_PATH' ? 'unsafe-path' : 'corrupted',
          detail: failure.message,
        };
      if (under.length) return { verdict: 'unsafe-path', detail: under.join('; ') };
      const detail = [
        `${entries} entries in the file index`,
        ...notes(outside, devices, fifos),
        ...(kept ? [] : [`too many for the catalog's find (over ${CATALOG_INDEX_LIMIT})`]),
      ].join('; ');
      return { verdict: 'ok', detail, ...(kept ? { index: kept } : {}), ...(files$ ? { files: files$ } : {}) };
    },
  };
}

/** gzip then, for tarballs, a tar walk (seed-script sets). */
export function gunzipThen(next: Consumer | null): Consumer {
  const gunzip = createGunzip();
  const downstream = next?.sink ?? nullSink();
  let failure: Error | null = null;
  gunzip.on('error', (e) => {
    failure = e;
    downstream.destroy();
  });
  gunzip.pipe(downstream);
  const finished = new Promise<void>((resolve) => {
    downstream.once('finish', () => resolve());
    downstream.once('close', () => resolve());
    gunzip.once('error', () => resolve());
  });
  return {
    sink: gunzip,
    outcome: async () => {
      await finished;
      if (failure) return { verdict: 'corrupted', detail: `gzip: ${failure.message}` };
      return next ? next.outcome() : { verdict: 'ok', detail: 'gzip stream is complete' };
    },
  };
}

/**
 * `pgRestore`: the pg_restore that can read this set's dump (pgRestoreForDump), or what it would
 * need when none installed can, or null when none is installed at all.
 */
export function consumerFor(
  role: string,
  pgRestore: string | { needs: string } | null,
  source?: Record<string, unknown>,
  setId?: string,
): Consumer | null {
  switch (role) {
    case 'pg-dump':
      if (pgRestore && typeof pgRestore === 'object') return notChecked(pgRestore.needs);
      if (!pgRestore)
        throw new LifeboatError(
          'TOOL_MISSING',
          'pg_restore is needed to check dumps at deep level and was not found.',
          { hint: 'Install the PostgreSQL client tools or set the tools directory.' },
        );
      return pgRestoreList(pgRestore);
    case 'pg-dump-dir':
      return source?.dump_members === undefined ? tarWalk() : dumpMembersWalk(source);
    case 'files-tar':
      return tarWalk(setId !== undefined);
    case 'file-index':
      return indexParse(setId);
    case 'sql-dump-gz':
      return gunzipThen(null);
    case 'files-tar-gz':
    case 'config-tar-gz':
      return gunzipThen(tarWalk());
    case 'mysql-dump':
      return mysqlDumpCheck();
    case 'base-tar':
      // pg-base: every file against PostgreSQL's own backup_manifest inside the tar (pitr/backup-manifest.ts).
      return backupManifestConsumer(manifestAlgorithms(source));
    default:
      return null;
  }
}

/**
 * Deep verification of a `base-tar` artifact (pitr/backup-manifest.ts checks it): the plaintext tar streams in,
 * the verdict is `corrupted` naming the files that differ from backup_manifest.
 */
export function backupManifestConsumer(algorithms?: string[]): Consumer {
  const check = new BackupManifestCheck(algorithms);
  const reader = new TarReader({
    onEntry: (e) => check.onEntry(e),
    onData: (e, chunk) => check.onData(e, chunk),
    onEntryEnd: (e) => check.onEntryEnd(e),
  });
  const ended = settled(reader);
  return {
    sink: reader,
    outcome: async () => {
      const failure = await ended();
      if (failure) return { verdict: 'corrupted', detail: failure.message };
      const r = check.result();
      if (!r.present)
        return {
          verdict: 'ok',
          detail: 'no backup_manifest inside base.tar (PostgreSQL before 13): files not checked against it',
        };
      if (!r.ok)
        return {
          verdict: 'corrupted',
          detail: `base.tar differs from PostgreSQL's backup_manifest: ${describeProblems(r)}`,
        };
      return {
        verdict: 'ok',
        detail: `${r.files} files match PostgreSQL's backup_manifest (${r.algorithm ?? 'sizes'})`,
      };
    },
  };
}

/**
 * A MySQL/MariaDB dump (backup/mysql.ts) read whole: mariadb-dump's header in its first 8 KiB and
 * its completion line (`-- Dump completed`) at the very end. A dump cut short (a killed job, a full
 * disk) has none, even when the set around it was signed: it is an unreadable dump.
 */
export function mysqlDumpCheck(): Consumer {
  let head = '';
  let tail = '';
  let bytes = 0;
  // Read as SQL too: a dump reaching beyond its one database is refused by a restore, so not ok here.
  const guard = new DumpStatementGuard();
  let refused: string | null = null;
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      if (refused === null)
        try {
          guard.check(chunk);
        } catch (e) {
          refused = (e as Error).message;
        }
      if (head.length < 8192) head += chunk.subarray(0, 8192 - head.length).toString('latin1');
      tail = (tail + chunk.subarray(Math.max(0, chunk.length - 256)).toString('latin1')).slice(-256);
      cb();
    },
  });
  const ended = settled(sink);
  return {
    sink,
    outcome: async () => {
      const failure = await ended();
      if (failure) return { verdict: 'corrupted', detail: failure.message };
      if (!MYSQL_DUMP_HEADER.test(head))
        return {
          verdict: 'unreadable-dump',
          detail: 'no mariadb-dump/mysqldump header ("-- MariaDB dump …") in the first 8 KiB: not a MySQL dump',
        };
      if (refused === null)
        try {
          guard.finish();
        } catch (e) {
          refused = (e as Error).message;
        }
      if (refused !== null) return { verdict: 'unreadable-dump', detail: refused };
      if (!MYSQL_DUMP_FOOTER.test(tail))
        return {
          verdict: 'unreadable-dump',
          detail: `truncated: the dump ends without its completion line ("-- Dump completed") after ${bytes} bytes`,
        };
      return { verdict: 'ok', detail: `MySQL dump read whole (${bytes} bytes; header and completion line present)` };
    },
  };
}
