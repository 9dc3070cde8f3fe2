import { loadPublicKey } from '../crypto/signing';
import type { Catalog } from './catalog';

/** Pinned signing keys: public keys only. A signature by any other key is `untrusted-signer`. */
export interface TrustedKey {
  keyId: string;
  label: string;
  publicKeyPem: string;
  addedAt: string;
}

export function trustKey(catalog: Catalog, pem: string, label: string | null, now = new Date()): TrustedKey {
  const { keyId, pem: normalized } = loadPublicKey(pem);
  const key: TrustedKey = {
    keyId,
    label: label?.trim() || keyId,
    publicKeyPem: normalized,
    addedAt: now.toISOString(),
  };
  catalog
    .stmt(
      'INSERT INTO trusted_keys (key_id, label, public_key_pem, added_at) VALUES (?, ?, ?, ?) ON CONFLICT(key_id) DO UPDATE SET label = excluded.label',
    )
    .run(key.keyId, key.label, key.publicKeyPem, key.addedAt);
  return key;
}

export function trustedKeys(catalog: Catalog): TrustedKey[] {
  return catalog
    .stmt(
      'SELECT key_id AS keyId, label, public_key_pem AS publicKeyPem, added_at AS addedAt FROM trusted_keys ORDER BY added_at',
    )
    .all() as TrustedKey[];
}

export function untrustKey(catalog: Catalog, keyId: string): boolean {
  return catalog.stmt('DELETE FROM trusted_keys WHERE key_id = ?').run(keyId).changes > 0;
}
