import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * Node's recursive mkdir retries forever where mkdir answers ENOENT under a folder that exists
 * (/proc, /sys, some FUSE mounts): a medium or a restore target there must fail at once and
 * clearly, never spin at full CPU (storage/make-folders.ts).
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  dir = tempDir();
  env = { ...process.env, LIFEBOAT_HOME: join(dir.path, 'home') };
});
afterAll(() => dir?.cleanup());

describe('folders that cannot be made', () => {
  it('medium init under /proc fails at once, naming the path', () => {
    const started = Date.now();
    const r = spawnSync(process.execPath, [BIN, 'medium', 'init', '/proc/lifeboat-no/such', '--label', 'x'], {
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.signal, 'killed by the timeout: it spun').toBeNull();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/\/proc\/lifeboat-no/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
