import { readFileSync } from 'node:fs';
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
  if (ref.startsWith('file:')) {
    const path = ref.slice(5);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw missing(
        `the file cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        'Create it readable by the user the command runs as (chmod 600), the secret on its first line.',
      );
    }
    const value = (text.split(/\r?\n/)[0] ?? '').trim();
    if (!value) throw missing('the file is empty', 'Write the secret on its first line.');
    return value;
  }
  if (ref.startsWith('keychain:')) {
    const account = ref.slice('keychain:'.length);
    const value = await keychain().get(account);
    if (!value)
      throw missing(
        'no secret is stored under this account',
        `Store it in the OS keychain under service "Lifeboat", account "${account}" (docs/notifications.md shows how).`,
      );
    return value;
  }
  throw missing('not a reference', 'Use env:NAME, file:/path or keychain:notify:<name>.');
}
