import { closeSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { AgeRecipient } from '../crypto/age';
import { LifeboatError, toWireError } from '../errors';
import { writeFileAtomicSync } from '../fs/atomic-write';
import type { Medium } from '../storage/medium';
import type { SigningKey } from '../crypto/signing';
import { pushWal, type PushResult } from './wal-archive';
import { WalEncodePool } from './wal-encode-pool';
import { walKind } from '../format/wal-names';

/**
 * Asynchronous WAL archiving, as pgBackRest's archive-async does: PostgreSQL runs
 * archive_command once per segment and waits for each, so one process start per segment caps
 * the rate. A long-lived archiver instead watches `pg_wal/archive_status/*.ready` (PostgreSQL's
 * own list of complete segments waiting for the archive), pushes them ahead — several at once —
 * and leaves a marker per pushed file in its spool. The archive_command then only has to find
 * its marker, which costs a stat (and in `bin/lifeboat-wal-push`, no Node start at all).
 *
 * A marker holds `<device>:<inode>:<size>:<mtime seconds>` of the WAL file as it was pushed —
 * the format of `stat -c %d:%i:%s:%Y` — so a marker left from another cluster, or from a
 * recycled segment, never acknowledges a file it did not archive: the archive_command then
 * falls back to a real push. The archive itself is written exactly as `wal-push` writes it.
 */
export interface SpoolPaths {
  root: string;
  done: string;
  error: string;
  pid: string;
  config: string;
  log: string;
}

export function spoolPaths(root: string): SpoolPaths {
  return {
    root,
    done: join(root, 'done'),
    error: join(root, 'error'),
    pid: join(root, 'archiver.pid'),
    config: join(root, 'archiver.json'),
    log: join(root, 'archiver.log'),
  };
}

/** `<device>:<inode>:<size>:<mtime seconds>` of a file, exactly as `stat -c %d:%i:%s:%Y` prints it. */
export function fileStamp(path: string): string {
  const s = statSync(path, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs / 1_000_000_000n}`;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Write a small file whole (fs/atomic-write.ts) so a reader never sees half a marker. */
function writeSmall(path: string, text: string): void {
  writeFileAtomicSync(path, text);
}

/** The archive_command's side: true when the archiver pushed exactly this file (the marker is consumed). */
export function consumeDone(spool: SpoolPaths, walPath: string): boolean {
  const marker = join(spool.done, basename(walPath));
  const stamp = readText(marker);
  if (stamp === null) return false;
  let current: string;
  try {
    current = fileStamp(walPath);
  } catch {
    return false;
  }
  removeQuietly(marker);
  return stamp.trim() === current;
}

/** The archiver's failure for this file, consumed (PostgreSQL retries; the archiver then tries again). */
export function consumeError(spool: SpoolPaths, name: string): string | null {
  const marker = join(spool.error, name);
  const text = readText(marker);
  if (text !== null) removeQuietly(marker);
  return text;
}

export interface ArchiverConfig {
  system: string;
  /** The medium as given on the command line (folder or s3:// URL). */
  to: string;
  /** Recipients as given (age1… or files): public, never secret. */
  recipients: string[];
  /** The folder PostgreSQL's WAL lives in (its archive_status is watched). */
  pgWal: string;
  /** The signing key's file (a path, never the key): an archiver signing with another key, or none, is another configuration. */
  signKey?: string;
}

function sameConfig(a: ArchiverConfig, b: ArchiverConfig): boolean {
  return (
    a.system === b.system &&
    a.to === b.to &&
    a.pgWal === b.pgWal &&
    a.recipients.join('\n') === b.recipients.join('\n') &&
    (a.signKey ?? '') === (b.signKey ?? '')
  );
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a running archiver on this spool, or null. */
export function archiverPid(spool: SpoolPaths): number | null {
  const pid = Number(readText(spool.pid));
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : null;
}

/**
 * Make sure an archiver serves this spool with this configuration: none running → write the
 * configuration and start one (with `start`); one running with another configuration → refuse,
 * since its markers would acknowledge segments pushed somewhere else.
 */
export function ensureArchiver(spool: SpoolPaths, config: ArchiverConfig, start: () => void): void {
  mkdirSync(spool.done, { recursive: true, mode: 0o700 });
  mkdirSync(spool.error, { recursive: true, mode: 0o700 });
  const running = archiverPid(spool);
  if (running !== null) {
    const text = readText(spool.config);
    const current = text ? (JSON.parse(text) as ArchiverConfig) : null;
    if (current && sameConfig(current, config)) return;
    throw new LifeboatError(
      'PRECONDITION_FAILED',
      `The WAL spool ${spool.root} is used by an archiver (pid ${running}) for another configuration (${current ? `${current.system} → ${current.to}` : 'unknown'}).`,
      {
        hint: 'Give each archive_command its own --spool, or stop that archiver first.',
      },
    );
  }
  // No archiver: markers from an earlier configuration mean nothing now.
  for (const dir of [spool.done, spool.error]) for (const f of readdirSync(dir)) removeQuietly(join(dir, f));
  writeSmall(spool.config, `${JSON.stringify(config, null, 2)}\n`);
  start();
}

/** Take the spool's pid lock; false when another live archiver holds it. */
function lock(spool: SpoolPaths): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(spool.pid, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readText(spool.pid));
      if (pid === process.pid) return true;
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) return false;
      removeQuietly(spool.pid);
    }
  }
  return false;
}

export interface ArchiverOptions {
  spool: SpoolPaths;
  pgWal: string;
  medium: Medium;
  system: string;
  recipients: AgeRecipient[];
  /** Each archived file is signed with this key (its sidecar written before the file). */
  signKey?: SigningKey | null;
  /** Pushes at once (default 2). */
  jobs?: number;
  /** Exit after this long with nothing to push (default 60 s). */
  idleMs?: number;
  /** How often archive_status is looked at (default 50 ms). */
  pollMs?: number;
  log?: (line: string) => void;
  /** Stop early (tests). */
  signal?: AbortSignal;
}

export interface ArchiverSummary {
  pushed: number;
  already: number;
  failed: number;
  exitedBecause: 'idle' | 'locked' | 'aborted';
}

const READY = '.ready';

/** Files PostgreSQL has finished and wants archived, oldest first (history files before the segments of their timeline). */
export function readyFiles(pgWal: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(pgWal, 'archive_status'));
  } catch (e) {
    throw new LifeboatError('NOT_FOUND', `${join(pgWal, 'archive_status')} cannot be read (${(e as Error).message}).`, {
      hint: "The archiver watches PostgreSQL's pg_wal folder: pass the WAL file path PostgreSQL gives (%p).",
    });
  }
  return names
    .filter((n) => n.endsWith(READY))
    .map((n) => n.slice(0, -READY.length))
    .filter((n) => walKind(n) !== null)
    .sort();
}

/**
 * The archiver loop: push every `.ready` file that has no marker yet, `jobs` at a time, then
 * leave a marker (done, or error with the reason). Markers whose `.ready` is gone (PostgreSQL
 * archived the file) are removed. Exits after `idleMs` without work, releasing the lock.
 */
export async function runArchiver(o: ArchiverOptions): Promise<ArchiverSummary> {
  const jobs = Math.max(1, o.jobs ?? 2);
  const idleMs = o.idleMs ?? 60_000;
  const pollMs = o.pollMs ?? 50;
  const log = o.log ?? (() => undefined);
  mkdirSync(o.spool.done, { recursive: true, mode: 0o700 });
  mkdirSync(o.spool.error, { recursive: true, mode: 0o700 });
  if (!lock(o.spool)) return { pushed: 0, already: 0, failed: 0, exitedBecause: 'locked' };
  const summary: ArchiverSummary = { pushed: 0, already: 0, failed: 0, exitedBecause: 'idle' };
  const inFlight = new Map<string, Promise<void>>();
  const pool = new WalEncodePool(jobs);
  let lastWork = Date.now();

  const pushOne = async (name: string): Promise<void> => {
    const path = join(o.pgWal, name);
    try {
      const before = fileStamp(path);
      const r: PushResult = await pushWal(o.medium, o.system, path, o.recipients, pool.encode, o.signKey ?? null);
      // The file must be the one that was read: PostgreSQL never rewrites a .ready file, but say so if it happened.
      if (fileStamp(path) !== before)
        throw new LifeboatError('PRECONDITION_FAILED', `${name} changed while it was archived.`);
      writeSmall(join(o.spool.done, name), `${before}\n`);
      if (r.already) summary.already++;
      else summary.pushed++;
      log(`${new Date().toISOString()} pushed ${name}${r.already ? ' (already archived)' : ''} ${r.storedBytes} bytes`);
    } catch (e) {
      summary.failed++;
      const err = toWireError(e);
      writeSmall(join(o.spool.error, name), `${err.message}${err.hint ? `\n${err.hint}` : ''}\n`);
      log(`${new Date().toISOString()} FAILED ${name}: ${err.message}`);
    } finally {
      inFlight.delete(name);
      lastWork = Date.now();
    }
  };

  try {
    for (;;) {
      if (o.signal?.aborted) {
        summary.exitedBecause = 'aborted';
        break;
      }
      const ready = readyFiles(o.pgWal);
      const readySet = new Set(ready);
      const done = new Set(readdirSync(o.spool.done));
      const failed = new Set(readdirSync(o.spool.error));
      // PostgreSQL has archived these (the .ready became .done): their markers are stale.
      for (const n of done) if (!readySet.has(n) && !n.includes('.tmp-')) removeQuietly(join(o.spool.done, n));
      for (const n of failed) if (!readySet.has(n) && !n.includes('.tmp-')) removeQuietly(join(o.spool.error, n));
      for (const name of ready) {
        if (inFlight.size >= jobs) break;
        if (done.has(name) || failed.has(name) || inFlight.has(name)) continue;
        inFlight.set(name, pushOne(name));
      }
      if (inFlight.size >= jobs) {
        await Promise.race(inFlight.values());
        continue;
      }
      if (inFlight.size === 0 && Date.now() - lastWork > idleMs) break;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    await Promise.all(inFlight.values());
  } finally {
    if (Number(readText(o.spool.pid)) === process.pid) removeQuietly(o.spool.pid);
    await pool.close();
  }
  return summary;
}
