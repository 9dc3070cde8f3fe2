import { existsSync, readFileSync, statSync } from 'node:fs';
import { parseIdentityFile, parseRecipient, type AgeIdentity, type AgeRecipient } from '../engine/crypto/age';
import { loadSigningKey, type SigningKey } from '../engine/crypto/signing';
import { LifeboatError } from '../engine/errors';

/** `--recipient` takes an age1… string or a file of them (one per line, # comments). */
export function readRecipients(values: string[]): AgeRecipient[] {
  const out: AgeRecipient[] = [];
  for (const v of values) {
    if (v.startsWith('age1')) {
      out.push(parseRecipient(v));
      continue;
    }
    if (!existsSync(v))
      throw new LifeboatError('KEY_INVALID', `Not an age recipient nor a file of recipients: ${v.slice(0, 80)}`, {
        hint: 'Recipients look like age1…; `lifeboat keys age-new` prints one.',
      });
    for (const line of readFileSync(v, 'utf8').split('\n')) {
      const t = line.trim();
      if (t && !t.startsWith('#')) out.push(parseRecipient(t));
    }
  }
  return out;
}

export function readKeyFile(path: string, what: string): string {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a file');
    return readFileSync(path, 'utf8');
  } catch {
    throw new LifeboatError('KEY_INVALID', `The ${what} file cannot be read: ${path}`);
  }
}

export function readIdentities(paths: string[]): AgeIdentity[] {
  return paths.flatMap((p) => parseIdentityFile(readKeyFile(p, 'age identity')));
}

export function readSigningKey(path: string | undefined): SigningKey | null {
  return path ? loadSigningKey(readKeyFile(path, 'signing key')) : null;
}
