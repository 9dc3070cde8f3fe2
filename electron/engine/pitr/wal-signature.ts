import type { KeyObject } from 'node:crypto';
import type { TrustedKey } from '../catalog/trust';
import { loadPublicKey, parseSignature, signManifest, verifySignature, type SigningKey } from '../crypto/signing';
import { LifeboatError } from '../errors';

/**
 * The signature sidecar of an archived WAL file: `<stored file>.sig`, three lines:
 *   {"format":"lifeboat-wal-signature/1","key_id":…,"name":…,"plain_bytes":…,"plain_sha256":…,"stored_bytes":…,"stored_sha256":…,"system":…}
 *   lifeboat-signature/1 ed25519 <key id>
 *   <base64 of the Ed25519 signature of the first line, its newline included>
 * The hash in a segment's name only proves the plaintext against itself, and age encrypts to a
 * public recipient: anyone who can write to the medium could add or replace segments that pass
 * every hash check. The sidecar binds the system, the name and both hashes and sizes to a key
 * the laptop pins, so `head -n1 X.sig` + `tail -n1 X.sig | base64 -d` is what openssl checks.
 */
export const WAL_SIGNATURE_FORMAT = 'lifeboat-wal-signature/1';

export interface WalSignedFacts {
  format: typeof WAL_SIGNATURE_FORMAT;
  key_id: string;
  name: string;
  plain_bytes: number;
  plain_sha256: string;
  stored_bytes: number;
  stored_sha256: string;
  system: string;
}

/** What a reader knows of one archived file's signature. `unsigned` is a named state, never silent trust. */
export type WalSignatureState = 'signed' | 'unsigned' | 'untrusted-signer' | 'signature-invalid';

export interface WalSignatureCheck {
  state: WalSignatureState;
  /** The signer's key id, when the sidecar names one. */
  keyId: string | null;
  /** The signed facts, only when `state` is `signed`. */
  facts: WalSignedFacts | null;
  /** Why it is not `signed`, for a person. */
  reason: string | null;
}

/** How readers treat WAL signatures: the pinned keys, and whether the operator accepted unsigned/untrusted files. */
export interface WalTrust {
  trusted: TrustedKey[];
  allowUnsigned: boolean;
}

export function walSidecarPath(storedPath: string): string {
  return `${storedPath}.sig`;
}

/** The signed line: keys in a fixed (sorted) order, no spaces, so the bytes are the same wherever they are made. */
export function canonicalFacts(f: Omit<WalSignedFacts, 'format'>): Buffer {
  const ordered: WalSignedFacts = {
    format: WAL_SIGNATURE_FORMAT,
    key_id: f.key_id,
    name: f.name,
    plain_bytes: f.plain_bytes,
    plain_sha256: f.plain_sha256,
    stored_bytes: f.stored_bytes,
    stored_sha256: f.stored_sha256,
    system: f.system,
  };
  return Buffer.from(`${JSON.stringify(ordered)}\n`);
}

export function buildWalSidecar(f: Omit<WalSignedFacts, 'format' | 'key_id'>, key: SigningKey): Buffer {
  const line = canonicalFacts({ ...f, key_id: key.keyId });
  return Buffer.concat([line, signManifest(line, key)]);
}

function parseFacts(line: string): WalSignedFacts | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const str = (k: string): boolean => typeof o[k] === 'string';
  const num = (k: string): boolean => Number.isSafeInteger(o[k]) && (o[k] as number) >= 0;
  if (o.format !== WAL_SIGNATURE_FORMAT) return null;
  if (
    !['key_id', 'name', 'plain_sha256', 'stored_sha256', 'system'].every(str) ||
    !['plain_bytes', 'stored_bytes'].every(num)
  )
    return null;
  return o as unknown as WalSignedFacts;
}

/** A sidecar split into its signed line, the facts and the signature; null when malformed. */
function splitSidecar(bytes: Buffer): { line: Buffer; facts: WalSignedFacts; keyId: string; signature: Buffer } | null {
  // A sidecar is a few hundred bytes: anything far larger is not one (and is not read further).
  if (bytes.length > 4096) return null;
  const nl = bytes.indexOf(0x0a);
  if (nl < 0) return null;
  const line = bytes.subarray(0, nl + 1);
  const facts = parseFacts(line.subarray(0, nl).toString('utf8'));
  if (!facts) return null;
  try {
    const { keyId, signature } = parseSignature(bytes.subarray(nl + 1));
    return { line, facts, keyId, signature };
  } catch {
    return null;
  }
}

/**
 * Check a sidecar against the archived file it sits beside (the facts a listing gives: system,
 * name, plaintext hash, stored size) and the pinned keys. The stored hash and the plaintext size
 * are compared by the reader once it has the bytes.
 */
export function checkWalSidecar(
  sidecar: Buffer | null,
  expect: { system: string; name: string; plainSha256: string; storedBytes: number },
  trusted: TrustedKey[],
): WalSignatureCheck {
  if (!sidecar)
    return {
      state: 'unsigned',
      keyId: null,
      facts: null,
      reason: 'no signature sidecar (archived without --sign-key, or before WAL signing existed)',
    };
  const parts = splitSidecar(sidecar);
  if (!parts)
    return { state: 'signature-invalid', keyId: null, facts: null, reason: 'the signature sidecar is malformed' };
  const { line, facts, keyId, signature } = parts;
  const pinned = trusted.find((k) => k.keyId === keyId);
  if (!pinned)
    return { state: 'untrusted-signer', keyId, facts: null, reason: `signed by ${keyId}, a key that is not pinned` };
  let publicKey: KeyObject;
  try {
    publicKey = loadPublicKey(pinned.publicKeyPem).publicKey;
  } catch {
    return { state: 'untrusted-signer', keyId, facts: null, reason: `the pinned key ${keyId} cannot be read` };
  }
  if (facts.key_id !== keyId || !verifySignature(line, signature, publicKey))
    return { state: 'signature-invalid', keyId, facts: null, reason: `the signature by ${keyId} does not verify` };
  const wrong: string[] = [];
  if (facts.system !== expect.system) wrong.push(`it was signed for system ${facts.system}`);
  if (facts.name !== expect.name) wrong.push(`it was signed for ${facts.name}`);
  if (facts.plain_sha256 !== expect.plainSha256) wrong.push('the signed plaintext hash differs from the archived one');
  if (facts.stored_bytes !== expect.storedBytes)
    wrong.push(`the signed size is ${facts.stored_bytes} bytes, the archived file has ${expect.storedBytes}`);
  if (wrong.length)
    return {
      state: 'signature-invalid',
      keyId,
      facts: null,
      reason: `the signed facts do not match the archived file: ${wrong.join('; ')}`,
    };
  return { state: 'signed', keyId, facts, reason: null };
}

/** True when a file in this state may be read under this trust. An invalid signature is never accepted: it means a change. */
export function acceptable(state: WalSignatureState, trust: WalTrust): boolean {
  return state === 'signed' || (trust.allowUnsigned && (state === 'unsigned' || state === 'untrusted-signer'));
}

/** The refusal of one file, with what the operator can do. */
export function refusal(name: string, check: WalSignatureCheck): LifeboatError {
  if (check.state === 'signature-invalid') {
    return new LifeboatError(
      'SIGNATURE_INVALID',
      `The archived WAL file ${name} was refused: ${check.reason}. It may have been replaced on the medium; it was not handed to PostgreSQL.`,
      {
        hint: 'Restore to a time before this file, or use another copy of the archive.',
      },
    );
  }
  const what = check.state === 'unsigned' ? 'unsigned' : 'signed by a key that is not pinned';
  return new LifeboatError(
    'UNTRUSTED_SIGNER',
    `The archived WAL file ${name} is ${what} (${check.reason}); it was refused.`,
    {
      hint:
        check.state === 'unsigned'
          ? 'Archive with `wal-push --sign-key`; to use an archive written without signatures, accept it explicitly with --allow-unsigned-wal.'
          : 'Pin the signer with `lifeboat keys trust`, or accept it explicitly with --allow-unsigned-wal.',
    },
  );
}
