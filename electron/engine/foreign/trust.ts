import { formatLocalTime } from '../../../shared/format';
import { loadPublicKey, parseSignature, verifySignature } from '../crypto/signing';
import { LifeboatError, mapError } from '../errors';

/**
 * The one trust rule (issue 19 item 1), used by verification (the authenticity level), set
 * selection and every restore, so the three never disagree. A pure function: the callers read
 * the signature, the ledger and the format's facts; the rule only names the state and says what
 * follows from it.
 *
 * A Lifeboat set is trusted by a valid signature of a pinned key over its manifest. A foreign set
 * (a seed script's file, a pgBackRest backup, a restic snapshot) has no Lifeboat signature and is
 * never called "signed" nor failed as "unsigned": its authenticity is the format's own integrity
 * data (checked at the integrity level) or, when the format has none, the hashes the ledger recorded
 * on its first successful verification (trust on first use).
 */

/** What the caller found of a Lifeboat set's signature (manifest.json.sig). */
export type SignatureFacts =
  | { state: 'missing' }
  /** Valid over the manifest bytes read, by a key pinned on this machine. */
  | { state: 'valid'; keyId: string; label: string }
  /** Readable, by a key that is not pinned here (its validity cannot be judged). */
  | { state: 'unpinned'; keyId: string }
  /** Unreadable, or by a pinned key and not matching the manifest. */
  | { state: 'invalid'; keyId: string | null; reason: string };

/**
 * The signature facts of a Lifeboat manifest: the signature file's bytes (null when missing) over the
 * exact manifest bytes read, against the keys pinned here. No I/O: the caller reads both files.
 */
export function signatureFacts(
  sig: Buffer | null,
  manifestBytes: Buffer,
  pinned: ReadonlyArray<{ keyId: string; label: string; publicKeyPem: string }>,
): SignatureFacts {
  if (!sig) return { state: 'missing' };
  let parsed: { keyId: string; signature: Buffer };
  try {
    parsed = parseSignature(sig);
  } catch (e) {
    return { state: 'invalid', keyId: null, reason: `the signature cannot be read: ${mapError(e).message}` };
  }
  const key = pinned.find((k) => k.keyId === parsed.keyId);
  if (!key) return { state: 'unpinned', keyId: parsed.keyId };
  try {
    if (verifySignature(manifestBytes, parsed.signature, loadPublicKey(key.publicKeyPem).publicKey))
      return { state: 'valid', keyId: key.keyId, label: key.label };
  } catch (e) {
    return { state: 'invalid', keyId: key.keyId, reason: mapError(e).message };
  }
  return {
    state: 'invalid',
    keyId: key.keyId,
    reason: `the signature by ${key.keyId} (${key.label}) does not match manifest.json`,
  };
}

/** A foreign format's own integrity data, when it has any (checked at the integrity level). */
export type FormatEvidence = 'pgbackrest-manifest' | 'restic-content' | 'seed-manifest';

export const EVIDENCE_TEXT: Record<FormatEvidence, string> = {
  'pgbackrest-manifest': 'pgBackRest manifest checksums',
  'restic-content': 'restic content hashes',
  'seed-manifest': 'seed manifest hashes',
};

export interface TrustInput {
  /** 'lifeboat' or a ForeignOrigin (any other origin is foreign). */
  origin: string;
  /** Lifeboat sets: what the signature is. Ignored for foreign sets. */
  signature?: SignatureFacts | null;
  /** Foreign sets: the format's integrity data, when the set has it. */
  evidence?: FormatEvidence | null;
  /** When the ledger first recorded a successful verification (integrity or above) of the set: ISO 8601, or null. */
  firstVerified?: string | null;
  /** IANA zone for the date in the text (default: this machine's). */
  timeZone?: string;
}

export type TrustState =
  | 'signed'
  | 'unsigned'
  | 'untrusted-signer'
  | 'bad-signature'
  | 'foreign-first-verification'
  | 'foreign-format'
  | 'foreign-unverified';

export interface Trust {
  state: TrustState;
  foreign: boolean;
  /** The named state, in the operator's words: "signed by 1a2b… (pinned)", "foreign: not yet verified". */
  text: string;
  /** The verdict the authenticity level gives, or null when the state is no failure (signed, every foreign state). */
  failure: 'unsigned' | 'untrusted-signer' | 'bad-signature' | null;
  /**
   * What a restore may do: read it; read it only with the explicit override (`--allow-unsigned`,
   * `allow_unsigned: true`; the caller journals it); never (a signature that does not match).
   */
  restore: 'allowed' | 'override' | 'refused';
  /** Why a restore needs the override or is refused (for the error and the journal); null when allowed. */
  why: string | null;
}

/** The named state of a set and what follows from it. */
export function judgeTrust(i: TrustInput): Trust {
  if (i.origin === 'lifeboat') {
    const s = i.signature ?? { state: 'missing' };
    switch (s.state) {
      case 'valid':
        return {
          state: 'signed',
          foreign: false,
          text: `signed by ${s.keyId} (${s.label}, pinned)`,
          failure: null,
          restore: 'allowed',
          why: null,
        };
      case 'missing':
        return {
          state: 'unsigned',
          foreign: false,
          text: 'unsigned (manifest.json.sig is missing)',
          failure: 'unsigned',
          restore: 'override',
          why: 'it is not signed (manifest.json.sig is missing)',
        };
      case 'unpinned':
        return {
          state: 'untrusted-signer',
          foreign: false,
          text: `signed by key ${s.keyId}, which is not pinned here (lifeboat keys trust <file.pub>)`,
          failure: 'untrusted-signer',
          restore: 'override',
          why: `it is signed by key ${s.keyId}, which is not pinned here`,
        };
      case 'invalid':
        return {
          state: 'bad-signature',
          foreign: false,
          text: `bad signature: ${s.reason}`,
          failure: 'bad-signature',
          restore: 'refused',
          why: s.reason,
        };
    }
  }
  const when = i.firstVerified ? formatLocalTime(i.firstVerified, { timeZone: i.timeZone }) : null;
  const unverified = `this ${i.origin} set was never verified successfully here (lifeboat verify --level integrity first)`;
  if (i.evidence) {
    const text = `foreign: integrity data of the format (${EVIDENCE_TEXT[i.evidence]})${when ? `; first verified ${when}` : '; not yet verified'}`;
    return {
      state: 'foreign-format',
      foreign: true,
      text,
      failure: null,
      restore: when ? 'allowed' : 'override',
      why: when ? null : unverified,
    };
  }
  if (when)
    return {
      state: 'foreign-first-verification',
      foreign: true,
      text: `foreign: trusted on first verification ${when}`,
      failure: null,
      restore: 'allowed',
      why: null,
    };
  return {
    state: 'foreign-unverified',
    foreign: true,
    text: 'foreign: not yet verified',
    failure: null,
    restore: 'override',
    why: unverified,
  };
}

/** The format evidence a foreign set's facts declare (`facts.integrity`), when a detector recorded one. */
export function evidenceOf(facts: Record<string, unknown> | null | undefined): FormatEvidence | null {
  const v = facts?.integrity;
  return v === 'pgbackrest-manifest' || v === 'restic-content' || v === 'seed-manifest' ? v : null;
}

/**
 * The restore side of the rule: a set a restore may read, or the error that refuses it. The override
 * (`allowUnsigned`) admits an unsigned Lifeboat set, one signed by an unpinned key, and a foreign set
 * never verified successfully here; never a signature that does not match. `overridden` is true when
 * only the override let it through: the caller journals it.
 */
export function admitRestore(key: string, trust: Trust, allowUnsigned = false): { overridden: boolean } {
  if (trust.restore === 'allowed') return { overridden: false };
  if (trust.restore === 'refused') {
    throw new LifeboatError('SIGNATURE_INVALID', `Refused: ${key}: ${trust.why}. Nothing was read from the set.`, {
      hint: 'The manifest was changed after it was signed: restore another copy or another set.',
    });
  }
  if (allowUnsigned) return { overridden: true };
  throw new LifeboatError('UNTRUSTED_SIGNER', `Refused: ${key}: ${trust.why}. Nothing was read from the set.`, {
    hint: trust.foreign
      ? 'Verify it first (lifeboat verify --set <set> --level integrity): its hashes are then recorded and trusted. Or accept it explicitly with --allow-unsigned (allow_unsigned: true in a runbook step); the override is recorded in the journal.'
      : "Pin the signer's key (lifeboat keys trust <file.pub>) if you know it, or accept this set explicitly with --allow-unsigned (allow_unsigned: true in a runbook step); the override is recorded in the run's journal.",
  });
}

/** The facts of a foreign set as the catalog stores its description (sets.facts_json: {origin, facts, artifacts}); null when unreadable. */
export function factsOfDescription(json: string | null | undefined): Record<string, unknown> | null {
  if (!json) return null;
  try {
    const d = JSON.parse(json) as { facts?: unknown };
    return d.facts && typeof d.facts === 'object' ? (d.facts as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
