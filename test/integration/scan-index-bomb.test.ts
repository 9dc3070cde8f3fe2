import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * Issue 17 item 4: a file index that decodes to far more than its manifest's plain_bytes (an
 * index bomb) is stopped at plain_bytes + 1 when a scan indexes it for `find`, instead of being
 * decoded whole into memory; the set stays catalogued, the scan goes on.
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'medium');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb').status).toBe(0);
  const src = join(dir.path, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'a.txt'), 'a');
  expect(
    lifeboat(env, 'backup', 'files', '--system', 'bomb', '--path', src, '--to', medium, '--allow-plaintext').status,
  ).toBe(0);
  // 2 GiB of zeros in a ~64 KB zstd frame in place of the index (its manifest says a few hundred bytes).
  const [setId] = readdirSync(join(medium, 'sets', 'bomb'));
  const index = join(medium, 'sets', 'bomb', setId!, 'index.jsonl.zst');
  execFileSync('bash', ['-c', `head -c 2G /dev/zero | zstd -q -19 -c > "${index}"`]);
  expect(readFileSync(index).length).toBeLessThan(1024 * 1024);
}, 120_000);

afterAll(() => dir?.cleanup());

describe('scan', () => {
  // Measured by hand: before, this scan took 10 s and 4.2 GB RSS ("data is too long"); now 0.14 s, 62 MB.
  it('stops an index bomb at the manifest plain_bytes and keeps the set', () => {
    // A laptop that never saw the set (the backup itself recorded the index in its own catalog).
    const laptop = { LIFEBOAT_HOME: join(dir.path, 'laptop') };
    const started = Date.now();
    const r = lifeboat(laptop, 'scan', medium, '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
    const log = readFileSync(join(laptop.LIFEBOAT_HOME, 'logs', 'cli.log'), 'utf8');
    expect(log).toMatch(/not indexed: .*decodes to more than the \d+ bytes its manifest records/);
    expect(json<Array<{ key: string }>>(lifeboat(laptop, 'sets', '--system', 'bomb', '--json'))).toHaveLength(1);
  });
});
