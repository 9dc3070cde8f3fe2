import { describe, expect, it } from 'vitest';
import { dataPaths, resolveDataDir } from '../../electron/engine/settings/paths';
import { loadSettings, parseSettings, saveSettings } from '../../electron/engine/settings/settings';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp';

describe('data dir resolution', () => {
  it('LIFEBOAT_HOME overrides everything', () => {
    expect(
      resolveDataDir({ env: { LIFEBOAT_HOME: '/srv/lb', XDG_CONFIG_HOME: '/x' }, platform: 'linux', home: '/home/o' }),
    ).toBe('/srv/lb');
  });
  it.each([
    ['linux', {}, '/home/o/.config/Lifeboat'],
    ['linux', { XDG_CONFIG_HOME: '/cfg' }, '/cfg/Lifeboat'],
    ['darwin', {}, '/home/o/Library/Application Support/Lifeboat'],
    ['win32', { APPDATA: 'C:/Users/o/AppData/Roaming' }, 'C:/Users/o/AppData/Roaming/Lifeboat'],
  ] as const)('on %s with %j', (platform, env, expected) => {
    expect(resolveDataDir({ env, platform, home: '/home/o' }).replaceAll('\\', '/')).toBe(expected);
  });
  it('lays out the data dir', () => {
    expect(dataPaths('/d')).toMatchObject({
      catalog: '/d/catalog.sqlite',
      settings: '/d/settings.json',
      logs: '/d/logs',
    });
  });
});

describe('settings', () => {
  it('fills defaults, keeps what it knows and drops fields a newer version added', () => {
    const s = parseSettings({
      operatorName: 'Ana',
      futureField: true,
      systems: { db: { tier: 'critical', validations: [{ sql: 'select 1', expect: '= 1' }] }, web: {} },
      pgTargets: { prod: { url: 'postgres://db/app' } },
      s3Keys: { k: { accessKeyId: 'AKIA1', label: 'offsite' } },
      s3Media: [{ location: 's3://bucket/prefix', credential: 's3:k' }],
      azureKeys: { a: { account: 'drbackups' }, cs: {} },
      azureMedia: [{ location: 'azure://dr-site/prod', credential: 'azure:a' }],
    });
    expect(s).toEqual({
      version: 1,
      operatorName: 'Ana',
      pgBinDir: '',
      tiers: {
        critical: { rtoMinutes: 60, rpoMinutes: 5 },
        important: { rtoMinutes: 240, rpoMinutes: 60 },
        standard: { rtoMinutes: 1440, rpoMinutes: 240 },
      },
      systems: {
        db: { tier: 'critical', validations: [{ sql: 'select 1', expect: '= 1' }] },
        web: { validations: [] },
      },
      pgTargets: { prod: { url: 'postgres://db/app', label: '' } },
      s3Keys: { k: { accessKeyId: 'AKIA1', label: 'offsite' } },
      s3Media: [{ location: 's3://bucket/prefix', endpoint: '', region: '', credential: 's3:k' }],
      azureKeys: { a: { account: 'drbackups', label: '' }, cs: { account: '', label: '' } },
      azureMedia: [{ location: 'azure://dr-site/prod', endpoint: '', credential: 'azure:a' }],
    });
    expect(() => parseSettings({ azureMedia: [{ location: 'azure://ccc', credential: 's3:x' }] })).toThrow(
      /azure:<name> keychain reference/,
    );
    expect(() => parseSettings({ azureMedia: [{ location: 'azure://Bad--name' }] })).toThrow(/azure:\/\/container/);
    expect(() => parseSettings({ azureKeys: { a: { account: 'Not An Account' } } })).toThrow(/storage account name/);
    expect(() => parseSettings({ s3Media: [{ location: 's3://bucket', credential: 'pg:x' }] })).toThrow(
      /keychain reference/,
    );
    expect(() => parseSettings({ s3Media: [{ location: 's3://bucket', region: 'r'.repeat(101) }] })).toThrow(
      /at most 100/,
    );
  });

  it('defaults when absent, round-trips, and rejects a malformed file clearly', () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'settings.json');
      const defaults = loadSettings(path);
      expect(defaults.tiers.critical).toEqual({ rtoMinutes: 60, rpoMinutes: 5 });
      saveSettings(path, { ...defaults, operatorName: 'Ana' });
      expect(loadSettings(path).operatorName).toBe('Ana');
      writeFileSync(path, '{ not json');
      expect(() => loadSettings(path)).toThrow(/not valid JSON/);
      writeFileSync(path, JSON.stringify({ tiers: { critical: { rtoMinutes: -1, rpoMinutes: 5 } } }));
      expect(() => loadSettings(path)).toThrow(/tiers\.critical\.rtoMinutes: expected a number > 0/);
      writeFileSync(path, JSON.stringify({ s3Media: [{ location: 'http://bucket' }] }));
      expect(() => loadSettings(path)).toThrow(/s3Media\.0\.location: expected s3:\/\/bucket/);
      writeFileSync(path, JSON.stringify({ systems: { db: { tier: 'gold' } } }));
      expect(() => loadSettings(path)).toThrow(/systems\.db\.tier: expected one of critical, important, standard/);
      writeFileSync(path, JSON.stringify({ systems: { db: { validations: [{ sql: '', expect: '> 0' }] } } }));
      expect(() => loadSettings(path)).toThrow(/systems\.db\.validations\.0\.sql/);
      writeFileSync(path, JSON.stringify({ version: 2 }));
      expect(() => loadSettings(path)).toThrow(/at version: expected 1/);
    } finally {
      dir.cleanup();
    }
  });
});
