import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Compressor } from 'zstd-napi';
import * as binding from 'zstd-napi/binding';
import { AgeEncryptStream, type AgeIdentity, type AgeRecipient } from '../crypto/age';
import type { SigningKey } from '../crypto/signing';
import { LifeboatError, mapError } from '../errors';
import { writeFileAtomic } from '../fs/atomic-write';
import { decodeStages } from '../pipeline/artifact-pipeline';
import { HashTap } from '../pipeline/hash-tap';
import type { Medium } from '../storage/medium';
import { timelineOf, walKind } from '../format/wal-names';
import {
  acceptable,
  buildWalSidecar,
  checkWalSidecar,
  refusal,
  walSidecarPath,
  type WalSignatureCheck,
  type WalTrust,
} from './wal-signature';

/**
 * The WAL archive on a medium: `wal/<system>/<timeline>/<file name>.<sha256 of the plaintext>.zst[.age]`.
 * The plaintext hash in the name makes a listing enough to check contiguity and to answer a
 * retried push, and lets `wal-fetch` prove a segment before PostgreSQL sees it. Each file is
 * written whole under a temporary name and renamed (or PUT at once on S3): never half there.
 * With `--sign-key`, each file has a signature sidecar `<stored file>.sig` (wal-signature.ts),
 * written before the file itself, so an archived file is never there unsigned.
 */
// The archive's names (format/wal-names.ts beside the other WAL names), re-exported for the archive's users.
export { parseStored, walDir, type ArchivedWal } from '../format/wal-names';
import { parseStored, walDir, type ArchivedWal } from '../format/wal-names';

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
  return {
    sha256: createHash('sha256').update(plain).digest('hex'),
    plainBytes: plain.length,
    compressed: compressor.compress(plain),
  };
}

/** True when the sidecar beside `path` is ours (this key) and signs exactly this file: a retried push has nothing to redo. */
async function signedByUs(
  medium: Medium,
  system: string,
  name: string,
  sha256: string,
  path: string,
  storedBytes: number,
  key: SigningKey,
): Promise<boolean> {
  const ours = [
    {
      keyId: key.keyId,
      label: key.keyId,
      publicKeyPem: key.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      addedAt: '',
    },
  ];
  const check = checkWalSidecar(
    await medium.readOptional(walSidecarPath(path)),
    { system, name, plainSha256: sha256, storedBytes },
    ours,
  );
  if (check.state !== 'signed') return false;
  // The stored bytes must be the ones signed: a same-named file planted beside our sidecar is not ours.
  const stored = await medium.readFile(path);
  return createHash('sha256').update(stored).digest('hex') === check.facts!.stored_sha256;
}

/**
 * Archive one WAL file (PostgreSQL's archive_command). The same content under the same name
 * succeeds (PostgreSQL retries after a crash); a different content is refused, so PostgreSQL
 * keeps the file and an operator looks — two clusters writing to one archive must never mix.
 * `encode` may run elsewhere (the background archiver hashes and compresses in worker threads).
 * With a signing key the sidecar is written first and the file second: a crash between leaves a
 * sidecar without a file (ignored by readers, rewritten by the retry), never a file unsigned.
 * (Re-signing a file already there, the old bytes and the new sidecar meet for a moment: a reader
 * then refuses the file, as it would refuse it unsigned.)
 */
export async function pushWal(
  medium: Medium,
  system: string,
  file: string,
  recipients: AgeRecipient[],
  encode: (file: string) => Promise<EncodedWal> = encodeWalFile,
  signKey: SigningKey | null = null,
): Promise<PushResult> {
  const name = basename(file);
  const kind = walKind(name);
  if (!kind)
    throw new LifeboatError('BAD_INPUT', `${name} is not a WAL file name (segment, .history, .backup or .partial).`);
  const { sha256, plainBytes, compressed } = await encode(file);
  const dir = walDir(system, timelineOf(name));
  // Only this name is looked at: a push costs the same with ten segments archived or a million.
  const existing = (await medium.listNamed(dir, `${name}.`))
    .map((f) => parseStored(f.path, f.size, f.mtimeMs))
    .filter((x) => x?.name === name);
  let replaces: string | null = null;
  if (existing.length > 0) {
    const same = existing.find((x) => x!.sha256 === sha256);
    if (!same) {
      throw new LifeboatError(
        'ALREADY_EXISTS',
        `${name} is already archived for ${system} with different content (${existing[0]!.sha256.slice(0, 12)}… ≠ ${sha256.slice(0, 12)}…). Refusing to overwrite it.`,
        {
          hint: 'Two clusters may be archiving to the same system name, or the archive was restored from elsewhere. Check before going on: PostgreSQL keeps the file and will retry.',
        },
      );
    }
    if (!signKey || (await signedByUs(medium, system, name, sha256, same.path, same.bytes, signKey)))
      return { name, path: same.path, sha256, plainBytes, storedBytes: same.bytes, already: true };
    // Archived but not signed by this key (an interrupted push, or an archive from before signing):
    // our own encoding of the same plaintext replaces it, signed like a new file.
    replaces = same.path;
  }
  const stored = recipients.length ? await sealAll(compressed, recipients) : compressed;
  const path = `${dir}/${name}.${sha256}.zst${recipients.length ? '.age' : ''}`;
  const storedSha256 = createHash('sha256').update(stored).digest('hex');
  const sidecar = signKey
    ? buildWalSidecar(
        {
          system,
          name,
          plain_bytes: plainBytes,
          plain_sha256: sha256,
          stored_bytes: stored.length,
          stored_sha256: storedSha256,
        },
        signKey,
      )
    : null;
  if (sidecar) await medium.putFile(walSidecarPath(path), sidecar);
  await medium.putFile(path, stored);
  // Encoded differently before (without age, or with it): one stored file per name, so the old one goes.
  if (replaces && replaces !== path) {
    await medium.removeFile(replaces);
    await medium.removeFile(walSidecarPath(replaces));
  }
  return { name, path, sha256, plainBytes, storedBytes: stored.length, already: false };
}

/** What every reader of the archive needs: the system (signatures name it), the age identities and the signature policy. */
export interface WalReader {
  system: string;
  identities: AgeIdentity[];
  trust: WalTrust;
}

/** The largest WAL file PostgreSQL makes (wal_segment_size is at most 1 GiB): a decode never grows past it. */
const WAL_FILE_MAX = 2 ** 30;

/** The signature state of an archived file from its sidecar and the listing (no read of the file itself). */
export async function walSignature(
  medium: Medium,
  r: Pick<WalReader, 'system' | 'trust'>,
  w: ArchivedWal,
): Promise<WalSignatureCheck> {
  return checkWalSidecar(
    await medium.readOptional(walSidecarPath(w.path)),
    { system: r.system, name: w.name, plainSha256: w.sha256, storedBytes: w.bytes },
    r.trust.trusted,
  );
}

/** A WAL segment's plaintext size by default (wal_segment_size): one buffer of it serves every decode. */
const SEGMENT_BUFFER = 16 * 2 ** 20;
/** The plaintext buffer between decodes (one: decodes run one after another; a concurrent one takes a buffer of its own). */
let idleBuffer: Buffer | null = null;

/**
 * zstd decoded straight into the reused plaintext buffer (no 128 KiB output blocks, no joined
 * copy), the buffer grown only for a segment larger than it (up to `limit`, plus the byte that
 * proves a file larger than its limit). The same checks as BoundedZstdDecompress.
 */
class SegmentSink extends Writable {
  used = 0;
  private readonly dctx: binding.DCtx | null;
  private inFrame = false;

  constructor(
    public buf: Buffer,
    private readonly limit: number,
    private readonly name: string,
    zstd: boolean,
  ) {
    super();
    this.dctx = zstd ? new binding.DCtx() : null;
  }

  private tooLarge(): LifeboatError {
    return new LifeboatError(
      'CHECKSUM_MISMATCH',
      `The archived ${this.name} is corrupted: it decodes to more than ${this.limit} bytes. It was not handed to PostgreSQL.`,
    );
  }

  /** Room for at least one more byte, growing the buffer (a segment larger than 16 MiB); false past the limit. */
  private room(): boolean {
    if (this.used > this.limit) return false;
    if (this.used < this.buf.length) return true;
    const grown = Buffer.allocUnsafe(Math.min(this.limit + 1, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.used);
    this.buf = grown;
    return true;
  }

  override _write(chunk: Buffer, _e: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (!this.dctx) {
      for (let off = 0; off < chunk.length;) {
        if (!this.room()) return cb(this.tooLarge());
        const n = chunk.copy(this.buf, this.used, off);
        this.used += n;
        off += n;
      }
      return cb(this.used > this.limit ? this.tooLarge() : null);
    }
    let src = chunk;
    for (;;) {
      if (!this.room()) return cb(this.tooLarge());
      const out = this.buf.subarray(this.used, Math.min(this.buf.length, this.limit + 1));
      let ret: number, made: number, consumed: number;
      try {
        [ret, made, consumed] = this.dctx.decompressStream(out, src);
      } catch (e) {
        return cb(
          new LifeboatError(
            'CHECKSUM_MISMATCH',
            `The archived ${this.name} is not valid zstd data: ${e instanceof Error ? e.message : String(e)}`,
          ),
        );
      }
      src = src.subarray(consumed);
      this.used += made;
      if (this.used > this.limit) return cb(this.tooLarge());
      // Done with this chunk once it is consumed and zstd had room to spare (nothing held back).
      if (src.length === 0 && (made < out.length || ret === 0)) {
        this.inFrame = ret !== 0;
        return cb();
      }
    }
  }

  override _final(cb: (e?: Error | null) => void): void {
    cb(
      this.inFrame
        ? new LifeboatError(
            'CHECKSUM_MISMATCH',
            `The archived ${this.name} ends in the middle of a zstd frame (truncated).`,
          )
        : null,
    );
  }
}

/** The SHA-256 and size of a stored file, streamed (the error path: were the stored bytes the signed ones?). */
async function storedDigest(medium: Medium, path: string): Promise<{ sha256: string; bytes: number }> {
  const tap = new HashTap();
  await pipeline(await medium.openRead(path), tap, new Writable({ write: (_c, _e, cb) => cb() }));
  return { sha256: tap.sha256(), bytes: tap.bytes };
}

/**
 * Use an archived file's plaintext, read through the signature policy, then its stored hash and
 * size (when signed), the decryption, the plaintext size and hash; `use` never sees unproven
 * bytes. The stored bytes stream from the medium (hashed on the way) and decode into one reused
 * 16 MiB buffer: `plain` is valid only until `use` settles (copy what outlives it). An unsigned
 * or untrusted file is refused unless the reader accepted them (`allowUnsigned`); a signature that
 * does not match is always refused.
 */
export async function withArchived<T>(
  medium: Medium,
  r: WalReader,
  w: ArchivedWal,
  use: (plain: Buffer, signature: WalSignatureCheck) => T | Promise<T>,
): Promise<T> {
  const signature = await walSignature(medium, r, w);
  if (!acceptable(signature.state, r.trust)) throw refusal(w.name, signature);
  const facts = signature.facts;
  const notSigned = (): LifeboatError =>
    refusal(w.name, {
      ...signature,
      state: 'signature-invalid',
      facts: null,
      reason: 'the stored bytes are not the ones signed',
    });
  const signedMatch = (d: { sha256: string; bytes: number }): boolean =>
    !facts || (d.bytes === facts.stored_bytes && d.sha256 === facts.stored_sha256);
  const zstd = w.encodings[0] === 'zstd';
  const sink = new SegmentSink(
    idleBuffer ?? Buffer.allocUnsafe(SEGMENT_BUFFER),
    facts ? facts.plain_bytes : WAL_FILE_MAX,
    w.name,
    zstd,
  );
  idleBuffer = null;
  const tap = new HashTap();
  try {
    try {
      const stages = decodeStages(zstd ? w.encodings.slice(1) : w.encodings, r.identities);
      await pipeline([await medium.openRead(w.path), tap, ...stages, sink]);
    } catch (e) {
      const err = e instanceof LifeboatError ? e : mapError(e);
      // Decoding failed: when the stored bytes are not the signed ones, that is the verdict (as
      // when the whole file was hashed before decoding); a medium that cannot be read says so.
      const digest = facts ? await storedDigest(medium, w.path).catch(() => null) : null;
      if (digest && !signedMatch(digest)) throw notSigned();
      throw err;
    }
    if (!signedMatch({ sha256: tap.sha256(), bytes: tap.bytes })) throw notSigned();
    const plain = sink.buf.subarray(0, sink.used);
    if (
      createHash('sha256').update(plain).digest('hex') !== w.sha256 ||
      (facts && plain.length !== facts.plain_bytes)
    ) {
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        `The archived ${w.name} is corrupted: its content does not match its hash. It was not handed to PostgreSQL.`,
        { hint: 'Restore to a time before this segment, or use another copy of the archive.' },
      );
    }
    return await use(plain, signature);
  } finally {
    idleBuffer = sink.buf;
  }
}

/**
 * Fetch one WAL file (PostgreSQL's restore_command). Null when the archive does not hold it —
 * PostgreSQL asks for files past the end of the archive at the end of every recovery.
 */
export async function fetchWal(
  medium: Medium,
  r: WalReader,
  name: string,
  dest: string,
): Promise<{ file: ArchivedWal; signature: WalSignatureCheck } | null> {
  if (!walKind(name)) throw new LifeboatError('BAD_INPUT', `${name} is not a WAL file name.`);
  const dir = walDir(r.system, timelineOf(name));
  const found = (await medium.listNamed(dir, `${name}.`))
    .map((f) => parseStored(f.path, f.size, f.mtimeMs))
    .filter((x) => x?.name === name);
  if (found.length === 0) return null;
  // Two stored files for one name is not something a push makes: someone added one.
  if (found.length > 1)
    throw new LifeboatError(
      'FORMAT_INVALID',
      `The archive holds ${found.length} different files named ${name}; it was not handed to PostgreSQL.`,
      { hint: 'Someone added a file to the archive: check the medium (lifeboat verify --wal).' },
    );
  // Atomically (temp + fsync + rename), as PostgreSQL expects of restore_command.
  const signature = await withArchived(medium, r, found[0]!, async (plain, sig) => {
    await writeFileAtomic(dest, plain);
    return sig;
  });
  return { file: found[0]!, signature };
}
