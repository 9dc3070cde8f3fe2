import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json';
import { tempDir } from '../helpers/temp';

const BIN = join(__dirname, '../../bin/lifeboat.cjs');
let home: ReturnType<typeof tempDir>;
beforeAll(() => {
  home = tempDir();
});
afterAll(() => home.cleanup());

function lifeboat(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, LIFEBOAT_HOME: home.path },
    encoding: 'utf8',
  });
}

describe('the lifeboat command (plain Node)', () => {
  it('lists its commands with --help and prints --version', () => {
    const help = lifeboat('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: lifeboat/);
    for (const command of ['info', 'doctor']) expect(help.stdout).toContain(command);
    const version = lifeboat('--version');
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('exits 2 on bad usage', () => {
    const r = lifeboat('no-such-command');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command/);
  });

  it('keeps everything under LIFEBOAT_HOME and reports real catalog data as JSON', () => {
    const r = lifeboat('info', '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout) as {
      dataDir: string;
      catalog: { sets: number };
      catalogSchemaVersion: number;
      version: string;
    };
    expect(info.dataDir).toBe(home.path);
    expect(info.catalog.sets).toBe(0);
    expect(info.catalogSchemaVersion).toBeGreaterThan(0);
    expect(existsSync(join(home.path, 'catalog.sqlite'))).toBe(true);
  });

  it('doctor checks the catalog and finds the PostgreSQL tools', () => {
    const r = lifeboat('doctor', '--json');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout) as {
      catalogIntegrity: string;
      tools: Array<{ name: string; path: string | null; version: string | null; only: string | null }>;
    };
    expect(result.catalogIntegrity).toBe('ok');
    expect(result.tools.find((t) => t.name === 'pg_dump')?.path).toMatch(/pg_dump$/);
    // The Redis and MySQL/MariaDB tools, with versions, marked as needed only for those kinds.
    const tool = (name: string) => result.tools.find((t) => t.name === name);
    for (const name of ['redis-server', 'redis-check-rdb', 'redis-check-aof'])
      expect(tool(name), name).toMatchObject({ only: 'redis sets', problem: null });
    expect(tool('redis-check-rdb')?.version).toMatch(/7\.\d+\.\d+/);
    for (const name of ['mariadb', 'mariadb-dump', 'mariadbd'])
      expect(tool(name), name).toMatchObject({ only: 'mysql sets', version: expect.stringMatching(/MariaDB/) });
    expect(tool('pg_dump')).toMatchObject({ only: null });
  });

  it('reports a damaged catalog with exit 2 and the way out', () => {
    const broken = tempDir();
    try {
      writeFileSync(join(broken.path, 'catalog.sqlite'), 'garbage '.repeat(1000));
      const r = spawnSync(process.execPath, [BIN, 'info'], {
        env: { ...process.env, LIFEBOAT_HOME: broken.path },
        encoding: 'utf8',
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/damaged/);
      expect(r.stderr).toMatch(/scan --rebuild/);
    } finally {
      broken.cleanup();
    }
  });
});
