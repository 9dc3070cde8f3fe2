import { parseIdentityFile, readIdentityFiles, type AgeIdentity } from './age';
import type { CredentialStore } from '../credentials/credential-store';

/** An age identity kept in the keychain, by its reference; the secret stays in this process. */
export interface KeychainIdentity {
  account: string;
  identities: AgeIdentity[];
}

/**
 * Every age identity the keychain holds (accounts `age:<name>`). A locked or missing keychain gives none, and an entry
 * that does not parse is left out: a key that cannot be read must not stop a check that another key can make.
 */
export async function keychainIdentities(store: CredentialStore): Promise<KeychainIdentity[]> {
  if ((await store.status()).state !== 'available') return [];
  const out: KeychainIdentity[] = [];
  for (const account of (await store.accounts()).filter((a) => a.startsWith('age:'))) {
    const secret = await store.get(account);
    if (!secret) continue;
    try {
      out.push({ account, identities: parseIdentityFile(secret) });
    } catch {
      continue;
    }
  }
  return out;
}

/** Identities from files the operator named, then (unless told not to) every identity in the keychain, each key once. */
export async function identitiesFor(
  store: CredentialStore,
  files: string[],
  useKeychain = true,
): Promise<AgeIdentity[]> {
  const given = readIdentityFiles(files);
  const kept = useKeychain ? (await keychainIdentities(store)).flatMap((k) => k.identities) : [];
  return uniqueIdentities([...given, ...kept]);
}

export function uniqueIdentities(list: AgeIdentity[]): AgeIdentity[] {
  const seen = new Set<string>();
  return list.filter((i) => !seen.has(i.recipient.keyId) && seen.add(i.recipient.keyId));
}
