import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { LifeboatError } from '../errors';

/**
 * Ed25519 signatures over the canonical manifest bytes. The signature file is two lines:
 *   lifeboat-signature/1 ed25519 <key id>
 *   <base64 of the 64-byte signature>
 * so `tail -n1 manifest.json.sig | base64 -d` gives what `openssl pkeyutl -verify -rawin` checks.
 * Key id = first 16 hex of SHA-256 of the raw 32-byte public key.
 */
export const SIGNATURE_HEADER = 'lifeboat-signature/1 ed25519';
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

export function rawEd25519Public(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length);
}

export function signingKeyId(publicKey: KeyObject): string {
  return createHash('sha256').update(rawEd25519Public(publicKey)).digest('hex').slice(0, 16);
}

export function generateSigningKey(): { key: SigningKey; privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    key: { privateKey, publicKey, keyId: signingKeyId(publicKey) },
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

export function loadSigningKey(pem: string | Buffer): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new LifeboatError('KEY_INVALID', 'The signing key is not a readable PEM private key.', {
      hint: '`lifeboat keys signing-new --out <file>` makes one.',
    });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new LifeboatError(
      'KEY_INVALID',
      `The signing key is ${privateKey.asymmetricKeyType ?? 'unknown'}, not Ed25519.`,
    );
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: signingKeyId(publicKey) };
}

export function loadPublicKey(pem: string | Buffer): { publicKey: KeyObject; keyId: string; pem: string } {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem);
  } catch {
    throw new LifeboatError('KEY_INVALID', 'Not a readable PEM public key.');
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new LifeboatError('KEY_INVALID', 'Not an Ed25519 public key.');
  return {
    publicKey,
    keyId: signingKeyId(publicKey),
    pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

export function signManifest(bytes: Buffer, key: SigningKey): Buffer {
  const sig = sign(null, bytes, key.privateKey);
  return Buffer.from(`${SIGNATURE_HEADER} ${key.keyId}\n${sig.toString('base64')}\n`);
}

export function parseSignature(file: Buffer): { keyId: string; signature: Buffer } {
  const lines = file.toString('utf8').split('\n');
  const m = /^lifeboat-signature\/1 ed25519 ([0-9a-f]{16})$/.exec(lines[0] ?? '');
  const signature = Buffer.from(lines[1] ?? '', 'base64');
  if (!m || signature.length !== 64) throw new LifeboatError('SIGNATURE_INVALID', 'manifest.json.sig is malformed.');
  return { keyId: m[1]!, signature };
}

/** True when `signature` is a valid Ed25519 signature of `bytes` by `publicKey`. */
export function verifySignature(bytes: Buffer, signature: Buffer, publicKey: KeyObject): boolean {
  try {
    return verify(null, bytes, publicKey, signature);
  } catch {
    return false;
  }
}
