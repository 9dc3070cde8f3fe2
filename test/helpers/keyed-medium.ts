import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { json, lifeboat, type CliRun } from './cli';

/**
 * The set-up most integration tests share: a Lifeboat medium, an age identity (its recipient), a
 * signing key and, unless told not to, that key pinned (`keys trust`), all made with the real CLI in
 * `dir` for the data directory `env` names. Each step is checked: a helper that cannot set up throws
 * saying which command failed and what it printed.
 */
export interface KeyedMedium {
  env: NodeJS.ProcessEnv;
  medium: string;
  identity: string;
  recipient: string;
  signKey: string;
  /** `lifeboat backup <args> --to medium --recipient … [--sign-key …] --json`, checked; its set id and path. */
  backup(args: string[], o?: { sign?: boolean }): { setId: string; path: string; key: string };
}

function checked(what: string, r: CliRun): CliRun {
  if (r.status !== 0) throw new Error(`set-up: lifeboat ${what} failed (exit ${r.status}): ${r.stderr.trim()}`);
  return r;
}

export function keyedMedium(
  env: NodeJS.ProcessEnv,
  dir: string,
  o: {
    label?: string;
    medium?: string;
    /** The identity's file name in `dir` (default id.age). */
    identity?: string;
    /** Pin the signing key: with this label (default 'servers'), `true` without one, `false` not at all. */
    trust?: string | boolean;
    sign?: boolean;
  } = {},
): KeyedMedium {
  const medium = join(dir, o.medium ?? 'medium');
  const identity = join(dir, o.identity ?? 'id.age');
  const signKey = join(dir, 'sign.pem');
  checked('medium init', lifeboat(env, 'medium', 'init', medium, '--label', o.label ?? 'drive-a'));
  const recipient = checked('keys age-new', lifeboat(env, 'keys', 'age-new', '--out', identity)).stdout.trim();
  if (!/^age1[0-9a-z]{58}$/.test(recipient) || !existsSync(identity))
    throw new Error(`set-up: keys age-new gave no recipient and identity file: ${JSON.stringify(recipient)}`);
  checked('keys signing-new', lifeboat(env, 'keys', 'signing-new', '--out', signKey));
  const trust = o.trust ?? 'servers';
  if (trust !== false)
    checked(
      'keys trust',
      lifeboat(env, 'keys', 'trust', `${signKey}.pub`, ...(typeof trust === 'string' ? ['--label', trust] : [])),
    );
  const signByDefault = o.sign ?? true;
  return {
    env,
    medium,
    identity,
    recipient,
    signKey,
    backup(args, b = {}) {
      const sign = (b.sign ?? signByDefault) ? ['--sign-key', signKey] : [];
      const r = checked(
        `backup ${args.join(' ')}`,
        lifeboat(env, 'backup', ...args, '--to', medium, '--recipient', recipient, ...sign, '--json'),
      );
      const out = json<{ set_id: string; path: string }>(r);
      const system = args[args.indexOf('--system') + 1];
      return { setId: out.set_id, path: out.path, key: `${system}/${out.set_id}` };
    },
  };
}
