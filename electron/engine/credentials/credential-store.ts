import type { KeychainStatus } from '../../../shared/domain/app';
import { LifeboatError } from '../errors';

/** The keychain service name every Lifeboat secret is stored under. */
export const KEYCHAIN_SERVICE = 'Lifeboat';

/**
 * Accounts are references: `pg:<target id>`, `mysql:<target id>`, `s3:<medium id>`, `azure:<key id>`, `age:<key id>`, `signing:<key id>`, and the
 * passphrases of other tools' backups (foreign/secrets.ts): `pgbackrest:<stanza>`, `openssl:<scope>`,
 * `restic:<repository>`, each also `<tool>:default`; and the notification secrets (notify/): `notify:<name>`.
 */
export const ACCOUNT_PATTERN =
  /^(pg|mysql|s3|azure|age|signing|pgbackrest|openssl|restic|notify):[A-Za-z0-9._-]{1,120}$/;

/**
 * Where secrets live. The catalog, logs, reports and IPC only ever see the account reference.
 * Kept small so keytar (archived upstream) can be swapped for another backend.
 */
export interface CredentialStore {
  readonly backend: string;
  status(): Promise<KeychainStatus>;
  get(account: string): Promise<string | null>;
  set(account: string, secret: string): Promise<void>;
  delete(account: string): Promise<boolean>;
  /** Account references that hold a secret (never the secrets). */
  accounts(): Promise<string[]>;
}

export function assertAccount(account: string): void {
  if (!ACCOUNT_PATTERN.test(account)) {
    throw new LifeboatError('BAD_INPUT', `Not a credential reference: "${account.slice(0, 40)}"`, {
      hint: 'References look like pg:<target>, mysql:<target>, s3:<medium>, azure:<key>, age:<key id>, signing:<key id>, pgbackrest:|openssl:|restic:<scope>, or notify:<name>.',
    });
  }
}

interface KeytarModule {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
  findCredentials(service: string): Promise<Array<{ account: string; password: string }>>;
}

function unavailable(e: unknown): LifeboatError {
  const message = e instanceof Error ? e.message : String(e);
  const locked = /locked/i.test(message);
  return new LifeboatError(
    'CREDENTIAL_UNAVAILABLE',
    locked ? 'The OS keychain is locked.' : 'The OS keychain is not available.',
    {
      hint: locked
        ? 'Unlock the keychain (log in to the desktop session, or unlock the login keyring) and try again.'
        : 'On Linux a Secret Service (gnome-keyring or KWallet) must be running in the session. On a server, use the CLI with PGPASSWORD/.pgpass, AWS_* variables and key files instead.',
      cause: e,
    },
  );
}

/**
 * The secret behind a reference the operator gave (`--credential`, a step's `credential`), or
 * CREDENTIAL_UNAVAILABLE naming the reference: a reference given and empty is never taken for
 * "no password".
 */
export async function secretFor(store: Pick<CredentialStore, 'get'>, ref: string): Promise<string> {
  const secret = await store.get(ref);
  if (secret === null)
    throw new LifeboatError('CREDENTIAL_UNAVAILABLE', `No secret is stored for ${ref}.`, {
      hint: 'Store it first (lifeboat credentials add <kind> <scope> --from-file F, or the Credentials screen), then run this again.',
    });
  return secret;
}

/** The OS keychain through keytar (libsecret on Linux, Keychain on macOS, Credential Vault on Windows). */
export class KeytarCredentialStore implements CredentialStore {
  readonly backend = 'keytar';
  private module: KeytarModule | null = null;

  private load(): KeytarModule {
    if (!this.module) {
      try {
        // Loaded on first use so commands that never touch secrets do not pay for it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        this.module = require('keytar') as KeytarModule;
      } catch (e) {
        throw unavailable(e);
      }
    }
    return this.module;
  }

  private async call<T>(fn: (k: KeytarModule) => Promise<T>): Promise<T> {
    const k = this.load();
    try {
      return await fn(k);
    } catch (e) {
      // keytar only fails when the keychain itself is unreachable, locked or refuses us.
      throw unavailable(e);
    }
  }

  async status(): Promise<KeychainStatus> {
    try {
      await this.call((k) => k.findCredentials(KEYCHAIN_SERVICE));
      return { state: 'available', backend: this.describe(), detail: 'The OS keychain answered.', hint: null };
    } catch (e) {
      const err = e instanceof LifeboatError ? e : unavailable(e);
      return {
        state: /locked/i.test(err.message) ? 'locked' : 'unavailable',
        backend: this.describe(),
        detail: err.message,
        hint: err.hint ?? null,
      };
    }
  }

  private describe(): string {
    if (process.platform === 'darwin') return 'macOS Keychain';
    if (process.platform === 'win32') return 'Windows Credential Manager';
    return 'Secret Service (libsecret)';
  }

  async get(account: string): Promise<string | null> {
    assertAccount(account);
    return this.call((k) => k.getPassword(KEYCHAIN_SERVICE, account));
  }

  async set(account: string, secret: string): Promise<void> {
    assertAccount(account);
    if (secret.length === 0) throw new LifeboatError('BAD_INPUT', 'An empty secret cannot be stored.');
    await this.call((k) => k.setPassword(KEYCHAIN_SERVICE, account, secret));
  }

  async delete(account: string): Promise<boolean> {
    assertAccount(account);
    return this.call((k) => k.deletePassword(KEYCHAIN_SERVICE, account));
  }

  async accounts(): Promise<string[]> {
    const found = await this.call((k) => k.findCredentials(KEYCHAIN_SERVICE));
    return found.map((c) => c.account).sort();
  }
}

/** An in-memory store for unit tests and for `--no-keychain` runs; never persisted. */
export class MemoryCredentialStore implements CredentialStore {
  readonly backend = 'memory';
  private readonly secrets = new Map<string, string>();

  async status(): Promise<KeychainStatus> {
    return {
      state: 'available',
      backend: 'in-memory (not persisted)',
      detail: 'Secrets are kept in memory only.',
      hint: null,
    };
  }
  async get(account: string): Promise<string | null> {
    assertAccount(account);
    return this.secrets.get(account) ?? null;
  }
  async set(account: string, secret: string): Promise<void> {
    assertAccount(account);
    this.secrets.set(account, secret);
  }
  async delete(account: string): Promise<boolean> {
    assertAccount(account);
    return this.secrets.delete(account);
  }
  async accounts(): Promise<string[]> {
    return [...this.secrets.keys()].sort();
  }
}
