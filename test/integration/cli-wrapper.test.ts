import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp';

// The package's `lifeboat` command (packaging/bin/lifeboat) in a hand-built package layout, with
// `node` standing in for the app's executable (Electron in Node mode is Node): it must find the
// executable from its own place (also through a /usr/bin-style link), set ELECTRON_RUN_AS_NODE=1,
// pass every argument as it is and return the CLI's exit code.
const ROOT = join(__dirname, '..', '..');
const WRAPPER = join(ROOT, 'packaging', 'bin', 'lifeboat');

let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir('lifeboat-wrapper-');
});
afterAll(() => dir?.cleanup());

/** The stand-in executable: records that it was started, then runs Node on what it was given. */
function standIn(path: string): void {
  writeFileSync(path, `#!/bin/sh\necho "exe:$0" >&2\nexec ${JSON.stringify(process.execPath)} "$@"\n`);
  chmodSync(path, 0o755);
}

/** A package layout: `exe` at its OS's place, resources/bin/lifeboat, and the CLI entry in resources/app.asar. */
function layout(name: string, os: 'linux' | 'mac', cli: string | null): { resources: string; exe: string } {
  // A space in the install path ("Program Files", a user's home) must not split anything.
  const base = join(dir.path, `${name} app`);
  const resources = os === 'mac' ? join(base, 'Lifeboat.app', 'Contents', 'Resources') : join(base, 'resources');
  const exe = os === 'mac' ? join(base, 'Lifeboat.app', 'Contents', 'MacOS', 'Lifeboat') : join(base, 'lifeboat');
  mkdirSync(join(resources, 'bin'), { recursive: true });
  mkdirSync(join(exe, '..'), { recursive: true });
  copyFileSync(WRAPPER, join(resources, 'bin', 'lifeboat'));
  chmodSync(join(resources, 'bin', 'lifeboat'), 0o755);
  standIn(exe);
  if (cli === null) {
    // Plain Node cannot read an asar archive: a folder with the checkout's bin/ and out/ stands in for it.
    symlinkSync(ROOT, join(resources, 'app.asar'));
  } else {
    mkdirSync(join(resources, 'app.asar', 'bin'), { recursive: true });
    writeFileSync(join(resources, 'app.asar', 'bin', 'lifeboat.cjs'), cli);
  }
  return { resources, exe };
}

const ECHO = `process.stdout.write(JSON.stringify({ args: process.argv.slice(2), runAsNode: process.env.ELECTRON_RUN_AS_NODE ?? null, script: __filename }));
process.exitCode = process.argv.includes('--fail') ? 3 : 0;
`;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const clean = { ...process.env, ...env };
  delete clean.ELECTRON_RUN_AS_NODE;
  return spawnSync(cmd, args, { encoding: 'utf8', env: clean, timeout: 60_000 });
}

describe('the lifeboat wrapper', () => {
  it('runs the bundled CLI with the app executable in Node mode, arguments untouched (Linux layout)', () => {
    const { resources, exe } = layout('linux', 'linux', ECHO);
    const args = ['restore', 'a b', '--to', "it's here", '', '$HOME', '*'];
    const r = run(join(resources, 'bin', 'lifeboat'), args);
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { args: string[]; runAsNode: string; script: string };
    expect(got.args).toEqual(args);
    expect(got.runAsNode).toBe('1');
    expect(got.script).toBe(join(resources, 'app.asar', 'bin', 'lifeboat.cjs'));
    expect(r.stderr).toContain(`exe:${resources}/../lifeboat`);
    expect(readFileSync(exe, 'utf8')).toContain('exec');
  });

  it('returns the CLI’s exit code', () => {
    const { resources } = layout('exit', 'linux', ECHO);
    expect(run(join(resources, 'bin', 'lifeboat'), ['--fail']).status).toBe(3);
  });

  it('works through a link on PATH, as the deb installs /usr/bin/lifeboat', () => {
    const { resources } = layout('linked', 'linux', ECHO);
    const usrBin = join(dir.path, 'usr-bin');
    mkdirSync(usrBin);
    symlinkSync(join(resources, 'bin', 'lifeboat'), join(usrBin, 'lifeboat'));
    // A relative link too, and a link to the link.
    const other = join(dir.path, 'other-bin');
    mkdirSync(other);
    symlinkSync(join('..', 'usr-bin', 'lifeboat'), join(other, 'lifeboat'));
    for (const path of [usrBin, other]) {
      const r = run('lifeboat', ['--version'], { PATH: `${path}:/usr/bin:/bin` });
      expect(r.status, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { args: string[] }).args).toEqual(['--version']);
    }
  });

  it('finds the macOS executable in Contents/MacOS', () => {
    const { resources, exe } = layout('mac', 'mac', ECHO);
    const r = run(join(resources, 'bin', 'lifeboat'), ['doctor']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`exe:${resources}/../MacOS/Lifeboat`);
    expect(exe.endsWith(join('Contents', 'MacOS', 'Lifeboat'))).toBe(true);
  });

  it('says so when the executable is missing, instead of running anything else', () => {
    const base = join(dir.path, 'broken', 'resources');
    mkdirSync(join(base, 'bin'), { recursive: true });
    copyFileSync(WRAPPER, join(base, 'bin', 'lifeboat'));
    chmodSync(join(base, 'bin', 'lifeboat'), 0o755);
    const r = run(join(base, 'bin', 'lifeboat'), ['--version']);
    expect(r.status).toBe(127);
    expect(r.stderr).toContain('the Lifeboat executable was not found');
  });

  it('runs the real CLI: --version and doctor --json answer', () => {
    const { resources } = layout('real', 'linux', null);
    const home = join(dir.path, 'home');
    const v = run(join(resources, 'bin', 'lifeboat'), ['--version'], { LIFEBOAT_HOME: home });
    expect(v.status, v.stderr).toBe(0);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(v.stdout).toContain(version);
    const d = run(join(resources, 'bin', 'lifeboat'), ['doctor', '--json'], { LIFEBOAT_HOME: home });
    expect(d.stdout.length, d.stderr).toBeGreaterThan(0);
    expect(() => JSON.parse(d.stdout) as unknown).not.toThrow();
  });
});
