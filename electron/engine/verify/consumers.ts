import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FileEntry } from '../backup/file-index';
import { LifeboatError } from '../errors';
import { redactText } from '../log/redact';
import { newerArchiveNeeded } from '../postgres/pg-tools';
import { LinkShadow, linkLeavesTree, TarReader, unsafeEntryReason } from '../format/tar-reader';
import { backupManifestConsumer, manifestAlgorithms } from '../pitr/backup-manifest';
import { IndexReader } from '../restore/index-reader';

/**
 * What deep verification does with an artifact's plaintext, by role: a Writable that checks it
 * as it streams, and a promise of the outcome.
 */
export interface Consumer {
  sink: Writable;
  outcome: () => Promise<{ verdict: 'ok' | 'unreadable-dump' | 'unsafe-path' | 'corrupted' | 'not-checked'; detail: string | null; index?: FileEntry[] }>;
}

function nullSink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/**
 * `pg_restore --list` reading the dump's table of contents from stdin. The child never outlives
 * the check: its stdin is closed on every path (the end of the stream, a decoding error that
 * destroys the sink, a cancel), and a sink destroyed before the end also kills it, since a
 * verdict has already been reached without it.
 */
function pgRestoreList(pgRestore: string): Consumer {
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
      if (code !== 0 || toc === 0) {
        const needs = newerArchiveNeeded(stderr);
        if (needs) return { verdict: 'not-checked', detail: needs };
        return { verdict: 'unreadable-dump', detail: `pg_restore --list failed: ${redactText(stderr.trim().split('\n').slice(-2).join(' ')) || `exit ${code}`}` };
      }
      return { verdict: 'ok', detail: `pg_restore --list read ${toc} table-of-contents entries` };
    },
  };
}

/** A dump whose verdict cannot be reached here: drained, and reported as not checked (never as a fault of the dump). */
function notChecked(detail: string): Consumer {
  return { sink: nullSink(), outcome: () => Promise.resolve({ verdict: 'not-checked', detail }) };
}

/**
 * Walk every tar header: a name that could not be extracted safely (absolute, `..`, NUL, a hard
 * link to such a name) is unsafe; symbolic links pointing outside the tree are data (restored as
 * links, never written through) and only counted; FIFOs and device nodes are counted the way a
 * restore reports them (devices are made only by a restore running as root).
 */
function tarWalk(): Consumer {
  const unsafe: string[] = [];
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
      if (e.kind === 'file') {
        files++;
        bytes += e.size;
      } else if (e.kind === 'symlink' && linkLeavesTree(e.name, e.linkname)) outside++;
      else if (e.kind === 'char' || e.kind === 'block') devices++;
      else if (e.kind === 'fifo') fifos++;
    },
  });
  let failure: Error | null = null;
  reader.on('error', (e) => (failure = e));
  const finished = new Promise<void>((resolve) => {
    reader.once('finish', () => resolve());
    reader.once('error', () => resolve());
  });
  return {
    sink: reader,
    outcome: async () => {
      await finished;
      if (failure) return { verdict: 'corrupted', detail: (failure).message };
      if (unsafe.length) return { verdict: 'unsafe-path', detail: unsafe.slice(0, 3).join('; ') };
      return { verdict: 'ok', detail: [`${reader.entries} tar entries walked (${files} files, ${bytes} bytes)`, ...notes(outside, devices, fifos)].join('; ') };
    },
  };
}

/** Information a restore will repeat: links leaving the tree, FIFOs and device nodes. */
function notes(outside: number, devices: number, fifos: number): string[] {
  const out: string[] = [];
  if (outside) out.push(`${outside} link${outside === 1 ? '' : 's'} point${outside === 1 ? 's' : ''} outside the tree`);
  if (devices) out.push(`${devices} device node${devices === 1 ? '' : 's'} (restored only by a restore running as root)`);
  if (fifos) out.push(`${fifos} FIFO${fifos === 1 ? '' : 's'}`);
  return out;
}

/** Entries kept for the catalog's `find` at most: past this the index is checked but not recorded. */
export const CATALOG_INDEX_LIMIT = 200_000;

/**
 * The file index read line by line (bounded memory at any size, a per-line limit): every line
 * checked as a restore checks it, unsafe names are `unsafe-path`, links out of the tree counted.
 */
function indexParse(): Consumer {
  let outside = 0;
  let devices = 0;
  let fifos = 0;
  let kept: FileEntry[] | null = [];
  let entries = 0;
  const shadow = new LinkShadow();
  const under: string[] = [];
  const reader = new IndexReader((e) => {
    entries++;
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
      kept?.push({ path: e.display, type, size: e.size, mtime_ms: e.mtimeMs, mode: e.mode, sha256: e.sha256, target: e.target?.toString('utf8') ?? null, in: e.in });
    }
  });
  let failure: Error | null = null;
  reader.on('error', (e) => (failure = e));
  const finished = new Promise<void>((resolve) => {
    reader.once('finish', () => resolve());
    reader.once('error', () => resolve());
  });
  return {
    sink: reader,
    outcome: async () => {
      await finished;
      if (failure) return { verdict: failure instanceof LifeboatError && failure.code === 'UNSAFE_PATH' ? 'unsafe-path' : 'corrupted', detail: failure.message };
      if (under.length) return { verdict: 'unsafe-path', detail: under.join('; ') };
      const detail = [`${entries} entries in the file index`, ...notes(outside, devices, fifos), ...(kept ? [] : [`too many for the catalog's find (over ${CATALOG_INDEX_LIMIT})`])].join('; ');
      return { verdict: 'ok', detail, ...(kept ? { index: kept } : {}) };
    },
  };
}

/** gzip then, for tarballs, a tar walk (seed-script sets). */
function gunzipThen(next: Consumer | null): Consumer {
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
      if (failure) return { verdict: 'corrupted', detail: `gzip: ${(failure).message}` };
      return next ? next.outcome() : { verdict: 'ok', detail: 'gzip stream is complete' };
    },
  };
}

/**
 * `pgRestore`: the pg_restore that can read this set's dump (pgRestoreForDump), or what it would
 * need when none installed can, or null when none is installed at all.
 */
export function consumerFor(role: string, pgRestore: string | { needs: string } | null, source?: Record<string, unknown>): Consumer | null {
  switch (role) {
    case 'pg-dump':
      if (pgRestore && typeof pgRestore === 'object') return notChecked(pgRestore.needs);
      if (!pgRestore) throw new LifeboatError('TOOL_MISSING', 'pg_restore is needed to check dumps at deep level and was not found.', { hint: 'Install the PostgreSQL client tools or set the tools directory.' });
      return pgRestoreList(pgRestore);
    case 'pg-dump-dir':
    case 'files-tar':
      return tarWalk();
    case 'file-index':
      return indexParse();
    case 'sql-dump-gz':
      return gunzipThen(null);
    case 'files-tar-gz':
    case 'config-tar-gz':
      return gunzipThen(tarWalk());
    case 'base-tar':
      // pg-base: every file against PostgreSQL's own backup_manifest inside the tar (pitr/backup-manifest.ts).
      return backupManifestConsumer(manifestAlgorithms(source));
    default:
      return null;
  }
}
