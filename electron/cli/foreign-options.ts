import type { Command } from 'commander';
import type { Engine } from '../engine/engine';
import { foreignSecrets, type SecretFiles } from '../engine/foreign/secrets';
import type { ForeignSecrets } from '../engine/foreign/types';

/** The options naming files that hold other tools' secrets (never the secrets themselves on the command line). */
export interface ForeignSecretOptions {
  passphraseFile?: string;
  passwordFile?: string;
}

/** Add --passphrase-file and --password-file to a command (scan, verify, restore). */
export function withForeignSecretOptions(cmd: Command): Command {
  return cmd
    .option(
      '--passphrase-file <file>',
      "a file holding the passphrase of other tools' encrypted backups: pgBackRest's repository cipher pass, OpenSSL enc files",
    )
    .option('--password-file <file>', 'a file holding the password of a restic repository');
}

export const secretFilesOf = (o: ForeignSecretOptions): SecretFiles => ({
  passphraseFile: o.passphraseFile ?? null,
  passwordFile: o.passwordFile ?? null,
});

/** The run's foreign secrets: the files given, then the OS keychain (foreign/secrets.ts). */
export function foreignSecretsFor(engine: Pick<Engine, 'credentials'>, o: ForeignSecretOptions): ForeignSecrets {
  return foreignSecrets({ files: secretFilesOf(o), keychain: engine.credentials });
}
