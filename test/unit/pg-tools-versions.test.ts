import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  dumpToolMajor,
  installedPgTools,
  newerArchiveNeeded,
  pgRestoreFor,
  pgRestoreForDump,
  pickPgRestore,
  type PgTool,
} from '../../electron/engine/postgres/pg-tools';
import { tempDir } from '../helpers/temp';

const t = (major: number, dir = `/x/${major}`): PgTool => ({
  path: `${dir}/pg_restore`,
  version: `pg_restore (PostgreSQL) ${major}.2`,
  major,
});

describe('which pg_restore reads a dump: chosen by the dump, not the server', () => {
  it('the newest installed when it is at least as new as the dump', () => {
    expect(pickPgRestore([t(13), t(17), t(15)], 15)).toMatchObject({ major: 17 });
    expect(pickPgRestore([t(15)], 15)).toMatchObject({ major: 15 });
    expect(pickPgRestore([t(15), t(12)], 9)).toMatchObject({ major: 15 });
  });

  it('a dump newer than every installed one: what it needs, never a pick', () => {
    expect(pickPgRestore([t(15), t(16)], 17)).toEqual({ needs: 17 });
    expect(pickPgRestore([], 15)).toBeNull();
    // An unknown dump version: the newest, the one that reads the most.
    expect(pickPgRestore([t(14), t(16)], null)).toMatchObject({ major: 16 });
  });

  it('the dump version comes from the manifest: the tool string, else the server it dumped', () => {
    expect(dumpToolMajor({ tool: 'pg_dump (PostgreSQL) 17.2 (Debian 17.2-1.pgdg120+1)' })).toBe(17);
    expect(dumpToolMajor({ tool: 'pg_dump (PostgreSQL) 9.6.24' })).toBe(9);
    expect(dumpToolMajor({ server_version_num: 160004 })).toBe(16);
    expect(dumpToolMajor({ tool: 42 })).toBeNull();
    expect(dumpToolMajor({})).toBeNull();
    expect(dumpToolMajor(null)).toBeNull();
  });

  it('for the deep check: a path, or a not-checked detail naming what is needed', () => {
    expect(pgRestoreForDump([t(15), t(17)], { tool: 'pg_dump (PostgreSQL) 16.1' })).toBe('/x/17/pg_restore');
    expect(pgRestoreForDump([t(15)], { tool: 'pg_dump (PostgreSQL) 17.0' })).toEqual({
      needs: expect.stringMatching(/^needs pg_restore >= 17 \(the dump was written by pg_dump 17; installed: 15\)$/),
    });
    expect(pgRestoreForDump([], { tool: 'pg_dump (PostgreSQL) 15.0' })).toBeNull();
  });

  it("pg_restore's complaint about a newer archive format becomes 'needs', other failures stay failures", () => {
    expect(newerArchiveNeeded('pg_restore: error: unsupported version (1.16) in file header\n')).toMatch(
      /^needs pg_restore >= 17 /,
    );
    expect(newerArchiveNeeded('pg_restore: error: unsupported version (1.15) in file header')).toMatch(
      /^needs pg_restore >= 16 /,
    );
    expect(newerArchiveNeeded('pg_restore: error: unsupported version (1.42) in file header')).toMatch(
      /^needs a newer pg_restore \(the dump's archive format 1\.42/,
    );
    expect(newerArchiveNeeded('pg_restore: error: input file does not appear to be a valid archive')).toBeNull();
    expect(newerArchiveNeeded('pg_restore: error: could not read input file: end of file')).toBeNull();
  });
});

describe('the installed copies, from injected tool dirs', () => {
  let dir: ReturnType<typeof tempDir>;
  let savedPath: string | undefined;
  function fake(sub: string, major: number): string {
    const bin = join(dir.path, sub);
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'pg_restore'), `#!/bin/sh\necho "pg_restore (PostgreSQL) ${major}.3"\n`);
    chmodSync(join(bin, 'pg_restore'), 0o755);
    return bin;
  }
  beforeEach(() => {
    dir = tempDir();
    savedPath = process.env.PATH;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    dir.cleanup();
  });

  it('every copy is listed newest first; the restore picks by the dump and explains what is missing', async () => {
    const b98 = fake('b98', 98);
    const b99 = fake('b99', 99);
    process.env.PATH = [b98, savedPath].join(':');
    const found = await installedPgTools('pg_restore', b99);
    expect(found[0]).toMatchObject({ path: join(b99, 'pg_restore'), major: 99 });
    expect(found.map((f) => f.major)).toContain(98);
    expect(found.map((f) => f.major)).toEqual([...found.map((f) => f.major)].sort((a, b) => b - a));
    await expect(pgRestoreFor(98, b99)).resolves.toMatchObject({ major: 99 });
    await expect(pgRestoreFor(100, b99)).rejects.toMatchObject({
      code: 'TOOL_VERSION_MISMATCH',
      message: expect.stringMatching(/needs pg_restore >= 100, and the newest here is 99/),
    });
  });
});
