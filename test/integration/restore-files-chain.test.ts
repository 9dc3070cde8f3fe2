import { mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';
import { treeState, withMtimesWithin } from '../helpers/tree-state';

/**
 * Issue 18 item 2, restore side: an incremental chain restores exactly the newest index's tree —
 * renamed and deleted folders gone, a folder that became a file and a file that became a folder
 * right, link targets, modes and mtimes — through real `backup files` and a runbook's restore.files.
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let recipient: string;

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'medium');
  identity = join(dir.path, 'id.age');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'chain').status).toBe(0);
  recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
}, 60_000);

afterAll(() => dir?.cleanup());

describe('an incremental chain restores the state of its newest index', () => {
  it('renames, deletions and type changes', () => {
    const src = join(dir.path, 'data');
    mkdirSync(join(src, 'old-name', 'inner'), { recursive: true });
    mkdirSync(join(src, 'doomed'), { recursive: true });
    mkdirSync(join(src, 'willbefile'), { recursive: true });
    writeFileSync(join(src, 'old-name', 'inner', 'a.txt'), 'a');
    writeFileSync(join(src, 'doomed', 'b.txt'), 'b');
    writeFileSync(join(src, 'willbefile', 'c.txt'), 'c');
    writeFileSync(join(src, 'willbedir'), 'file for now');
    writeFileSync(join(src, 'unchanged.txt'), 'from the full set', { mode: 0o640 });
    symlinkSync('old-name', join(src, 'link'));
    const backup = (...extra: string[]): void => {
      const r = lifeboat(
        env,
        'backup',
        'files',
        '--system',
        'chain',
        '--path',
        src,
        '--to',
        medium,
        '--recipient',
        recipient,
        '--json',
        ...extra,
      );
      expect(r.status, r.stderr).toBe(0);
    };
    backup();
    renameSync(join(src, 'old-name'), join(src, 'new-name'));
    rmSync(join(src, 'doomed'), { recursive: true });
    rmSync(join(src, 'willbefile'), { recursive: true });
    writeFileSync(join(src, 'willbefile'), 'now a file', { mode: 0o600 });
    rmSync(join(src, 'willbedir'));
    mkdirSync(join(src, 'willbedir'));
    writeFileSync(join(src, 'willbedir', 'd.txt'), 'd');
    rmSync(join(src, 'link'));
    symlinkSync('/etc/hostname', join(src, 'link'));
    for (const p of ['new-name', 'willbedir', '']) utimesSync(join(src, p), 1_650_000_000, 1_650_000_000);
    backup('--incremental');
    expect(lifeboat(env, 'scan', medium).status).toBe(0);
    const into = join(dir.path, 'restored');
    const file = join(dir.path, 'chain.yaml');
    writeFileSync(
      file,
      [
        'id: chain',
        'title: Chain',
        'description: d',
        'level: 1',
        'objectives: { rto: 1h, rpo: 1h }',
        'steps:',
        '  - { id: pick, title: Pick, kind: action, action: catalog.select-set, with: { system: chain, kind: files } }',
        `  - { id: files, title: Files, kind: action, action: restore.files, with: { set: "{{ steps.pick.output.key }}", into: "${into}", allow_unsigned: true } }`,
        '',
      ].join('\n'),
    );
    // The sets are unsigned (no --sign-key): the restore gate refuses them unless the step allows it.
    const r = lifeboat(env, 'run', file, '--identity', identity, '--json');
    const res = json<{
      steps: Array<{
        id: string;
        status: string;
        output: Record<string, unknown> | null;
        error: { message: string } | null;
      }>;
    }>(r);
    const step = res.steps.find((s) => s.id === 'files')!;
    expect(step.status, step.error?.message).toBe('done');
    expect(step.output!.chain as string[]).toHaveLength(2);
    // Every entry exact (type, mode, owner, content, link target); mtimes within the 2 µs Node's utimes can set.
    const want = treeState(src);
    expect(withMtimesWithin(want, treeState(join(into, 'data')), 2_000)).toEqual(want);
  }, 180_000);
});
