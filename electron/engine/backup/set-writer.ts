import { hostname } from 'node:os';
import type { AgeRecipient } from '../crypto/age';
import { signManifest, type SigningKey } from '../crypto/signing';
import { LifeboatError, mapError } from '../errors';
import {
  manifestBytes,
  SET_FORMAT_V1,
  sha256sums,
  type Artifact,
  type Manifest,
  type SetKind,
} from '../format/manifest';
import { MEDIUM_FILE, type MediumInfo } from '../format/medium';
import { compactUtc } from '../format/names';
import { MEASURE_KEY, type SetMeasure } from '../format/measure';
import type { JobContext } from '../jobs/job-manager';
import { storeArtifact } from '../pipeline/artifact-pipeline';
import type { EncoderThreads } from '../pipeline/encoder-thread';
import type { PlainSource } from '../pipeline/threaded-encoder';
import type { Medium, SetWriter } from '../storage/medium';
import { LIFEBOAT_VERSION } from '../version';

export interface SetPlan {
  media: Medium[];
  system: string;
  kind: SetKind;
  tier: Manifest['tier'];
  parent: string | null;
  recipients: AgeRecipient[];
  signingKey: SigningKey | null;
  startedAt: Date;
  /**
   * Whether a set id of this system is already used elsewhere (the local catalog knows it on
   * another medium): a set made in the same second as one on other media takes the next
   * suffix instead, so the names stay unique wherever this catalog has looked.
   */
  idTaken?: (setId: string) => boolean;
  /** The owner's encoder threads, so the artifacts of a set (and of the next) reuse one thread. */
  encoderThreads?: EncoderThreads;
  /** Cold storage for the artifacts on media that have it (S3 storage classes); see storage/medium.ts. */
  storageClass?: string;
}

export interface WrittenSet {
  manifest: Manifest;
  manifestBytes: Buffer;
  setPath: string;
  media: Array<{ medium: Medium; info: MediumInfo }>;
  removedPartials: string[];
}

/** What a kind adds to the set's measurements: files sets, how many files changed since the previous set. */
export type SetMeasureExtra = Pick<SetMeasure, 'files_total' | 'files_changed'>;

export interface ArtifactInput {
  name: string;
  role: string;
  /** A stream, a function filling the encoder's blocks (tar), or a small artifact in memory. */
  source: Buffer | PlainSource;
  onPlainBytes?: (n: number) => void;
}

/** Check every destination is an initialised Lifeboat medium, before any work starts. */
export async function requireMedia(media: Medium[]): Promise<Array<{ medium: Medium; info: MediumInfo }>> {
  const out: Array<{ medium: Medium; info: MediumInfo }> = [];
  for (const medium of media) {
    const info = await medium.readInfo();
    if (!info) {
      throw new LifeboatError('BAD_INPUT', `${medium.location} is not a Lifeboat medium (no ${MEDIUM_FILE}).`, {
        hint: `Initialise it first: lifeboat medium init ${medium.location} --label <label>`,
      });
    }
    out.push({ medium, info });
  }
  return out;
}

/**
 * Write one set to every destination at once: artifacts streamed through the pipeline to all
 * media, then SHA256SUMS, the signature and manifest.json last. Nothing becomes visible as a
 * set unless all of it is durable; on any failure every partial write is removed.
 */
export async function writeSet(
  plan: SetPlan,
  ctx: Pick<JobContext, 'signal' | 'step' | 'log'>,
  produce: (
    add: (a: ArtifactInput) => Promise<Artifact>,
    setId: string,
  ) => Promise<{ source: Record<string, unknown>; warnings: string[]; measure?: SetMeasureExtra }>,
): Promise<WrittenSet> {
  const media = await requireMedia(plan.media);
  const removedPartials: string[] = [];
  for (const { medium } of media) {
    const removed = await medium.cleanupPartials();
    for (const r of removed) ctx.log('warn', `removed leftovers of an interrupted backup: ${medium.location}/${r}`);
    removedPartials.push(...removed);
  }

  // Set id = UTC start time + kind; a second set in the same second (on these media, or
  // one the catalog knows elsewhere) gets a suffix.
  const base = `${compactUtc(plan.startedAt)}-${plan.kind}`;
  let setId = base;
  for (let n = 2; ; n++) {
    const taken = await Promise.all(
      media.map(({ medium }) => medium.stat(`sets/${plan.system}/${setId}/manifest.json`)),
    );
    if (taken.every((t) => t === null) && !plan.idTaken?.(setId)) break;
    setId = `${base}-${n}`;
  }

  const writers: SetWriter[] = [];
  try {
    const options = plan.storageClass ? { artifactClass: plan.storageClass } : undefined;
    for (const { medium } of media) writers.push(await medium.beginSet(plan.system, setId, options));
    const artifacts: Artifact[] = [];
    let incompressibleBytes = 0;
    const add = async (a: ArtifactInput): Promise<Artifact> => {
      const stored = `${a.name}.zst${plan.recipients.length > 0 ? '.age' : ''}`;
      ctx.step(`writing ${stored}`);
      const facts = await storeArtifact(a.source, {
        recipients: plan.recipients,
        // A small artifact in memory (a file index) stays readable at once whatever the storage class.
        sinks: writers.map((w) => w.openArtifact(stored, Buffer.isBuffer(a.source) ? { readable: true } : undefined)),
        signal: ctx.signal,
        onPlainBytes: a.onPlainBytes,
        encoderThreads: plan.encoderThreads,
      });
      const { incompressibleBytes: high, ...stats } = facts;
      incompressibleBytes += high;
      const artifact: Artifact = { path: stored, role: a.role, ...stats };
      artifacts.push(artifact);
      return artifact;
    };
    const produced = await produce(add, setId);
    if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');

    ctx.step('writing manifest');
    const manifest: Manifest = {
      format: SET_FORMAT_V1,
      set_id: setId,
      system: plan.system,
      kind: plan.kind,
      tier: plan.tier,
      created_at: plan.startedAt.toISOString(),
      started_at: plan.startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      parent: plan.parent,
      lifeboat_version: LIFEBOAT_VERSION,
      host: hostname(),
      // The set's measurements for trends and the ransomware indicator (catalog/trends.ts): in the
      // manifest, so a catalog rebuilt from the media judges the set again the same way.
      source: { ...produced.source, [MEASURE_KEY]: { ...produced.measure, incompressible_bytes: incompressibleBytes } },
      artifacts,
      warnings: produced.warnings,
    };
    const bytes = manifestBytes(manifest);
    const files: Array<{ name: string; bytes: Buffer }> = [
      { name: 'SHA256SUMS', bytes: Buffer.from(sha256sums(manifest)) },
    ];
    if (plan.signingKey) files.push({ name: 'manifest.json.sig', bytes: signManifest(bytes, plan.signingKey) });
    files.push({ name: 'manifest.json', bytes });
    for (const w of writers) await w.commit(files);
    return { manifest, manifestBytes: bytes, setPath: `sets/${plan.system}/${setId}`, media, removedPartials };
  } catch (e) {
    const err = e instanceof LifeboatError ? e : mapError(e);
    await Promise.allSettled(writers.map((w) => w.abort(err)));
    throw err;
  }
}
