import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let src: string;

beforeAll(() => {
  dir = tempDir();
  env = { ...process.env, LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'usb');
  src = join(dir.path, 'photos');
  mkdirSync(src);
  // ~200 MB of incompressible files: long enough to be killed in the middle.
  for (let i = 0; i < 40; i++) writeFileSync(join(src, `photo-${i}.jpg`), randomBytes(5 * 1024 * 1024));
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb').status).toBe(0);
});
afterAll(() => dir.cleanup());

function partials(): string[] {
  const sys = join(medium, 'sets/photos');
  return existsSync(sys) ? readdirSync(sys).filter((e) => e.startsWith('.partial-')) : [];
}

describe('kill -9 during a backup', () => {
  it('leaves no set, and the next backup cleans up and succeeds', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'backup', 'files', '--system', 'photos', '--path', src, '--to', medium],
      { env, stdio: 'ignore' },
    );
    // Wait until the artifact is being written, then kill without warning.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const p = partials()[0];
      const tar = p ? join(medium, 'sets/photos', p, 'files.tar.zst') : null;
      if (tar && existsSync(tar) && statSync(tar).size > 8 * 1024 * 1024) break;
      if (Date.now() > deadline) throw new Error('the backup never started writing');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));

    expect(partials()).toHaveLength(1);
    // A reader sees no set: only complete set folders count.
    expect(readdirSync(join(medium, 'sets/photos')).filter((e) => !e.startsWith('.'))).toEqual([]);

    const r = lifeboat(env, 'backup', 'files', '--system', 'photos', '--path', src, '--to', medium, '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/removed leftovers of an interrupted backup/);
    expect(partials()).toEqual([]);
    const set = json<{ path: string }>(r);
    expect(readdirSync(join(medium, 'sets/photos'))).toEqual([set.path.split('/').pop()]);
  });

  it('Ctrl-C (SIGINT) stops cleanly and removes its partial set itself', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'backup', 'files', '--system', 'photos', '--path', src, '--to', medium],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const deadline = Date.now() + 30_000;
    while (partials().length === 0) {
      if (Date.now() > deadline) throw new Error('the backup never started');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('close', r));
    expect(code).toBe(1);
    expect(stderr).toMatch(/Cancelled/);
    expect(partials()).toEqual([]);
  });
});
