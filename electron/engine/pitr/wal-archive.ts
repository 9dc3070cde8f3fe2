import { createHash } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Compressor } from 'zstd-napi';
import { AgeEncryptStream, type AgeIdentity, type AgeRecipient } from '../crypto/age';
import { LifeboatError, mapError } from '../errors';
import { readDecoded } from '../pipeline/artifact-pipeline';
import type { Medium } from '../storage/medium';
import { timelineOf, walKind, type WalFileKind } from './wal-names';

/**
 * The WAL archive on a medium: `wal/<system>/<timeline>/<file name>.<sha256 of the plaintext>.zst[.age]`.
 * The plaintext hash in the name makes a listing enough to check contiguity and to answer a
 * retried push, and lets `wal-fetch` prove a segment before PostgreSQL sees it. Each file is
 * written whole under a temporary name and renamed (or PUT at once on S3): never half there.
 */
export interface ArchivedWal {
  name: string;
  kind: WalFileKind;
  timeline: number;
  sha256: string;
  encodings: Array<'zstd' | 'age'>;
  /** Relative to the medium root. */
  path: string;
  bytes: number;
  mtimeMs: number;
}

const STORED = /^(.+)\.([0-9a-f]{64})\.zst(\.age)?$/;

export function walDir(system: string, timeline: number): string {
  return `wal/${system}/${timeline.toString(16).toUpperCase().padStart(8, '0')}`;
}

/** An archive file's facts from its path alone (name, kind, timeline, hash, encodings); null for anything else. */
export function parseStored(path: string, bytes: number, mtimeMs: number): ArchivedWal | null {
  const m = STORED.exec(basename(path));
  if (!m) return null;
  const kind = walKind(m[1]!);
  if (!kind) return null;
  return { name: m[1]!, kind, timeline: timelineOf(m[1]!), sha256: m[2]!, encodings: m[3] ? ['zstd', 'age'] : ['zstd'], path, bytes, mtimeMs };
}

/** Every archived WAL file of a system, sorted by name (timeline, then position). */
export async function listArchive(medium: Medium, system: string): Promise<ArchivedWal[]> {
  const files = await medium.listFiles(`wal/${system}`, { limit: 10_000_000, maxDepth: 2 });
  return files
    .map((f) => parseStored(f.path, f.size, f.mtimeMs))
    .filter((x): x is ArchivedWal => x !== null)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Encrypt a small buffer to the recipients, whole (age streams in 64 KiB chunks). */
async function sealAll(bytes: Buffer, recipients: AgeRecipient[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  await pipeline(Readable.from([bytes]), new AgeEncryptStream(recipients), sink);
  return Buffer.concat(chunks);
}

export interface PushResult {
  name: string;
  path: string;
  sha256: string;
  plainBytes: number;
  storedBytes: number;
  /** True when the same content was already archived (a retry by PostgreSQL). */
  already: boolean;
}

/** A WAL file read, hashed and zstd-compressed (one frame with its checksum). */
export interface EncodedWal {
  sha256: string;
  plainBytes: number;
  compressed: Buffer;
}

/** Read, hash and compress a WAL file here, on this thread (a WAL file is at most a segment). */
export async function encodeWalFile(file: string): Promise<EncodedWal> {
  let plain: Buffer;
  try {
    plain = await readFile(file);
  } catch (e) {
    throw mapError(e);
  }
  const compressor = new Compressor();
  compressor.setParameters({ compressionLevel: 3, checksumFlag: true });
  return { sha256: createHash('sha256').update(plain).digest('hex'), plainBytes: plain.length, compressed: compressor.compress(plain) };
}

/**
 * Archive one WAL file (PostgreSQL's archive_command). The same content under the same name
 * succeeds (PostgreSQL retries after a crash); a different content is refused, so PostgreSQL
 * keeps the file and an operator looks — two clusters writing to one archive must never mix.
 * `encode` may run elsewhere (the background archiver hashes and compresses in worker threads).
 */
export async function pushWal(medium: Medium, system: string, file: string, recipients: AgeRecipient[], encode: (file: string) => Promise<EncodedWal> = encodeWalFile): Promise<PushResult> {
  const name = basename(file);
  const kind = walKind(name);
  if (!kind) throw new LifeboatError('BAD_INPUT', `${name} is not a WAL file name (segment, .history, .backup or .partial).`);
  const { sha256, plainBytes, compressed } = await encode(file);
  const dir = walDir(system, timelineOf(name));
  // Only this name is looked at: a push costs the same with ten segments archived or a million.
  const existing = (await medium.listNamed(dir, `${name}.`)).map((f) => parseStored(f.path, f.size, f.mtimeMs)).filter((x) => x?.name === name);
  if (existing.length > 0) {
    const same = existing.find((x) => x!.sha256 === sha256);
    if (same) return { name, path: same.path, sha256, plainBytes, storedBytes: same.bytes, already: true };
    throw new LifeboatError('ALREADY_EXISTS', `${name} is already archived for ${system} with different content (${existing[0]!.sha256.slice(0, 12)}… ≠ ${sha256.slice(0, 12)}…). Refusing to overwrite it.`, {
      hint: 'Two clusters may be archiving to the same system name, or the archive was restored from elsewhere. Check before going on: PostgreSQL keeps the file and will retry.',
    });
  }
  const stored = recipients.length ? await sealAll(compressed, recipients) : compressed;
  const path = `${dir}/${name}.${sha256}.zst${recipients.length ? '.age' : ''}`;
  await medium.putFile(path, stored);
  return { name, path, sha256, plainBytes, storedBytes: stored.length, already: false };
}

/** Decode an archived file and check its plaintext hash; never returns unproven bytes. */
export async function readArchived(medium: Medium, w: ArchivedWal, identities: AgeIdentity[]): Promise<Buffer> {
  const plain = await readDecoded(await medium.openRead(w.path), w.encodings, identities);
  const got = createHash('sha256').update(plain).digest('hex');
  if (got !== w.sha256) throw new LifeboatError('CHECKSUM_MISMATCH', `The archived ${w.name} is corrupted: its content does not match its hash. It was not handed to PostgreSQL.`, { hint: 'Restore to a time before this segment, or use another copy of the archive.' });
  return plain;
}

/** Write bytes to a path atomically (temp + fsync + rename), as PostgreSQL expects of restore_command. */
export async function writeAtomic(dest: string, bytes: Buffer): Promise<void> {
  const tmp = join(dirname(dest), `.${basename(dest)}.lifeboat-${process.pid}`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, dest);
}

/**
 * Fetch one WAL file (PostgreSQL's restore_command). Null when the archive does not hold it —
 * PostgreSQL asks for files past the end of the archive at the end of every recovery.
 */
export async function fetchWal(medium: Medium, system: string, name: string, dest: string, identities: AgeIdentity[]): Promise<ArchivedWal | null> {
  if (!walKind(name)) throw new LifeboatError('BAD_INPUT', `${name} is not a WAL file name.`);
  const dir = walDir(system, timelineOf(name));
  const found = (await medium.listNamed(dir, `${name}.`)).map((f) => parseStored(f.path, f.size, f.mtimeMs)).find((x) => x?.name === name);
  if (!found) return null;
  await writeAtomic(dest, await readArchived(medium, found, identities));
  return found;
}

