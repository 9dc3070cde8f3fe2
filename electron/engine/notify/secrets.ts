import { readFileSync, statSync } from 'node:fs';
import type { CredentialStore } from '../credentials/credential-store';
import { LifeboatError } from '../errors';

/**
 * Resolve a secret reference of the notification config: `env:NAME` (the variable), `file:/path`
 * (its first line), `keychain:notify:<name>` (the OS keychain, service Lifeboat). The value is
 * never logged or shown; errors name the reference only.
 */
export async function resolveSecretRef(
  ref: string,
  field: string,
  env: NodeJS.ProcessEnv,
  keychain: () => CredentialStore,
): Promise<string> {
  const missing = (what: string, hint: string): LifeboatError =>
    new LifeboatError('CREDENTIAL_UNAVAILABLE', `The notification config's ${field} (${ref}): ${what}.`, { hint });
  if (ref.startsWith('env:')) {
    const value = env[ref.slice(4)];
    if (!value)
      throw missing(
        'the variable is not set',
        `Set ${ref.slice(4)} in the environment the command runs in (the crontab line or the systemd unit's EnvironmentFile=).`,
      );
    return value;
  }
  if (ref.startsWith('file:')) return readSecretLine(ref.slice(5), `The notification config's ${field} (${ref})`);
  if (ref.startsWith('keychain:')) {
    const account = ref.slice('keychain:'.length);
    const value = await keychain().get(account);
    if (!value)
      throw missing(
        'no secret is stored under this account',
        `Store it with: lifeboat notify secret-add ${account.slice('notify:'.length)} --from-file <file>`,
      );
    return value;
  }
  throw missing('not a reference', 'Use env:NAME, file:/path or keychain:notify:<name>.');
}

/** The first line of a secret file, trimmed; a missing, unreadable, empty or oversized file is refused without its content. */
export function readSecretLine(path: string, what: string): string {
  const fail = (why: string, hint: string): LifeboatError =>
    new LifeboatError('CREDENTIAL_UNAVAILABLE', `${what}: ${why}.`, { hint });
  let text: string;
  try {
    if (statSync(path).size > 64 * 1024)
      throw fail('the file is larger than 64 KiB', 'A secret file holds the secret on its first line, nothing else.');
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof LifeboatError) throw e;
    throw fail(
      `the file cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      'Create it readable by the user the command runs as (chmod 600), the secret on its first line.',
    );
  }
  const value = (text.split(/\r?\n/)[0] ?? '').trim();
  if (!value) throw fail('the file is empty', 'Write the secret on its first line.');
  return value;
}
