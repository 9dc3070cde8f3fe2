import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { candidatePgBinDirs } from '../../electron/engine/tools/tools';
import { findPgTool, pickPgTool } from '../../electron/engine/postgres/pg-tools';
import { tempDir } from '../helpers/temp';

// Fake client tools: shell scripts that print a version and note each call in a log.
let dir: ReturnType<typeof tempDir>;
let savedPath: string | undefined;
const log = (): string[] => readFileSync(join(dir.path, 'calls.log'), 'utf8').split('\n').filter(Boolean);

function fakeTool(sub: string, major: number): string {
  const bin = join(dir.path, sub);
  mkdirSync(bin, { recursive: true });
  const path = join(bin, 'pg_dump');
  writeFileSync(
    path,
    `#!/bin/sh\necho "${path}" >> "${join(dir.path, 'calls.log')}"\necho "pg_dump (PostgreSQL) ${major}.1"\n`,
  );
  chmodSync(path, 0o755);
  return bin;
}

beforeEach(() => {
  dir = tempDir();
  writeFileSync(join(dir.path, 'calls.log'), '');
  savedPath = process.env.PATH;
});
afterEach(() => {
  process.env.PATH = savedPath;
  dir.cleanup();
});

describe('finding pg_dump for a server', () => {
  it('in a given directory only: the exact major, else a clear mismatch', async () => {
    const bin = fakeTool('pg14', 14);
    await expect(findPgTool('pg_dump', bin)(14)).resolves.toMatchObject({ path: join(bin, 'pg_dump'), major: 14 });
    await expect(findPgTool('pg_dump', bin)(16)).rejects.toMatchObject({
      code: 'TOOL_VERSION_MISMATCH',
      message: expect.stringMatching(/server version mismatch/),
    });
    await expect(findPgTool('pg_dump', join(dir.path, 'nothing'))(16)).rejects.toMatchObject({ code: 'TOOL_MISSING' });
  });

  it('asks PATH only when the install dirs lack the server major, and each file once', async () => {
    const onPath = fakeTool('path-bin', 99);
    // The same file under a second name (like /bin and /usr/bin on merged-/usr systems).
    symlinkSync(onPath, join(dir.path, 'alias-bin'));
    process.env.PATH = [onPath, join(dir.path, 'alias-bin'), savedPath].join(delimiter);
    const installed = candidatePgBinDirs().length > 0;
    const tool = await findPgTool('pg_dump')(99);
    expect(tool.path).toBe(join(onPath, 'pg_dump'));
    expect(log()).toEqual([join(onPath, 'pg_dump')]);
    if (installed) {
      // This machine has a versioned install (the integration tests' PostgreSQL): its own major
      // is found there without asking PATH.
      const major = Number(/(\d+)/.exec(candidatePgBinDirs()[0]!)![1]);
      writeFileSync(join(dir.path, 'calls.log'), '');
      expect((await findPgTool('pg_dump')(major)).major).toBe(major);
      expect(log()).toEqual([]);
    }
  });

  it('prefers the server major, else the oldest newer tool', () => {
    const t = (major: number) => ({ path: `/x/${major}/pg_dump`, version: `${major}.0`, major });
    expect(pickPgTool('pg_dump', [t(17), t(15), t(16)], 15).major).toBe(15);
    expect(pickPgTool('pg_dump', [t(17), t(16)], 15).major).toBe(16);
    expect(() => pickPgTool('pg_dump', [t(13)], 15)).toThrow(/pg_dump 13 cannot work with a PostgreSQL 15 server/);
  });
});
