import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactResult, SetResult, Verdict, VerifyLevel } from '../../../shared/domain/verify';
import { VERIFY_LEVELS } from '../../../shared/domain/verify';
import type { FileEntry } from '../format/file-index';
import type { Catalog } from '../catalog/catalog';
import { chainKeys } from '../catalog/queries';
import { ledgerOf, recordVerification, type Ledger } from '../catalog/ledger';
import { fileIndexProbe, setDescription } from '../catalog/lookups';
import { recordFileIndex } from '../catalog/sets';
import type { TrustedKey } from '../catalog/trust';
import type { AgeIdentity } from '../crypto/age';
import { exitCodeFor } from '../../../shared/errors';
import { LifeboatError, mapError, unlessUnreachable } from '../errors';
import { JSON_LIMITS } from '../format/check';
import { resticScope, resticVerdict } from '../foreign/restic';
import {
  evidenceOf,
  factsOfDescription,
  judgeTrust,
  signatureFacts,
  type SignatureFacts,
  type Trust,
} from '../foreign/trust';
import type { ForeignSecrets } from '../foreign/types';
import { parseManifest, sha256sums, type Manifest } from '../format/manifest';
import type { JobContext } from '../jobs/job-manager';
import {
  CheckTap,
  gateStages,
  openVerifiedArtifact,
  untilVerified,
  type ByteFacts,
  type TrustDecision,
} from '../restore/gate';
import type { Settings } from '../settings/settings';
import { pgRestoreForDump, type PgTool } from '../postgres/pg-tools';
import type { ArchiveInfo, Medium } from '../storage/medium';
import { consumerFor, pgDumpToFile, type FileSetDigest } from './consumers';
import { redisAofCheck, redisRdbCheck, redisRestoreTest } from './redis-consumers';
import { isSeedRole, seedConsumerFor } from './seed-consumers';
import { type HashPool } from './hash-pool';
import { pgbackrestResults } from './pgbackrest';
import {
  restoreTest,
  restoreTestPgRestore,
  ScratchUnavailable,
  sqlRestoreTest,
  startScratch,
  type DecodedForRestore,
} from './restore-test';
import pLimit, { type Limit } from 'p-limit';
import { DECODER_OUT_OF_MEMORY } from '../pipeline/threaded-decoder';

export const levelRank = (l: VerifyLevel): number => VERIFY_LEVELS.indexOf(l);

/**
 * When several problems are found, the set's verdict is the first of these: a bad signature first, since nothing in that manifest can be believed.
 * `not-checked` comes after every failure (a failure found is a fact even when another part could not be checked) and before `ok`.
 */
const PRIORITY: Verdict[] = [
  'bad-signature',
  'missing',
  'size-mismatch',
  'corrupted',
  'unsafe-path',
  'untrusted-signer',
  'unsigned',
  'undecryptable',
  'unreadable-dump',
  'restore-failed',
  'not-checked',
];

export function worst(verdicts: Verdict[]): Verdict {
  for (const v of PRIORITY) if (verdicts.includes(v)) return v;
  return 'ok';
}

/** A set to verify on one medium, as the catalog knows it. */
export interface SetTarget {
  key: string;
  system: string;
  setId: string;
  origin: string;
  kind: string;
  mediumId: string;
  medium: Medium;
  setPath: string;
  /** For foreign sets: artifacts from the catalog (their hashes are learned on first verify). */
  foreignArtifacts: Array<{ path: string; role: string; bytes: number; sha256?: string | null }>;
}

export interface VerifyOptions {
  level: VerifyLevel;
  identities: AgeIdentity[];
  trusted: TrustedKey[];
  settings: Settings;
  pgBinDir?: string;
  pgRestore: string | null;
  /** Every pg_restore installed (newest first): each set's dump is read by one at least as new as its pg_dump. */
  pgRestores?: PgTool[];
  /** Passphrases of foreign formats (an encrypted pgBackRest repository, a seed script's `.enc` files); without them their content is not checked. */
  secrets?: ForeignSecrets;
  /** restic sets at deep level: `--read-data-subset` (e.g. "1/10", "5%") instead of reading every pack. */
  resticReadDataSubset?: string | null;
}

/** One `restic check` per repository, level and verification run (every snapshot of a repository shares it). */
const resticChecks = new WeakMap<VerifyOptions, Map<string, ReturnType<typeof resticVerdict>>>();

function resticCheckOf(t: SetTarget, o: VerifyOptions, signal: AbortSignal): ReturnType<typeof resticVerdict> {
  const deep = levelRank(o.level) >= levelRank('deep');
  const repo = t.medium.localPath(t.setPath || '.');
  const key = `${t.medium.location}\0${t.setPath}\0${deep}`;
  let runs = resticChecks.get(o);
  if (!runs) resticChecks.set(o, (runs = new Map<string, ReturnType<typeof resticVerdict>>()));
  let p = runs.get(key);
  if (!p) {
    const password = (): Promise<string | null> =>
      repo && o.secrets ? o.secrets.get('restic-password', resticScope(repo)) : Promise.resolve(null);
    p = resticVerdict(repo, password, deep, o.resticReadDataSubset ?? null, signal);
    runs.set(key, p);
  }
  return p;
}

interface Plan {
  target: SetTarget;
  manifest: Manifest | null;
  setProblems: Array<{ verdict: Verdict; detail: string }>;
  artifacts: Array<{
    path: string;
    role: string;
    bytes: number;
    sha256: string | null;
    plainSha256: string | null;
    plainBytes: number | null;
    encodings: string[];
    recipients: string[];
  }>;
  inventory: Map<string, { verdict: Verdict; detail: string | null }>;
  /** The trust state of a Lifeboat set, judged at the authenticity level (foreign sets: in verifySet). */
  trust?: Trust;
  /** What that judgement rests on: the signature read over the manifest's bytes. */
  signature?: SignatureFacts;
  /** The manifest's bytes as read and judged (the gate's copy of the set names them). */
  manifestBytes?: Buffer;
}

/** The error of a failed read, to become a verdict, unless the medium went out of reach: then the check stops (unlessUnreachable). */
function readFailure(t: SetTarget, what: string, e: unknown): LifeboatError {
  return unlessUnreachable(
    e,
    t.medium.location,
    what,
    `The check of ${t.key} was not completed and nothing was recorded for it.`,
  );
}

/**
 * Why a check could not be made, when the failure is about this machine or the operator's request and not about the set
 * (a tool missing or too old, no usable key, bad usage): the same line the CLI's exit code 2 draws. Null for a failure of the set.
 */
export function environmentReason(e: unknown): string | null {
  const err = mapError(e);
  if (err.code === 'CANCELLED') throw err;
  return exitCodeFor(err.code) === 2 ? err.message : null;
}

/** An archived artifact's state in the operator's words (verify, scan). */
export function archiveText(a: ArchiveInfo): string {
  return a.state === 'restoring'
    ? `archived: a restore was requested and is not done yet (${a.storageClass})`
    : `archived: request a restore first (${a.storageClass}; lifeboat medium restore-request)`;
}

/** Phase 1, cheap: manifest, names, signature, SHA256SUMS, presence and sizes. */
export async function planSet(t: SetTarget, o: VerifyOptions): Promise<Plan> {
  const plan: Plan = { target: t, manifest: null, setProblems: [], artifacts: [], inventory: new Map() };
  if (t.origin === 'lifeboat') {
    let bytes: Buffer | null;
    try {
      // Over the limit: refused unread (bounded memory), as the scan does.
      const st = await t.medium.stat(`${t.setPath}/manifest.json`);
      if (st && st.size > JSON_LIMITS.manifestBytes) {
        plan.setProblems.push({
          verdict: 'corrupted',
          detail: `manifest.json is ${st.size} bytes, over the ${JSON_LIMITS.manifestBytes >> 20} MiB a Lifeboat file may have`,
        });
        return plan;
      }
      bytes = await t.medium.readOptional(`${t.setPath}/manifest.json`);
    } catch (e) {
      plan.setProblems.push({ verdict: 'missing', detail: readFailure(t, 'manifest.json', e).message });
      return plan;
    }
    if (!bytes) {
      plan.setProblems.push({ verdict: 'missing', detail: 'manifest.json is missing' });
      return plan;
    }
    let manifest: Manifest;
    try {
      manifest = parseManifest(bytes);
    } catch (e) {
      const err = mapError(e);
      plan.setProblems.push({ verdict: err.code === 'UNSAFE_PATH' ? 'unsafe-path' : 'corrupted', detail: err.message });
      return plan;
    }
    plan.manifest = manifest;
    plan.manifestBytes = bytes;
    if (`sets/${manifest.system}/${manifest.set_id}` !== t.setPath) {
      plan.setProblems.push({
        verdict: 'corrupted',
        detail: `manifest.json describes ${manifest.system}/${manifest.set_id}, not the set in ${t.setPath}`,
      });
    }
    const sums = await t.medium.readOptional(`${t.setPath}/SHA256SUMS`);
    if (!sums)
      plan.setProblems.push({
        verdict: 'corrupted',
        detail: 'SHA256SUMS is missing (hand checks with sha256sum -c would fail)',
      });
    else if (sums.toString('utf8') !== sha256sums(manifest))
      plan.setProblems.push({ verdict: 'corrupted', detail: 'SHA256SUMS disagrees with the manifest' });
    if (levelRank(o.level) >= levelRank('authenticity')) {
      // The one trust rule (foreign/trust.ts) names the state; its failure, if any, is the set's problem.
      const sig = await t.medium.readOptional(`${t.setPath}/manifest.json.sig`);
      plan.signature = signatureFacts(sig, bytes, o.trusted);
      plan.trust = judgeTrust({ origin: 'lifeboat', signature: plan.signature });
      if (plan.trust.failure) plan.setProblems.push({ verdict: plan.trust.failure, detail: plan.trust.text });
    }
    plan.artifacts = manifest.artifacts.map((a) => ({
      path: `${t.setPath}/${a.path}`,
      role: a.role,
      bytes: a.bytes,
      sha256: a.sha256,
      plainSha256: a.plain_sha256,
      plainBytes: a.plain_bytes,
      encodings: a.encodings,
      recipients: a.recipients,
    }));
  } else {
    // A foreign set carries no Lifeboat signature and is never failed for it: its named trust state
    // (foreign/trust.ts) is given by verifySet, which reads the ledger and knows this run's outcome.
    // A hash the format records itself (a seed script's manifest) is the expected hash.
    plan.artifacts = t.foreignArtifacts.map((a) => ({
      path: a.path,
      role: a.role,
      bytes: a.bytes,
      sha256: a.sha256 ?? null,
      plainSha256: null,
      plainBytes: null,
      encodings: [],
      recipients: [],
    }));
  }
  for (const a of plan.artifacts) {
    let st;
    try {
      st = await t.medium.stat(a.path);
    } catch (e) {
      plan.inventory.set(a.path, { verdict: 'missing', detail: readFailure(t, a.path, e).message });
      continue;
    }
    if (!st) plan.inventory.set(a.path, { verdict: 'missing', detail: 'not on the medium' });
    else if (st.symlink) plan.inventory.set(a.path, { verdict: 'unsafe-path', detail: 'replaced by a symbolic link' });
    else if (st.size !== a.bytes)
      plan.inventory.set(a.path, {
        verdict: 'size-mismatch',
        detail: `${st.size} bytes, the manifest says ${a.bytes}`,
      });
    else if (a.bytes === 0 && t.origin === 'lifeboat')
      plan.inventory.set(a.path, {
        verdict: 'corrupted',
        detail: 'an empty artifact (a stored artifact is never empty)',
      });
    else if (st.archive && st.archive.state !== 'restored') {
      // Cold storage: the bytes are there and cannot be read before a restore request. A state, never a failure.
      const state = archiveText(st.archive);
      plan.inventory.set(
        a.path,
        levelRank(o.level) >= levelRank('integrity')
          ? { verdict: 'not-checked', detail: state }
          : { verdict: 'ok', detail: state },
      );
    } else plan.inventory.set(a.path, { verdict: 'ok', detail: null });
  }
  return plan;
}

/** The verdict on a stored hash: against the manifest, or against the ledger for foreign sets. */
function judgeHash(
  t: SetTarget,
  a: Plan['artifacts'][number],
  rel: string,
  sha: string,
  bytes: number,
  ledger: Ledger,
  base: { path: string; bytes: number; startedAt: string },
  started: number,
): ArtifactResult {
  const durationMs = Date.now() - started;
  const prior = ledger.lastGood(t.key, t.mediumId, rel);
  if (bytes !== a.bytes)
    return {
      ...base,
      sha256: sha,
      durationMs,
      verdict: 'size-mismatch',
      detail: `${bytes} bytes read, the manifest says ${a.bytes}`,
    };
  if (a.sha256 && sha !== a.sha256)
    return {
      ...base,
      sha256: sha,
      durationMs,
      verdict: 'corrupted',
      detail: `SHA-256 ${sha.slice(0, 16)}… instead of ${a.sha256.slice(0, 16)}…${prior ? `; last good check ${prior.at}` : ''}`,
    };
  if (!a.sha256 && prior && sha !== prior.sha256)
    return {
      ...base,
      sha256: sha,
      durationMs,
      verdict: 'corrupted',
      detail: `the hash changed since the last good check ${prior.at} (a ${t.origin} set: its hash was recorded on its first verification)`,
    };
  const note = !a.sha256
    ? prior
      ? `hash matches the one recorded on ${prior.at}`
      : 'first verification: hash recorded (trust on first verify)'
    : null;
  return { ...base, sha256: sha, durationMs, verdict: 'ok', detail: note };
}

/** The dump of a restore-level check read once: written where its test restore will read it. */
interface OnePass {
  /** The artifact (its path on the medium, as in the plan). */
  path: string;
  file: string;
  pgRestore: string;
  trust: TrustDecision;
  /** Set once the deep check read the dump into `file` (so the test restore takes it from there). */
  written?: boolean;
}

/**
 * Whether a set's restore test can take its dump from the deep check's own pass (verify --level
 * restore reads and decodes each artifact once): a Lifeboat custom-format dump, no problem known
 * before reading (a set with one never gets a test restore), a key for it and a pg_restore that
 * reads it. Otherwise the deep check and the test restore go as two passes, as before.
 */
function onePassDump(plan: Plan, o: VerifyOptions): { path: string; pgRestore: string; trust: TrustDecision } | null {
  const m = plan.manifest;
  if (o.level !== 'restore' || !m || m.kind !== 'pg-logical' || plan.signature?.state !== 'valid') return null;
  if (worst(plan.setProblems.map((p) => p.verdict)) !== 'ok') return null;
  const dump = plan.artifacts.find((a) => a.role === 'pg-dump');
  if (!dump || plan.inventory.get(dump.path)?.verdict !== 'ok') return null;
  const have = new Set(o.identities.map((i) => i.recipient.keyId));
  if (dump.encodings.includes('age') && !dump.recipients.some((r) => have.has(r))) return null;
  let pgRestore: string;
  try {
    pgRestore = restoreTestPgRestore(m, o);
  } catch {
    return null;
  }
  const { keyId, label } = plan.signature;
  return { path: dump.path, pgRestore, trust: { state: 'signed', keyId, label } };
}

/** Phase 2, one artifact: read every byte once; hash, and at deep level decode and check. */
async function checkArtifact(
  plan: Plan,
  a: Plan['artifacts'][number],
  o: VerifyOptions,
  ledger: Ledger,
  onBytes: (n: number) => void,
  signal: AbortSignal,
  pool: HashPool | null,
  onePass: OnePass | null = null,
): Promise<ArtifactResult & { index?: FileEntry[]; files?: FileSetDigest }> {
  const started = Date.now();
  const t = plan.target;
  const inv = plan.inventory.get(a.path)!;
  const rel = t.origin === 'lifeboat' ? a.path.slice(t.setPath.length + 1) : a.path;
  const base = { path: rel, bytes: a.bytes, sha256: null as string | null, startedAt: new Date(started).toISOString() };
  if (inv.verdict !== 'ok' || levelRank(o.level) < levelRank('integrity'))
    return { ...base, verdict: inv.verdict, detail: inv.detail, durationMs: Date.now() - started };

  const deep = levelRank(o.level) >= levelRank('deep');
  const encrypted = a.encodings.includes('age');
  // No identity for any of the artifact's recipients: the decoding cannot be tried here, which says nothing about the set.
  let notChecked: string | null = null;
  if (deep && encrypted) {
    const have = new Set(o.identities.map((i) => i.recipient.keyId));
    if (!a.recipients.some((r) => have.has(r)))
      notChecked = `no identity given for key ${a.recipients.join(' or ') || '(none recorded)'}${o.identities.length ? ` (given: ${[...have].join(', ')})` : ''}`;
  }
  // Integrity of a local file: hashed in a worker thread, so several artifacts use several cores.
  const local = !deep && pool ? t.medium.localPath(a.path) : null;
  if (local && pool) {
    let hashed: { bytes: number; sha256: string };
    try {
      hashed = await pool.hash(local, onBytes, signal);
    } catch (e) {
      const err = readFailure(t, rel, e);
      if (err.code === 'CANCELLED') throw err;
      // Gone since the inventory (a drive pulled mid-verify) is missing; a read error is corruption.
      return {
        ...base,
        verdict: err.code === 'NOT_FOUND' ? 'missing' : 'corrupted',
        detail: `reading failed: ${err.message}`,
        durationMs: Date.now() - started,
      };
    }
    onBytes(hashed.bytes);
    return judgeHash(t, a, rel, hashed.sha256, hashed.bytes, ledger, base, started);
  }
  // Through the gate's stages (restore/gate.ts): a byte past the recorded stored size or plain_bytes
  // stops the read at once (a decompression bomb is never decoded in full); hashes are judged below.
  const what = `${t.key}/${rel}`;
  const storedTap = new CheckTap({ what: `${what} (stored bytes)`, limit: a.bytes, onBytes });
  let stored: ByteFacts = storedTap;
  let stages: Duplex[] = [storedTap];
  let plain: ByteFacts | null = null;
  let consumer = null;
  const decoding = deep && !notChecked && (t.origin !== 'lifeboat' || a.encodings.length > 0 || a.plainSha256 !== null);
  if (decoding && onePass && plan.manifest) {
    // One pass (verify --level restore): the dump is read once, through the gate, into the file its test restore uses.
    consumer = pgDumpToFile(onePass.file, onePass.pgRestore);
    onePass.written = true;
  } else if (decoding) {
    try {
      const g = gateStages(
        {
          what,
          bytes: a.bytes,
          sha256: a.sha256,
          encodings: a.encodings,
          plainBytes: a.plainBytes,
          plainSha256: a.plainSha256,
        },
        o.identities,
        { check: false, onStoredBytes: onBytes },
      );
      ({ stored, plain, stages } = g);
      const pgRestore = o.pgRestores ? pgRestoreForDump(o.pgRestores, plan.manifest?.source) : o.pgRestore;
      // A seed script's file: its own checks (verify/seed-consumers.ts), by the role its name gave it.
      consumer =
        t.origin === 'seed-script' && isSeedRole(a.role)
          ? seedConsumerFor(a.role, { path: a.path, pgRestore, secrets: o.secrets })
          : a.role === 'redis-rdb'
            ? redisRdbCheck()
            : a.role === 'redis-aof-tar'
              ? redisAofCheck()
              : consumerFor(a.role, pgRestore, plan.manifest?.source, plan.manifest ? t.setId : undefined);
    } catch (e) {
      // A tool missing here: the stored bytes are still hashed below, the decoding is not checked.
      notChecked = environmentReason(e);
      if (!notChecked)
        return { ...base, verdict: 'undecryptable', detail: mapError(e).message, durationMs: Date.now() - started };
    }
  }
  const keep = decoding && onePass && plan.manifest ? onePass : null;
  const sink = consumer?.sink ?? new Writable({ write: (_c, _e, cb) => cb() });
  let streamError: LifeboatError | null = null;
  try {
    if (keep && plan.manifest) {
      const artifact = plan.manifest.artifacts.find((x) => `${t.setPath}/${x.path}` === a.path)!;
      const v = await openVerifiedArtifact(
        {
          key: t.key,
          medium: t.medium,
          setPath: t.setPath,
          manifest: plan.manifest,
          manifestBytes: plan.manifestBytes!,
        },
        artifact,
        { identities: o.identities, trust: keep.trust, signal, onStoredBytes: onBytes },
      );
      ({ stored, plain } = v);
      await untilVerified(v, pipeline(v.stream, sink));
    } else await pipeline([await t.medium.openRead(a.path), ...stages, sink], { signal });
  } catch (e) {
    if (keep) sink.destroy();
    if (signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
    streamError = readFailure(t, rel, e);
  }
  const durationMs = Date.now() - started;
  const sha = stored.bytes === a.bytes || !streamError ? stored.sha256() : null;
  const result = { ...base, sha256: sha, durationMs };
  if (streamError && stored.bytes > a.bytes) return { ...result, verdict: 'corrupted', detail: streamError.message };
  // The run's own failure (a decoder thread out of its memory) says nothing about the set.
  if (streamError?.code === 'INTERNAL' && streamError.message.startsWith(DECODER_OUT_OF_MEMORY))
    return { ...result, verdict: 'not-checked', detail: `not checked: ${streamError.message}` };
  // Integrity first: bytes that do not hash right explain any later failure.
  if (streamError && stored.bytes < a.bytes) {
    if (streamError.code === 'UNSAFE_PATH') return { ...result, verdict: 'unsafe-path', detail: streamError.message };
    if (streamError.code === 'NOT_FOUND' && stored.bytes === 0)
      return { ...result, verdict: 'missing', detail: `gone since the inventory: ${streamError.message}` };
    return {
      ...result,
      verdict: 'corrupted',
      detail: `reading failed after ${stored.bytes} bytes: ${streamError.message}`,
    };
  }
  const expected = a.sha256 ?? null;
  const prior = ledger.lastGood(t.key, t.mediumId, rel);
  if (expected && sha !== expected) {
    return {
      ...result,
      verdict: 'corrupted',
      detail: `SHA-256 ${sha?.slice(0, 16)}… instead of ${expected.slice(0, 16)}…${prior ? `; last good check ${prior.at}` : ''}`,
    };
  }
  if (!expected && prior && sha !== prior.sha256) {
    return {
      ...result,
      verdict: 'corrupted',
      detail: `the hash changed since the last good check ${prior.at} (a ${t.origin} set: its hash was recorded on its first verification)`,
    };
  }
  let note: string | null = !expected
    ? prior
      ? `hash matches the one recorded on ${prior.at}`
      : 'first verification: hash recorded (trust on first verify)'
    : null;
  if (notChecked)
    return {
      ...result,
      verdict: 'not-checked',
      detail: `stored bytes match their hash; the content was not checked: ${notChecked}`,
    };
  if (streamError) {
    const verdict: Verdict =
      streamError.code === 'DECRYPTION_FAILED'
        ? a.recipients.length && /None of the given identities/.test(streamError.message)
          ? 'undecryptable'
          : 'corrupted'
        : streamError.code === 'UNSAFE_PATH'
          ? 'unsafe-path'
          : 'corrupted';
    return { ...result, verdict, detail: streamError.message };
  }
  if (plain && a.plainSha256 && (plain.sha256() !== a.plainSha256 || plain.bytes !== a.plainBytes)) {
    return { ...result, verdict: 'corrupted', detail: 'the decoded content does not match its recorded hash' };
  }
  if (consumer) {
    const out = await consumer.outcome();
    if (out.verdict !== 'ok') return { ...result, verdict: out.verdict, detail: out.detail };
    note = [note, out.detail].filter(Boolean).join('; ') || null;
    return { ...result, verdict: 'ok', detail: note, index: out.index, files: out.files };
  }
  return { ...result, verdict: 'ok', detail: note };
}

/**
 * A files set's tar and file index, each sound on its own, must also agree: a restore takes every
 * file the index gives this set from this tar (by name, size and hash) and refuses the set when
 * one is missing or differs, so deep verification says so too (on the index's result) instead of
 * passing a set no restore can place.
 */
function crossCheckFiles(plan: Plan, results: Array<ArtifactResult & { files?: FileSetDigest }>): void {
  const at = (role: string): number => plan.artifacts.findIndex((a) => a.role === role);
  const [tar, index] = [results[at('files-tar')], results[at('file-index')]];
  if (!tar?.files || !index?.files || tar.verdict !== 'ok' || index.verdict !== 'ok') return;
  if (index.files.matches(tar.files)) return;
  const counts =
    index.files.count === tar.files.count
      ? `both hold ${tar.files.count} files, not the same names, sizes or contents`
      : `the index gives this set's tar ${index.files.count} files, the tar holds ${tar.files.count}`;
  index.verdict = 'corrupted';
  index.detail = `${tar.path} and ${index.path} disagree (${counts}): a restore would refuse this set`;
}

/**
 * An incremental set's index names, for what did not change, the older set whose tar holds it: each
 * such file must be in that set's own index (as the catalog recorded it) with the same size and
 * SHA-256, or a restore of this set refuses it. This set's own tar is checked against its index by
 * crossCheckFiles; the older set's tar against its index when that set is verified. A parent the
 * catalog has not indexed is said in the detail, never failed.
 */
function crossCheckChain(plan: Plan, results: Array<ArtifactResult & { index?: FileEntry[] }>, catalog: Catalog): void {
  const index = results[plan.artifacts.findIndex((a) => a.role === 'file-index')];
  const own = plan.manifest?.set_id;
  if (!index || index.verdict !== 'ok' || !own) return;
  if (!index.index) {
    if (plan.manifest?.parent) index.detail = `${index.detail ?? ''}; too large to cross-check with its chain here`;
    return;
  }
  const chain = chainKeys(catalog, plan.target.key);
  const unchecked = new Set<string>();
  const probe = fileIndexProbe(catalog);
  let checked = 0;
  for (const e of index.index) {
    if (e.in === own || e.type !== 'file') continue;
    const parent = chain.get(e.in);
    if (!parent || !probe.indexed(parent)) {
      unchecked.add(e.in);
      continue;
    }
    const row = probe.file(parent, e.path);
    checked++;
    if (
      row &&
      row.type === 'file' &&
      row.size === e.size &&
      (row.sha256 === null || e.sha256 === null || row.sha256 === e.sha256)
    )
      continue;
    index.verdict = 'corrupted';
    index.detail = `${index.path} says ${e.path} is held by ${e.in} (${e.size} bytes${e.sha256 ? `, SHA-256 ${e.sha256.slice(0, 12)}…` : ''}), but ${e.in}'s own index ${row ? `records ${row.size} bytes${row.sha256 ? `, SHA-256 ${row.sha256.slice(0, 12)}…` : ''}` : 'has no such file'}: a restore of this set would refuse it`;
    return;
  }
  const notes = [
    checked ? `${checked} unchanged file${checked === 1 ? '' : 's'} checked against the older sets' indexes` : null,
    unchecked.size
      ? `not cross-checked with ${[...unchecked].join(', ')} (not in this catalog's file index: verify or scan it)`
      : null,
  ].filter(Boolean);
  if (notes.length) index.detail = [index.detail, ...notes].filter(Boolean).join('; ');
}

/**
 * A pgBackRest backup: its artifacts are the repository files it needs, checked by foreign/pgbackrest (verify/pgbackrest.ts);
 * what the backup itself cannot show (an unreadable info file or manifest) joins the set's problems.
 */
async function pgbackrestPlan(
  plan: Plan,
  o: VerifyOptions,
  sem: Limit,
  ctx: Pick<JobContext, 'signal'>,
  onBytes: (delta: number) => void,
): Promise<Array<ArtifactResult & { index?: FileEntry[]; files?: FileSetDigest }>> {
  const level = { deep: levelRank(o.level) >= levelRank('deep'), read: levelRank(o.level) >= levelRank('integrity') };
  const r = await pgbackrestResults(plan.target, level, o.secrets, (fn) => sem(fn), ctx, onBytes);
  plan.setProblems.push(...r.problems);
  return r.artifacts;
}

/**
 * What the plan alone shows, no artifact read (a runbook's verify step with `one_pass`, whose deep
 * check runs with the restore that follows): manifest, SHA256SUMS, the signature at the
 * authenticity level, presence and sizes. Never recorded in the ledger: the level it names
 * includes hashes this did not read (the restore step records the deep verdict it reaches).
 */
export function plannedResult(plan: Plan, level: VerifyLevel, startedAt: Date): SetResult {
  const t = plan.target;
  const artifacts = plan.artifacts.map((a) => {
    const inv = plan.inventory.get(a.path)!;
    return {
      path: t.origin === 'lifeboat' ? a.path.slice(t.setPath.length + 1) : a.path,
      bytes: a.bytes,
      sha256: null,
      verdict: inv.verdict,
      detail: inv.detail,
      startedAt: startedAt.toISOString(),
      durationMs: 0,
    };
  });
  const verdict = worst([...plan.setProblems.map((p) => p.verdict), ...artifacts.map((a) => a.verdict)]);
  const detail =
    verdict === 'ok'
      ? 'manifest, SHA256SUMS, signature, presence and sizes checked; no artifact read'
      : (plan.setProblems.find((p) => p.verdict === verdict)?.detail ??
        artifacts.find((a) => a.verdict === verdict)?.detail ??
        null);
  return {
    key: t.key,
    system: t.system,
    setId: t.setId,
    origin: t.origin,
    mediumId: t.mediumId,
    location: t.medium.location,
    setPath: t.setPath,
    level,
    verdict,
    detail,
    artifacts,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    bytes: 0,
    restore: null,
    trust: plan.trust?.text ?? null,
  };
}

/** Verify one set on one medium at the asked level (artifacts run under the shared semaphore). */
export async function verifySet(
  plan: Plan,
  o: VerifyOptions,
  catalog: Catalog,
  sem: Limit,
  ctx: Pick<JobContext, 'signal' | 'progress' | 'log'>,
  onBytes: (delta: number) => void,
  pool: HashPool | null = null,
): Promise<SetResult> {
  const t = plan.target;
  const startedAt = new Date();
  // One pass: the scratch PostgreSQL starts while the dump decodes into the file its test restore reads.
  const one = onePassDump(plan, o);
  if (!one) return verifySetRead(plan, o, catalog, sem, ctx, onBytes, pool, startedAt, null);
  // One pass holds one of the run's `jobs` slots for the whole set (its reads and its test restore,
  // inside it without taking another: no wait on itself), so at most `jobs` scratch servers run.
  return sem(async () => {
    const dir = mkdtempSync(join(process.env.LIFEBOAT_TMPDIR ?? tmpdir(), 'lifeboat-restore-test-'));
    const cluster = startScratch(t.key, o, ctx);
    cluster.catch(() => undefined);
    const file = join(dir, 'restore.dump');
    const onePass = {
      ...one,
      file,
      dir,
      decoded: { file, cluster, startedAt: Date.now() } as DecodedForRestore | null,
    };
    try {
      return await verifySetRead(plan, o, catalog, pLimit(Infinity), ctx, onBytes, pool, startedAt, onePass);
    } finally {
      // The scratch cluster is the test restore's once it began; else (a failure found, a cancel) it is removed here.
      if (onePass.decoded) await onePass.decoded.cluster.then((c) => c.destroy()).catch(() => undefined);
      await rm(onePass.dir, { recursive: true, force: true });
    }
  });
}

async function verifySetRead(
  plan: Plan,
  o: VerifyOptions,
  catalog: Catalog,
  sem: Limit,
  ctx: Pick<JobContext, 'signal' | 'progress' | 'log'>,
  onBytes: (delta: number) => void,
  pool: HashPool | null,
  startedAt: Date,
  onePass: (OnePass & { decoded: DecodedForRestore | null }) | null,
): Promise<SetResult> {
  const t = plan.target;
  const ledger = ledgerOf(catalog);
  const pgbr = t.origin === 'pgbackrest' ? await pgbackrestPlan(plan, o, sem, ctx, onBytes) : null;
  const results =
    pgbr ??
    (await Promise.all(
      plan.artifacts.map((a) =>
        sem(async () => {
          let last = 0;
          const r = await checkArtifact(
            plan,
            a,
            o,
            ledger,
            (n) => {
              onBytes(n - last);
              last = n;
            },
            ctx.signal,
            pool,
            onePass?.path === a.path ? onePass : null,
          );
          onBytes(a.bytes - last);
          return r;
        }),
      ),
    ));
  crossCheckFiles(plan, results);
  crossCheckChain(plan, results, catalog);
  const verdicts: Verdict[] = [...plan.setProblems.map((p) => p.verdict), ...results.map((r) => r.verdict)];
  // A restic snapshot's content is the repository's: restic itself checks it (foreign/restic).
  let formatDetail: string | null = null;
  if (t.origin === 'restic' && levelRank(o.level) >= levelRank('integrity')) {
    const r = await resticCheckOf(t, o, ctx.signal);
    verdicts.push(r.verdict);
    formatDetail = r.detail;
    if (r.verdict !== 'ok') plan.setProblems.push({ verdict: r.verdict, detail: r.detail });
  }
  let restore: SetResult['restore'] = null;
  const restoreDetail: string[] = [];
  let restoreNotRun = false;
  if (o.level === 'restore' && worst(verdicts) === 'ok') {
    // A plain SQL dump (a seed script's) is replayed by psql, guarded against its meta-commands.
    const sql = plan.manifest
      ? undefined
      : plan.artifacts.find((a) => a.role === 'sql-dump-gz' || a.role === 'sql-dump');
    if (plan.manifest?.kind !== 'pg-logical' && plan.manifest?.kind !== 'redis' && !sql) {
      restoreDetail.push(
        plan.manifest?.kind === 'mysql'
          ? "a MySQL set's restore test is the mysql-drill runbook (a scratch MariaDB); checked at deep level"
          : 'restore tests apply to PostgreSQL logical and Redis sets; checked at deep level',
      );
    } else {
      try {
        const manifest = plan.manifest;
        // No byte of the test restore moves the counters: the progress names this set while it runs.
        ctx.progress({ current: `${t.key} (test restore)` });
        // One pass: the dump the deep check decoded and judged, and the scratch server started meanwhile, are the test's.
        const decoded = (onePass?.written && onePass.decoded) || undefined;
        if (decoded && onePass) onePass.decoded = null;
        restore = await sem(() =>
          manifest?.kind === 'redis'
            ? redisRestoreTest(manifest, t.medium, t.setPath, o.identities, ctx)
            : manifest
              ? restoreTest(manifest, t.medium, t.setPath, o, ctx, decoded)
              : sqlRestoreTest(t.system, t.medium, sql!, o, ctx),
        );
        if (restore.checks.some((c) => !c.ok)) {
          verdicts.push('restore-failed');
          restoreDetail.push(
            `validation failed: ${restore.checks
              .filter((c) => !c.ok)
              .map((c) => `${c.sql} gave ${c.got ?? 'an error'}, expected ${c.expect}`)
              .join('; ')}`,
          );
        } else {
          restoreDetail.push(
            `restored in ${(restore.durationMs / 1000).toFixed(1)} s (measured RTO); ${restore.checks.length} validation ${restore.checks.length === 1 ? 'query' : 'queries'} passed`,
          );
        }
      } catch (e) {
        // A cancel is no verdict (environmentReason rethrows it), nor is a restore this machine cannot run (no pg_restore, no initdb).
        const err = readFailure(t, 'the dump for the test restore', e);
        if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
        const why = err instanceof ScratchUnavailable ? err.message : environmentReason(err);
        verdicts.push(why ? 'not-checked' : 'restore-failed');
        restoreNotRun = why !== null;
        restoreDetail.push(why ? `the test restore could not run here: ${why}` : err.message);
      }
    }
  }
  const verdict = worst(verdicts);
  let trust = plan.trust ?? null;
  if (t.origin !== 'lifeboat' && levelRank(o.level) >= levelRank('authenticity')) {
    // Named, never failed: trusted since the first successful verification on this medium (this one, when it passes and none came before).
    const facts = setDescription(catalog, t.key);
    const first = ledger.firstGood(t.key, t.mediumId) ?? (verdict === 'ok' ? startedAt.toISOString() : null);
    trust = judgeTrust({
      origin: t.origin,
      evidence: evidenceOf(factsOfDescription(facts?.json)),
      firstVerified: first,
    });
  }
  const durationMs = Date.now() - startedAt.getTime();
  const bytes = pgbr ? pgbr.reduce((n, a) => n + a.bytes, 0) : plan.artifacts.reduce((n, a) => n + a.bytes, 0);
  const firstProblem =
    plan.setProblems.find((p) => p.verdict === verdict)?.detail ??
    results.find((r) => r.verdict === verdict)?.detail ??
    null;
  const okDetail =
    [trust?.foreign ? trust.text : null, formatDetail, ...restoreDetail].filter(Boolean).join('; ') || null;
  const detail = verdict === 'ok' ? okDetail : [firstProblem, ...restoreDetail].filter(Boolean).join('; ') || null;
  const result: SetResult = {
    key: t.key,
    system: t.system,
    setId: t.setId,
    origin: t.origin,
    mediumId: t.mediumId,
    location: t.medium.location,
    setPath: t.setPath,
    level: o.level,
    verdict,
    detail,
    artifacts: results.map(({ index: _index, files: _files, ...r }) => r),
    startedAt: startedAt.toISOString(),
    durationMs,
    bytes,
    restore,
    trust: trust?.text ?? null,
  };
  recordVerification(catalog, result);
  // The restore test could not run here, but everything below it was checked and passed: that much is a fact, recorded at deep level.
  if (restoreNotRun && worst(verdicts.filter((v) => v !== 'not-checked')) === 'ok') {
    recordVerification(catalog, {
      ...result,
      level: 'deep',
      verdict: 'ok',
      detail: 'passed at deep level; the restore test could not run here',
    });
  }
  // Deep verification of a file set indexes its files, so `find` never reads the medium again.
  const index = results.find((r) => r.index)?.index;
  if (index) recordFileIndex(catalog, t.key, index);
  return result;
}
