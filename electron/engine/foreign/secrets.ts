import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { LifeboatError, mapError } from '../errors';
import type { ForeignSecrets } from './types';

/**
 * Passphrases and passwords of other tools' backups (issue 19): pgBackRest's repository cipher pass,
 * OpenSSL `enc` passphrases of the seed scripts' `.enc` files, restic repository passwords.
 *
 * Two sources, never argv values: a file named on the command line (`--passphrase-file`,
 * `--password-file`) and the OS keychain, account `<tool>:<scope>` (`pgbackrest:<stanza>`,
 * `openssl:<system>`, `restic:<repository folder name>`), falling back to `<tool>:default`. A file
 * given on the command line wins over the keychain: the operator named it for this run. No secret
 * ever reaches a log line, an error message or a child's argv (restic gets RESTIC_PASSWORD_FILE).
 */

export type ForeignSecretKind = Parameters<ForeignSecrets['get']>[0];

/** The keychain account prefix of each kind (credentials/credential-store.ts ACCOUNT_PATTERN accepts them). */
export const SECRET_TOOL: Record<ForeignSecretKind, 'pgbackrest' | 'openssl' | 'restic'> = {
  'pgbackrest-cipher': 'pgbackrest',
  'openssl-enc': 'openssl',
  'restic-password': 'restic',
};

export const SECRET_TOOLS = ['pgbackrest', 'openssl', 'restic'] as const;
export type SecretTool = (typeof SECRET_TOOLS)[number];

const MAX_SECRET_FILE = 64 * 1024;

/** The keychain account for a scope: characters the keychain reference does not allow become `_`; a long scope is shortened with its hash. */
export function accountFor(tool: SecretTool, scope: string | null): string {
  let s = (scope ?? 'default').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'default';
  if (s.length > 120)
    s = `${s.slice(-100)}-${createHash('sha256')
      .update(scope ?? '')
      .digest('hex')
      .slice(0, 12)}`;
  return `${tool}:${s}`;
}

/** The secret in a file: its bytes as text, one trailing newline removed (as restic, pgBackRest and openssl -pass file: read them). */
export function readSecretFile(path: string, what = 'passphrase file'): string {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new LifeboatError('BAD_INPUT', `The ${what} ${path} is not a regular file.`);
    if (st.size > MAX_SECRET_FILE)
      throw new LifeboatError(
        'BAD_INPUT',
        `The ${what} ${path} is ${st.size} bytes; a passphrase file holds one line.`,
      );
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof LifeboatError) throw e;
    // The OS message names the path and the reason (ENOENT, EACCES), never the content.
    throw new LifeboatError(
      'BAD_INPUT',
      `Cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? mapError(e).message}.`,
      { hint: 'Give a readable file holding the passphrase on its first line.' },
    );
  }
  const secret = text.replace(/\r?\n$/, '');
  if (!secret)
    throw new LifeboatError('BAD_INPUT', `The ${what} ${path} is empty.`, {
      hint: 'Give a file holding the passphrase on its first line.',
    });
  return secret;
}

/** Files named on the command line for this run. */
export interface SecretFiles {
  /** `--passphrase-file`: pgBackRest's cipher pass and OpenSSL `enc` passphrases. */
  passphraseFile?: string | null;
  /** `--password-file`: restic repository passwords. */
  passwordFile?: string | null;
}

/** The keychain, as far as this needs it (credentials/credential-store.ts CredentialStore fits). */
export interface SecretLookup {
  get(account: string): Promise<string | null>;
}

/**
 * ForeignSecrets from the run's files and the keychain. A keychain that is missing or locked is no
 * error here: the secret is simply not found there, and what is needed is said by the caller
 * (`needsSecret`). A named file that cannot be read is an error at once (exit 2).
 */
export function foreignSecrets(o: { files?: SecretFiles; keychain?: SecretLookup | null } = {}): ForeignSecrets {
  const cache = new Map<string, Promise<string | null>>();
  const fromFile = (kind: ForeignSecretKind): string | null => {
    const file = kind === 'restic-password' ? o.files?.passwordFile : o.files?.passphraseFile;
    return file ? readSecretFile(file, kind === 'restic-password' ? 'password file' : 'passphrase file') : null;
  };
  const fromKeychain = async (tool: SecretTool, scope: string): Promise<string | null> => {
    if (!o.keychain) return null;
    for (const account of [...new Set([accountFor(tool, scope), accountFor(tool, null)])]) {
      try {
        const s = await o.keychain.get(account);
        if (s) return s;
      } catch (e) {
        if (mapError(e).code === 'CREDENTIAL_UNAVAILABLE') return null;
        throw e;
      }
    }
    return null;
  };
  return {
    get(kind, scope) {
      const key = `${kind}\0${scope}`;
      let p = cache.get(key);
      if (!p) {
        p = (async () => fromFile(kind) ?? (await fromKeychain(SECRET_TOOL[kind], scope)))();
        cache.set(key, p);
      }
      return p;
    },
  };
}

/** What a finding says is needed to read something locked by this kind of secret (never the secret). */
export function needsSecret(kind: ForeignSecretKind, scope: string | null): string {
  const tool = SECRET_TOOL[kind];
  const word = kind === 'restic-password' ? 'password' : 'passphrase';
  const option = kind === 'restic-password' ? '--password-file <file>' : '--passphrase-file <file>';
  // No "password:" followed by a word: the log redaction (log/redact.ts) would mask the option's name.
  return `its ${word}, in a file given with ${option} or stored in the keychain (lifeboat credentials add ${tool} ${accountFor(tool, scope).slice(tool.length + 1)} --from-file <file>)`;
}

/**
 * An encrypted pgBackRest repository's passphrase (repo1-cipher-pass) for a stanza, as the readers
 * take it (`PgbrKeys` in pgbackrest/wal.ts): the run's `--passphrase-file` when given, else the
 * keychain's `pgbackrest:<stanza>`, then `pgbackrest:default`; null when neither holds one (a plain
 * repository needs none; an encrypted one then says what it needs, `needsSecret`). The CLI, the
 * runbook actions and the app's PITR plan all read it here.
 */
export async function pgbrKeysFor(
  stanza: string,
  o: { passphraseFile?: string | null; keychain?: SecretLookup | null } = {},
): Promise<{ repoPassphrase: string | null }> {
  const secrets = foreignSecrets({ files: { passphraseFile: o.passphraseFile ?? null }, keychain: o.keychain ?? null });
  return { repoPassphrase: await secrets.get('pgbackrest-cipher', stanza) };
}
