import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';
import { treeState, withMtimesWithin } from '../helpers/tree-state';

/**
 * Issue 17 item 7: a legitimate /etc-like tree — absolute links and links out of the tree,
 * setuid files owned by another uid, hard links, a FIFO, a device node, long and non-UTF-8 names —
 * comes back exactly through `lifeboat backup files` + `lifeboat restore files` (signed, encrypted),
 * every entry compared by lstat (type, mode, owner, link count, content, target, device, mtime).
 * Root is needed for owners and device nodes: the tests run as root here and in CI.
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let src: string;
let identity: string;

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'medium');
  identity = join(dir.path, 'id.age');
  const signKey = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb').status).toBe(0);
  const recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);

  src = join(dir.path, 'etc');
  mkdirSync(join(src, 'alternatives'), { recursive: true });
  mkdirSync(join(src, 'ssl', 'private'), { recursive: true });
  writeFileSync(join(src, 'hostname'), 'db1\n');
  writeFileSync(join(src, 'ssl', 'private', 'key.pem'), 'secret\n', { mode: 0o600 });
  symlinkSync('/usr/bin/vim.basic', join(src, 'alternatives', 'editor'));
  symlinkSync('../../var/run', join(src, 'run'));
  writeFileSync(join(src, 'sudo-helper'), '#!/bin/sh\n');
  chownSync(join(src, 'sudo-helper'), 1234, 1234);
  chmodSync(join(src, 'sudo-helper'), 0o4755);
  writeFileSync(join(src, 'shadow'), 'root:*:1:0:::::\n');
  chownSync(join(src, 'shadow'), 0, 42);
  chmodSync(join(src, 'shadow'), 0o640);
  linkSync(join(src, 'hostname'), join(src, 'hostname.hardlink'));
  execFileSync('mkfifo', [join(src, 'initctl')]);
  execFileSync('mknod', [join(src, 'null-dev'), 'c', '1', '3']);
  const long = join(src, 'd'.repeat(120), 'e'.repeat(120));
  mkdirSync(long, { recursive: true });
  writeFileSync(join(long, `${'f'.repeat(200)}.conf`), 'long\n');
  writeFileSync(Buffer.concat([Buffer.from(`${src}/caf`), Buffer.from([0xe9]), Buffer.from('.conf')]), 'latin-1\n');
  chmodSync(join(src, 'ssl', 'private'), 0o700);
  for (const p of ['alternatives', 'ssl/private', 'ssl', ''])
    utimesSync(join(src, p), 1_700_000_000.123456, 1_700_000_000.123456);

  const r = lifeboat(
    env,
    'backup',
    'files',
    '--class',
    'config',
    '--system',
    'etc',
    '--path',
    src,
    '--to',
    medium,
    '--recipient',
    recipient,
    '--sign-key',
    signKey,
    '--json',
  );
  expect(r.status, r.stderr).toBe(0);
  expect(json<{ warnings: string[] }>(r).warnings).toEqual([]);
}, 120_000);

afterAll(() => dir?.cleanup());

describe('backup files + restore files', () => {
  it('an /etc-like tree comes back exactly', () => {
    const sets = json<Array<{ key: string }>>(lifeboat(env, 'sets', '--system', 'etc', '--json'));
    const into = join(dir.path, 'restored');
    const r = lifeboat(env, 'restore', 'files', sets[0]!.key, '--to', into, '--identity', identity, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    // The restored tree holds the backed-up folder by its name; mtimes within the 2 µs Node's utimes can set.
    const want = treeState(src);
    expect(withMtimesWithin(want, treeState(join(into, 'etc')), 2_000)).toEqual(want);
    const verify = lifeboat(env, 'verify', medium, '--level', 'deep', '--identity', identity, '--json');
    expect(verify.status, verify.stdout).toBe(0);
    // Links out of the tree are information, not unsafe paths.
    expect(verify.stdout).toMatch(/links? points? outside the tree/);
  });
});
