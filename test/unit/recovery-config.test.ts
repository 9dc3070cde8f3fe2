import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  confString,
  recoveryConfig,
  restoreCommand,
  RESTORE_COMMAND_SCRIPT,
} from '../../electron/engine/pitr/recovery-config';

/** postgresql.conf's reading of a quoted string (guc-file.l: '' is a quote; \n \r \b \f \t and octal escapes; \x is x). */
function readConfString(quoted: string): string {
  expect(quoted.startsWith("'") && quoted.endsWith("'")).toBe(true);
  const body = quoted.slice(1, -1);
  expect(body).toMatch(/^([^'\\\n]|\\.|'')*$/);
  const map: Record<string, string> = { n: '\n', r: '\r', b: '\b', f: '\f', t: '\t' };
  return body.replace(/''|\\([0-7]{1,3}|.)/g, (m, c: string | undefined) =>
    m === "''" ? "'" : /^[0-7]/.test(c!) ? String.fromCharCode(parseInt(c!, 8)) : (map[c!] ?? c!),
  );
}

/** PostgreSQL's expansion of restore_command (%f the file name, %p the path, %% a percent sign), run by /bin/sh. */
function runRestoreCommand(command: string, name: string, dest: string): number {
  const line = command.replace(/%([fp%])/g, (_, c: string) => (c === 'f' ? name : c === 'p' ? dest : '%'));
  return spawnSync('/bin/sh', ['-c', line], { timeout: 10_000 }).status ?? -1;
}

const root = mkdtempSync(join(tmpdir(), 'lifeboat-recovery-config-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A spool whose path holds everything that has to be quoted: spaces, both quotes, $, a backslash, %f. */
function weirdSpool(expected: string[]): { spool: string; script: string } {
  const spool = join(root, `it's a "spool" $HOME \\ 100%f ${Math.random().toString(36).slice(2)}`);
  mkdirSync(spool);
  writeFileSync(join(spool, '.expected'), expected.map((n) => `${n}\n`).join(''));
  const script = join(spool, 'restore-command.sh');
  writeFileSync(script, RESTORE_COMMAND_SCRIPT, { mode: 0o755 });
  return { spool, script };
}

describe('the recovery config of a point-in-time restore', () => {
  it('quotes postgresql.conf strings so the server reads back exactly the value', () => {
    expect(confString('plain')).toBe("'plain'");
    expect(confString("it's")).toBe("'it''s'");
    expect(confString('a\\b')).toBe("'a\\\\b'");
    for (const v of ["it's", 'back\\slash', 'new\nline', '"dq" $HOME %f', "''\\'"])
      expect(readConfString(confString(v))).toBe(v);
  });

  it('writes restore_command, the target time and promotion as the server reads them', () => {
    const text = recoveryConfig({
      scriptPath: "/tmp/o'dd spool/restore-command.sh",
      spool: "/tmp/o'dd spool",
      targetTime: '2026-03-04T05:06:07.890Z',
      base: '20260304T000000Z',
    });
    const lines = text.split('\n');
    const value = (key: string): string => {
      const line = lines.find((l) => l.startsWith(`${key} = `));
      expect(line, key).toBeDefined();
      return readConfString(line!.slice(key.length + 3));
    };
    expect(value('restore_command')).toBe(restoreCommand("/tmp/o'dd spool/restore-command.sh", "/tmp/o'dd spool"));
    expect(value('recovery_target_time')).toBe('2026-03-04 05:06:07.890+00');
    expect(value('recovery_target_action')).toBe('promote');
    expect(value('recovery_target_timeline')).toBe('latest');
    expect(value('archive_mode')).toBe('off');
    expect(lines.filter((l) => l.startsWith('#'))).toEqual([
      '# Added by Lifeboat for a point-in-time restore to 2026-03-04T05:06:07.890Z (base 20260304T000000Z).',
    ]);
  });

  it("stops where the base backup is consistent (recovery_target 'immediate') when the target is its end, with no time target", () => {
    const lines = recoveryConfig({
      scriptPath: '/s/restore-command.sh',
      spool: '/s',
      targetTime: '2026-03-04T05:06:07.890Z',
      base: '20260304T000000Z',
      stop: 'immediate',
    }).split('\n');
    expect(lines).toContain("recovery_target = 'immediate'");
    expect(lines.filter((l) => l.startsWith('recovery_target_time '))).toEqual([]);
    expect(lines).toContain("recovery_target_action = 'promote'");
  });

  it('restore-command.sh copies a proven file from a spool whose path needs every kind of quoting', () => {
    const name = '000000010000000000000003';
    const { spool, script } = weirdSpool([name, '00000002.history']);
    writeFileSync(join(spool, name), 'segment bytes');
    const dest = join(root, 'RECOVERYXLOG');
    expect(runRestoreCommand(restoreCommand(script, spool), name, dest)).toBe(0);
    expect(readFileSync(dest, 'utf8')).toBe('segment bytes');
    // One file system: a hard link to the proven file (replay does not wait for a 16 MiB copy).
    expect(statSync(dest).ino).toBe(statSync(join(spool, name)).ino);
  });

  it('copies the proven file when it cannot link it (another file system; a name already there)', () => {
    const name = '000000010000000000000006';
    const { spool, script } = weirdSpool([name]);
    writeFileSync(join(spool, name), 'proven bytes');
    const dest = join(root, 'RECOVERYXLOG-taken');
    writeFileSync(dest, 'stale');
    expect(runRestoreCommand(restoreCommand(script, spool), name, dest)).toBe(0);
    expect(readFileSync(dest, 'utf8')).toBe('proven bytes');
    expect(statSync(dest).ino).not.toBe(statSync(join(spool, name)).ino);
  });

  it('answers at once for a file the archive does not hold, and fails for one the fetch could not bring', () => {
    const { spool, script } = weirdSpool(['000000010000000000000004']);
    const command = restoreCommand(script, spool);
    const started = Date.now();
    expect(runRestoreCommand(command, '00000009.history', join(root, 'never'))).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    writeFileSync(join(spool, '.failed'), '');
    expect(runRestoreCommand(command, '000000010000000000000004', join(root, 'never'))).toBe(1);
    expect(() => readFileSync(join(root, 'never'))).toThrow();
  });

  it('waits for an expected file until it arrives', () => {
    const name = '000000010000000000000005';
    const { spool, script } = weirdSpool([name]);
    const dest = join(root, 'RECOVERYXLOG-late');
    // The file lands 300 ms after the command started waiting for it.
    const line = restoreCommand(script, spool).replace(/%([fp%])/g, (_, c: string) =>
      c === 'f' ? name : c === 'p' ? dest : '%',
    );
    execFileSync('/bin/sh', ['-c', `(sleep 0.3; printf late > "$1/$2") & ${line}`, 'sh', spool, name], {
      timeout: 10_000,
    });
    expect(readFileSync(dest, 'utf8')).toBe('late');
  });
});
