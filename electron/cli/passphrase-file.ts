import { readFileSync } from 'node:fs';
import type { ForeignSecrets } from '../engine/foreign/types';
import { LifeboatError } from '../engine/errors';

/**
 * `--passphrase-file <file>`: the passphrase of an encrypted pgBackRest repository (its repo*-cipher-pass),
 * first line of the file, for every stanza of the scanned medium. The keychain's credential kind is
 * foreign/secrets (another branch); this is the command-line half.
 */
export function secretsFromPassphraseFile(file: string | undefined): ForeignSecrets | undefined {
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new LifeboatError('BAD_INPUT', `--passphrase-file ${file} cannot be read.`, { cause: e });
  }
  const pass = text.split(/\r?\n/)[0] ?? '';
  if (pass === '') throw new LifeboatError('BAD_INPUT', `--passphrase-file ${file} is empty (the passphrase is its first line).`);
  // The seed scripts' `.enc` files share one key (BACKUP_ENCRYPTION_KEY): the same file serves them.
  return { get: (kind) => Promise.resolve(kind === 'pgbackrest-cipher' || kind === 'openssl-enc' ? pass : null) };
}
