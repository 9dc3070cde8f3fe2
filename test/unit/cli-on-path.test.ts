import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliOnPath } from '../../shared/cli-on-path';

// What Settings tells the operator matches where the package puts the wrapper (electron-builder.yml, the deb's postinst).
describe('cliOnPath', () => {
  it('points at the wrapper the package ships, per OS', () => {
    expect(cliOnPath('linux').steps.join(' ')).toContain('/usr/bin/lifeboat');
    expect(cliOnPath('darwin').command).toBe(
      'sudo ln -s /Applications/Lifeboat.app/Contents/Resources/bin/lifeboat /usr/local/bin/lifeboat',
    );
    expect(cliOnPath('win32').command).toContain('\\Lifeboat\\resources\\bin');
    expect(cliOnPath('freebsd').steps[0]).toContain('resources/bin');
    const yml = readFileSync(join(__dirname, '..', '..', 'electron-builder.yml'), 'utf8');
    expect(yml).toContain('to: bin/lifeboat\n');
    expect(yml).toContain('to: bin/lifeboat.cmd\n');
  });
});
