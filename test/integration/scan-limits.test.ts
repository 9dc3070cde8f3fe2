import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * Hostile manifests beside a healthy set: each is UNREADABLE for its own set only, refused within a size and depth limit
 * (16 MiB, 32 levels), the scan and verify go on, the log names the file, and memory stays bounded.
 */
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let healthy: string;

/** Run the CLI and report its peak RSS (MB), measured by the process itself as it exits. */
function withRss(...args: string[]): { status: number | null; stdout: string; stderr: string; rssMb: number } {
  const probe = join(dir.path, 'rss-probe.cjs');
  writeFileSync(
    probe,
    "process.on('exit', () => require('fs').writeSync(2, `\\nmaxrss-kb ${process.resourceUsage().maxRSS}\\n`));\n",
  );
  const r = spawnSync(process.execPath, ['--require', probe, BIN, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const m = /maxrss-kb (\d+)/.exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, rssMb: Number(m![1]) / 1024 };
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'usb');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb').status).toBe(0);
  const src = join(dir.path, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'a.txt'), 'alpha');
  const r = lifeboat(env, 'backup', 'files', '--system', 'docs', '--path', src, '--to', medium, '--json');
  expect(r.status, r.stderr).toBe(0);
  healthy = json<{ path: string }>(r).path;

  // 200,000 nested objects in the facts of an otherwise well-formed manifest.
  const deep = join(medium, 'sets', 'deep', '20261121T020000Z-files');
  mkdirSync(deep, { recursive: true });
  const good = JSON.parse(readFileSync(join(medium, healthy, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const nested = `${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}`;
  const text = JSON.stringify({ ...good, system: 'deep', set_id: '20261121T020000Z-files', source: '@@' }).replace(
    '"@@"',
    nested,
  );
  writeFileSync(join(deep, 'manifest.json'), text);

  // 100 MB of manifest (written in pieces: the test itself stays small).
  const huge = join(medium, 'sets', 'huge', '20261121T020000Z-files');
  mkdirSync(huge, { recursive: true });
  const fd = openSync(join(huge, 'manifest.json'), 'w');
  writeSync(fd, '{"format":"lifeboat-set/1","warnings":["');
  const chunk = Buffer.alloc(1024 * 1024, 'x');
  for (let i = 0; i < 100; i++) writeSync(fd, chunk);
  writeSync(fd, '"]}');
  closeSync(fd);
}, 120_000);

afterAll(() => dir?.cleanup());

describe('bounded manifests', () => {
  it('scan: the healthy set is catalogued, each bad manifest is UNREADABLE by name, memory stays bounded', () => {
    const r = withRss('scan', medium);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /UNREADABLE sets\/deep\/20261121T020000Z-files: manifest\.json nests objects or lists deeper than 32 levels/,
    );
    expect(r.stdout).toMatch(
      /UNREADABLE sets\/huge\/20261121T020000Z-files: manifest\.json is 104857\d+ bytes, over the 16 MiB/,
    );
    expect(r.stdout + r.stderr).not.toMatch(/Maximum call stack|This is a bug/);
    // Before the limits, the 100 MB manifest alone took 805 MB.
    expect(r.rssMb).toBeLessThan(300);
    const sets = json<Array<{ key: string }>>(lifeboat(env, 'sets', '--json'));
    expect(sets.map((s) => s.key)).toEqual([`docs/${healthy.split('/').pop()!}`]);
    const log = readFileSync(join(dir.path, 'home', 'logs', 'cli.log'), 'utf8');
    expect(log).toMatch(/UNREADABLE [^\n]*sets\/deep\/20261121T020000Z-files\/manifest\.json/);
    expect(log).toMatch(/UNREADABLE [^\n]*sets\/huge\/20261121T020000Z-files\/manifest\.json/);
  }, 120_000);

  it('verify: the healthy set passes, each bad one fails with its reason, and the run finishes', () => {
    const r = withRss('verify', medium, '--json');
    expect(r.status, r.stderr).toBe(1);
    const report = json<{ results: Array<{ key: string; verdict: string; detail: string | null }> }>(r);
    const by = new Map(report.results.map((x) => [x.key.split('/')[0], x]));
    expect(by.get('docs')?.verdict).toBe('ok');
    expect(by.get('deep')).toMatchObject({
      verdict: 'corrupted',
      detail: expect.stringMatching(/deeper than 32 levels/),
    });
    expect(by.get('huge')).toMatchObject({ verdict: 'corrupted', detail: expect.stringMatching(/over the 16 MiB/) });
    expect(r.rssMb).toBeLessThan(300);
  }, 120_000);
});
