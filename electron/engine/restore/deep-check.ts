import type { ArtifactResult, SetResult, Verdict } from '../../../shared/domain/verify';
import { VERDICT_ERROR, VERDICT_TEXT } from '../../../shared/domain/verify';
import type { Catalog } from '../catalog/catalog';
import type { AgeIdentity } from '../crypto/age';
import { recordVerification } from '../catalog/ledger';
import { LifeboatError, mapError } from '../errors';
import { sha256sums, type Artifact } from '../format/manifest';
import type { TrustedSetCopy } from './set-access';

/**
 * The deep check of a logical set made by its restore, in one pass (a runbook's `verify.set` with
 * `one_pass: true` before `restore.pg-logical` with `deep_check: true`): the restore reads and
 * decodes the dump once, through the gate (sizes and SHA-256 of the stored and decoded bytes),
 * and its own reading (the tar extraction's name checks, `pg_restore --list`) is the deep check's.
 * The verdict is recorded in the ledger at deep level as `lifeboat verify --level deep` records
 * it, and a set that fails fails the step with the verify step's error, before the target is touched.
 */
export class DeepPass {
  private readonly startedAt = new Date();
  private readonly artifacts: ArtifactResult[] = [];

  constructor(
    private readonly catalog: Catalog,
    private readonly copy: TrustedSetCopy,
  ) {}

  /**
   * What a verify checks of the set itself before reading: a key for every encrypted artifact (else
   * the check could only say "not checked": refused, nothing recorded, as verify.set refuses it),
   * and SHA256SUMS agrees with the manifest.
   */
  async checkSet(identities: AgeIdentity[]): Promise<void> {
    const have = new Set(identities.map((i) => i.recipient.keyId));
    const locked = this.copy.manifest.artifacts.find(
      (a) => a.encodings.includes('age') && !a.recipients.some((r) => have.has(r)),
    );
    if (locked)
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `${this.copy.key} could not be checked at deep level here: no age identity for key ${locked.recipients.join(' or ') || '(none recorded)'}. Nothing was restored.`,
        { hint: 'Give the missing key and run the step again.' },
      );
    const sums = await this.copy.medium.readOptional(`${this.copy.setPath}/SHA256SUMS`);
    if (!sums) this.fail('corrupted', 'SHA256SUMS is missing (hand checks with sha256sum -c would fail)');
    if (sums.toString('utf8') !== sha256sums(this.copy.manifest))
      this.fail('corrupted', 'SHA256SUMS disagrees with the manifest');
  }

  /** An artifact read whole through the gate, and its content read as a deep check reads it. */
  passed(a: Artifact, startedAt: number, detail: string | null): void {
    this.artifacts.push({
      path: a.path,
      bytes: a.bytes,
      sha256: a.sha256,
      verdict: 'ok',
      detail,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Date.now() - startedAt,
    });
  }

  /**
   * The gate or the reading of the content stopped: the verdict a deep verification gives, recorded,
   * and thrown as the verify step's error. A cancel, or a medium gone out of reach, is no verdict.
   */
  failed(a: Artifact, startedAt: number, e: unknown): never {
    const err = mapError(e);
    if (err.code === 'CANCELLED' || err.code === 'STORAGE_UNREACHABLE') throw err;
    const verdict: Exclude<Verdict, 'ok'> =
      err.code === 'DECRYPTION_FAILED' && a.recipients.length && /None of the given identities/.test(err.message)
        ? 'undecryptable'
        : err.code === 'UNSAFE_PATH'
          ? 'unsafe-path'
          : err.code === 'NOT_FOUND'
            ? 'missing'
            : err.code === 'DB_RESTORE_FAILED'
              ? 'unreadable-dump'
              : 'corrupted';
    this.artifacts.push({
      path: a.path,
      bytes: a.bytes,
      sha256: null,
      verdict,
      detail: err.message,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Date.now() - startedAt,
    });
    return this.fail(verdict, err.message);
  }

  /** Every artifact passed: the set's deep verdict, recorded. */
  ok(): { level: 'deep'; verdict: 'ok'; detail: string } {
    const detail = `deep check made by this restore, in one pass with it (${this.artifacts.length} artifact${this.artifacts.length === 1 ? '' : 's'} read once)`;
    this.record('ok', detail);
    return { level: 'deep', verdict: 'ok', detail };
  }

  private fail(verdict: Exclude<Verdict, 'ok'>, detail: string): never {
    this.record(verdict, detail);
    throw new LifeboatError(
      VERDICT_ERROR[verdict],
      `${this.copy.key} failed verification at deep level: ${VERDICT_TEXT[verdict]} (${detail}). Nothing was restored.`,
      { hint: 'Pick another set (an older one, or a copy on another medium) and do not restore this one.' },
    );
  }

  private record(verdict: Verdict, detail: string): void {
    // Only a copy whose manifest passed the trust rule by its signature: an overridden one would be `unsigned` to a verify.
    if (this.copy.trust.state !== 'signed') return;
    const m = this.copy.manifest;
    const result: SetResult = {
      key: this.copy.key,
      system: m.system,
      setId: m.set_id,
      origin: 'lifeboat',
      mediumId: this.copy.mediumId,
      location: this.copy.medium.location,
      setPath: this.copy.setPath,
      level: 'deep',
      verdict,
      detail,
      artifacts: this.artifacts,
      startedAt: this.startedAt.toISOString(),
      durationMs: Date.now() - this.startedAt.getTime(),
      bytes: this.artifacts.reduce((n, a) => n + a.bytes, 0),
      restore: null,
      trust: `signed by ${this.copy.trust.keyId} (${this.copy.trust.label}, pinned)`,
    };
    recordVerification(this.catalog, result);
  }
}
