import type { CredentialStore } from '../engine/credentials/credential-store';
import { foreignSecrets } from '../engine/foreign/secrets';
import type { ForeignSecrets } from '../engine/foreign/types';

/**
 * The secrets of foreign formats for scan and verify: `--passphrase-file <file>` (pgBackRest's cipher pass,
 * OpenSSL enc passphrases) first, then the keychain (`pgbackrest:<stanza>` … accounts, foreign/secrets.ts).
 */
export function cliForeignSecrets(passphraseFile: string | undefined, keychain: CredentialStore | null): ForeignSecrets {
  return foreignSecrets({ files: { passphraseFile: passphraseFile ?? null }, keychain });
}
