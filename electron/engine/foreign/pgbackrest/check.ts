import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactResult, Verdict } from '../../../../shared/domain/verify';
import { LifeboatError, mapError } from '../../errors';
import type { Medium } from '../../storage/medium';
import { blockIncrContent, type BlockIncrSource } from './block-incr';
import { openRange, plainStages, type Encoding } from './decode';
import {
  locate,
  storedRaw,
  readBackupInfo,
  readBackupManifest,
  type BackupInfo,
  type BackupManifest,
  type ManifestFile,
} from './repo';

/**
 * Verification of one pgBackRest backup without pgbackrest: every file the backup needs, its own and
 * those it references in prior backups, read from the repository.
 *
 * - integrity: backup.info and the manifests match their own checksums; every repository file is
 *   present, and its stored bytes have the manifest's repo-size and SHA-1 (`rck`). Where a manifest has
 *   no `rck` (older pgBackRest), the file is decoded instead, as at deep level.
 * - deep: as integrity, and every file is decrypted and decompressed: its content has the manifest's
 *   size and SHA-1 (`checksum`), what `pgbackrest verify` and a restore check.
 * Block-incremental files (`bi` in the manifest) have their stored bytes checked; their content is not
 * decoded here: deep says `not-checked` for them, by name, never `ok`.
 */

export interface CheckOptions {
  deep: boolean;
  /** False at the inventory level: presence and sizes only, nothing read. */
  read?: boolean;
  /** The repository passphrase (encrypted repositories). */
  passphrase: string | null;
  signal: AbortSignal;
  onBytes: (delta: number) => void;
  /** Runs one repository file's read (the verifier's shared semaphore). */
  run: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface BackupCheck {
  /** Problems of the whole backup (info, manifest): no file result can be believed past them. */
  problems: Array<{ verdict: Verdict; detail: string }>;
  /** One per repository file (a pg file, or a bundle holding many), paths relative to the medium root. */
  artifacts: ArtifactResult[];
  bytes: number;
  notes: string[];
}

interface Item {
  file: ManifestFile;
  enc: Encoding;
  offset: number;
  length: number | null;
  /** Block-incremental files: where their blocks are found (their content is assembled from the block map). */
  block: Omit<BlockIncrSource, 'medium'> | null;
}

interface Group {
  path: string;
  bundled: boolean;
  items: Item[];
}

const RANK: Verdict[] = ['missing', 'size-mismatch', 'corrupted', 'undecryptable', 'not-checked', 'ok'];

function worstOf(vs: Verdict[]): Verdict {
  for (const v of RANK) if (vs.includes(v)) return v;
  return 'ok';
}

/** The files of `label` grouped by the repository file that holds them, with how each is encoded. */
export function planBackup(
  root: string,
  info: BackupInfo,
  label: string,
  manifests: Map<string, BackupManifest>,
): Group[] {
  const manifest = manifests.get(label)!;
  const groups = new Map<string, Group>();
  for (const f of manifest.files) {
    const storedBy = manifests.get(f.reference ?? label);
    if (!storedBy)
      throw new LifeboatError(
        'FORMAT_INVALID',
        `${f.name} refers to backup ${f.reference}, whose manifest is not readable.`,
      );
    const loc = locate(root, info.stanza, label, f, storedBy);
    if (!loc) continue;
    const enc: Encoding = {
      compressType: storedBy.compressType,
      raw: storedRaw(f, storedBy),
      cipherPass: info.encrypted ? storedBy.cipherPass : null,
    };
    if (info.encrypted && enc.cipherPass === null)
      throw new LifeboatError(
        'FORMAT_INVALID',
        `the manifest of ${storedBy.label} has no cipher-pass in an encrypted repository.`,
      );
    const g = groups.get(loc.path) ?? { path: loc.path, bundled: loc.bundled, items: [] };
    const block =
      f.blockIncrMapSize > 0
        ? {
            root,
            stanza: info.stanza,
            manifest,
            storedBy,
            cipherPass: enc.cipherPass,
            path: loc.path,
            offset: loc.offset,
          }
        : null;
    g.items.push({ file: f, enc, offset: loc.offset, length: loc.length, block });
    groups.set(loc.path, g);
  }
  for (const g of groups.values()) g.items.sort((a, b) => a.offset - b.offset);
  return [...groups.values()];
}

/** Every manifest the backup needs: its own and those of the backups it references. */
export async function loadManifests(
  medium: Medium,
  root: string,
  info: BackupInfo,
  label: string,
): Promise<Map<string, BackupManifest>> {
  const manifests = new Map<string, BackupManifest>();
  const own = await readBackupManifest(medium, root, info, label);
  manifests.set(label, own);
  const refs = new Set<string>();
  for (const f of own.files) if (f.reference && f.reference !== label) refs.add(f.reference);
  for (const r of refs) manifests.set(r, await readBackupManifest(medium, root, info, r));
  return manifests;
}

/** One file's bytes as they stream by: SHA-1 of the stored bytes, and at deep level the decoded content's SHA-1 and size. */
class Segment {
  private readonly stored: Hash = createHash('sha1');
  storedBytes = 0;
  private readonly plain: Hash = createHash('sha1');
  plainBytes = 0;
  private input: PassThrough | null = null;
  private done: Promise<void> = Promise.resolve();
  error: LifeboatError | null = null;

  constructor(
    readonly item: Item,
    readonly decode: boolean,
    what: string,
  ) {
    if (!decode) return;
    const input = new PassThrough();
    const limit = item.file.size;
    const sink = new Writable({
      write: (c: Buffer, _e, cb): void => {
        this.plainBytes += c.length;
        if (this.plainBytes > limit)
          return cb(
            new LifeboatError('FORMAT_INVALID', `decodes to more than the ${limit} bytes the manifest records`),
          );
        this.plain.update(c);
        cb();
      },
    });
    this.input = input;
    this.done = pipeline([input, ...plainStages(item.enc, what, limit), sink]).catch((e: unknown) => {
      this.error = mapError(e);
    });
  }

  async write(b: Buffer): Promise<void> {
    this.stored.update(b);
    this.storedBytes += b.length;
    const input = this.input;
    if (input && !this.error && !input.destroyed && !input.write(b)) {
      await Promise.race([once(input, 'drain').catch(() => undefined), this.done]);
    }
  }

  async end(): Promise<{ verdict: Verdict; detail: string | null }> {
    this.input?.end();
    await this.done;
    const f = this.item.file;
    if (this.item.length !== null && this.storedBytes !== this.item.length) {
      return {
        verdict: 'size-mismatch',
        detail: `${f.name}: ${this.storedBytes} stored bytes, the manifest says ${this.item.length}`,
      };
    }
    const rck = this.stored.digest('hex');
    if (f.repoChecksum !== null && rck !== f.repoChecksum) {
      return {
        verdict: 'corrupted',
        detail: `${f.name}: stored bytes have SHA-1 ${rck.slice(0, 12)}…, the manifest says ${f.repoChecksum.slice(0, 12)}…`,
      };
    }
    if (!this.decode) return { verdict: 'ok', detail: null };
    if (this.error) {
      const undecryptable = this.error.code === 'DECRYPTION_FAILED';
      return { verdict: undecryptable ? 'undecryptable' : 'corrupted', detail: `${f.name}: ${this.error.message}` };
    }
    const sha = this.plain.digest('hex');
    if (this.plainBytes !== f.size)
      return {
        verdict: 'size-mismatch',
        detail: `${f.name}: decodes to ${this.plainBytes} bytes, the manifest says ${f.size}`,
      };
    if (sha !== f.checksum)
      return {
        verdict: 'corrupted',
        detail: `${f.name}: content SHA-1 ${sha.slice(0, 12)}…, the manifest says ${f.checksum.slice(0, 12)}…`,
      };
    return { verdict: 'ok', detail: null };
  }
}

/** A block-incremental file's content: size and SHA-1 against the manifest. */
async function checkBlockIncr(
  medium: Medium,
  item: Item,
  o: CheckOptions,
): Promise<{ verdict: Verdict; detail: string | null }> {
  const f = item.file;
  const hash = createHash('sha1');
  let bytes = 0;
  try {
    await blockIncrContent({ medium, ...item.block! }, f, (b) => {
      if (o.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
      bytes += b.length;
      if (bytes > f.size)
        throw new LifeboatError('FORMAT_INVALID', `decodes to more than the ${f.size} bytes the manifest records`);
      hash.update(b);
    });
  } catch (e) {
    const err = mapError(e);
    if (err.code === 'CANCELLED' || err.code === 'STORAGE_UNREACHABLE') throw err;
    return {
      verdict: err.code === 'DECRYPTION_FAILED' ? 'undecryptable' : 'corrupted',
      detail: `${f.name}: ${err.message}`,
    };
  }
  const sha = hash.digest('hex');
  if (bytes !== f.size)
    return { verdict: 'size-mismatch', detail: `${f.name}: decodes to ${bytes} bytes, the manifest says ${f.size}` };
  if (sha !== f.checksum)
    return {
      verdict: 'corrupted',
      detail: `${f.name}: content SHA-1 ${sha.slice(0, 12)}…, the manifest says ${f.checksum.slice(0, 12)}…`,
    };
  return { verdict: 'ok', detail: null };
}

/** Read one repository file once, splitting a bundle into its files as the bytes go by. */
async function checkGroup(medium: Medium, g: Group, o: CheckOptions): Promise<ArtifactResult> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const expected = g.items.reduce((n, i) => Math.max(n, i.offset + (i.length ?? 0)), 0);
  const base = { path: g.path, sha256: null, startedAt };
  const st = await medium.stat(g.path);
  if (!st)
    return {
      ...base,
      bytes: expected,
      verdict: 'missing',
      detail: `not in the repository (holds ${g.items
        .map((i) => i.file.name)
        .join(', ')
        .slice(0, 300)})`,
      durationMs: 0,
    };
  const sole = g.items.length === 1 && !g.bundled ? g.items[0]! : null;
  if (sole && sole.length !== null && st.size !== sole.length) {
    return {
      ...base,
      bytes: st.size,
      verdict: 'size-mismatch',
      detail: `${sole.file.name}: ${st.size} bytes in the repository, the manifest says ${sole.length}`,
      durationMs: 0,
    };
  }
  if (g.bundled && st.size < expected) {
    return {
      ...base,
      bytes: st.size,
      verdict: 'size-mismatch',
      detail: `bundle of ${st.size} bytes, its files need ${expected}`,
      durationMs: 0,
    };
  }
  // The backup's own bytes in this file (a bundle may also hold files other backups need): the sum is pgBackRest's repo size.
  const own = g.items.every((i) => i.length !== null) ? g.items.reduce((n, i) => n + i.length!, 0) : st.size;
  if (o.read === false) return { ...base, bytes: own, verdict: 'ok', detail: null, durationMs: Date.now() - started };
  const outcomes: Array<{ verdict: Verdict; detail: string | null }> = [];
  let stream: Readable;
  try {
    stream = await openRange(medium, g.path, 0, g.bundled ? expected : null);
  } catch (e) {
    return {
      ...base,
      bytes: own,
      verdict: 'corrupted',
      detail: `reading failed: ${mapError(e).message}`,
      durationMs: Date.now() - started,
    };
  }
  let pos = 0;
  let next = 0;
  let current: Segment | null = null;
  const open = (): void => {
    const item = g.items[next]!;
    const blockIncr = item.file.blockIncrMapSize > 0;
    const decode = !blockIncr && (o.deep || item.file.repoChecksum === null);
    current = new Segment(item, decode, `${g.path}:${item.file.name}`);
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (o.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
      o.onBytes(chunk.length);
      let at = 0;
      while (at < chunk.length && next < g.items.length) {
        const item = g.items[next]!;
        if (!current) {
          if (pos < item.offset) {
            const skip = Math.min(item.offset - pos, chunk.length - at);
            at += skip;
            pos += skip;
            continue;
          }
          open();
        }
        const seg: Segment = current!;
        const want =
          item.length === null ? chunk.length - at : Math.min(item.length - seg.storedBytes, chunk.length - at);
        await seg.write(chunk.subarray(at, at + want));
        at += want;
        pos += want;
        if (item.length !== null && seg.storedBytes === item.length) {
          outcomes.push(await seg.end());
          current = null;
          next++;
        }
      }
    }
    if (current) {
      outcomes.push(await (current as Segment).end());
      current = null;
      next++;
    }
    // An item with length 0 in a bundle, or the stream ended early: the rest are checked against nothing read.
    while (next < g.items.length) {
      open();
      outcomes.push(await (current as unknown as Segment).end());
      current = null;
      next++;
    }
  } catch (e) {
    if (o.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
    return {
      ...base,
      bytes: own,
      verdict: 'corrupted',
      detail: `reading failed: ${mapError(e).message}`,
      durationMs: Date.now() - started,
    };
  }
  // Block-incremental files whose stored bytes are sound: their content assembled from the block map, checked like any other.
  let assembled = 0;
  for (let i = 0; i < g.items.length && o.deep; i++) {
    const item = g.items[i]!;
    if (!item.block || outcomes[i]?.verdict !== 'ok') continue;
    outcomes[i] = await checkBlockIncr(medium, item, o);
    assembled++;
  }
  const failures = outcomes.filter((x) => x.verdict !== 'ok');
  const verdict = worstOf(failures.map((x) => x.verdict));
  let detail: string | null = failures.length
    ? failures
        .map((x) => x.detail)
        .slice(0, 5)
        .join('; ') + (failures.length > 5 ? `; and ${failures.length - 5} more` : '')
    : null;
  const blockNote = assembled ? ` (${assembled} block-incremental, assembled from their block maps)` : '';
  if (verdict === 'ok' && g.bundled) detail = `bundle: ${g.items.length} files checked${blockNote}`;
  else if (verdict === 'ok' && assembled) detail = `block-incremental: content assembled from its block map`;
  return { ...base, bytes: own, verdict, detail, durationMs: Date.now() - started };
}

/** Check one backup of a stanza (see the header comment for what each level proves). */
export async function checkBackup(
  medium: Medium,
  root: string,
  stanza: string,
  label: string,
  o: CheckOptions,
): Promise<BackupCheck> {
  const out: BackupCheck = { problems: [], artifacts: [], bytes: 0, notes: [] };
  let info: BackupInfo;
  let manifests: Map<string, BackupManifest>;
  let groups: Group[];
  try {
    info = await readBackupInfo(medium, root, stanza, o.passphrase);
    if (!info.backups.some((b) => b.label === label))
      throw new LifeboatError('NOT_FOUND', `backup ${label} is not in ${info.path} any more`);
    manifests = await loadManifests(medium, root, info, label);
    groups = planBackup(root, info, label, manifests);
  } catch (e) {
    const err = mapError(e);
    if (err.code === 'CANCELLED' || err.code === 'STORAGE_UNREACHABLE') throw err;
    const verdict: Verdict =
      err.code === 'CREDENTIAL_UNAVAILABLE'
        ? 'not-checked'
        : err.code === 'DECRYPTION_FAILED'
          ? 'undecryptable'
          : err.code === 'NOT_FOUND'
            ? 'missing'
            : 'corrupted';
    out.problems.push({ verdict, detail: err.message });
    return out;
  }
  out.notes.push(...info.notes, ...[...manifests.values()].flatMap((m) => m.notes));
  out.artifacts = await Promise.all(groups.map((g) => o.run(() => checkGroup(medium, g, o))));
  out.bytes = out.artifacts.reduce((n, a) => n + a.bytes, 0);
  return out;
}
