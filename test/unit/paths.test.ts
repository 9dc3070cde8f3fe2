import { describe, expect, it } from 'vitest';
import { dataPaths, resolveDataDir } from '../../electron/engine/settings/paths';
import { loadSettings, saveSettings } from '../../electron/engine/settings/settings';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp';

describe('data dir resolution', () => {
  it('LIFEBOAT_HOME overrides everything', () => {
    expect(resolveDataDir({ env: { LIFEBOAT_HOME: '/srv/lb', XDG_CONFIG_HOME: '/x' }, platform: 'linux', home: '/home/o' })).toBe('/srv/lb');
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
    expect(dataPaths('/d')).toMatchObject({ catalog: '/d/catalog.sqlite', settings: '/d/settings.json', logs: '/d/logs' });
  });
});

describe('settings', () => {
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
      expect(() => loadSettings(path)).toThrow(/tiers\.critical/);
    } finally {
      dir.cleanup();
    }
  });
});
