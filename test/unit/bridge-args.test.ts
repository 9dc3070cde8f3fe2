import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { argValue, bridgeDataDir } from '../../electron/bridge/args';
import { tempDir } from '../helpers/temp';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('npm run bridge -- --demo-dir DIR', () => {
  it('reads --name VALUE and --name=VALUE', () => {
    expect(argValue(['--demo-dir', '/tmp/d'], '--demo-dir')).toBe('/tmp/d');
    expect(argValue(['--port=8080', '--demo-dir=/tmp/e'], '--demo-dir')).toBe('/tmp/e');
    expect(argValue(['--port=8080'], '--demo-dir')).toBeNull();
  });

  it("opens the demo's data dir (DIR/home, as the desktop app does) and refuses a folder without one", () => {
    const demo = join(dir.path, 'demo');
    mkdirSync(join(demo, 'home'), { recursive: true });
    expect(bridgeDataDir(['--demo-dir', demo])).toBe(join(demo, 'home'));
    expect(bridgeDataDir([`--demo-dir=${demo}/`])).toBe(join(demo, 'home'));
    expect(() => bridgeDataDir(['--demo-dir', join(dir.path, 'nothing')])).toThrow(
      /holds no demo data .*lifeboat demo --keep --dir/,
    );
    expect(() => bridgeDataDir(['--demo-dir='])).toThrow(/needs a folder/);
  });
});
