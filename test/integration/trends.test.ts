import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupFilesCommand, type SuspiciousSet } from '../../electron/cli/commands/backup-run';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * Trends and the ransomware indicator (issue 24 items 4, 5): a files share backed up twice as
 * usual, then "encrypted" (every file overwritten with random bytes of its size) and backed up
 * again, by the real CLI. The third set is flagged at backup time with its reasons, in `sets`,
 * in `systems --trend` and after a catalog rebuild from the medium; select-set proposes the
 * second set, the last before the first suspicious one.
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let src: string;
const FILES = 24;
const sets: string[] = [];
let encrypted: { status: number | null; stdout: string; stderr: string };

interface Point {
  setId: string;
  incremental: boolean;
  incompressibleShare: number | null;
  filesChanged: number | null;
  filesTotal: number | null;
  ratio: number | null;
  durationMs: number | null;
  suspicious: boolean | null;
  reasons: string[];
}
interface Trend {
  system: string;
  points: Point[];
  cleanCandidate: { key: string | null; why: string } | null;
}

/** ~96 KiB of text that compresses well (log lines), different per file. */
function text(n: number): string {
  const lines: string[] = [];
  for (let i = 0; lines.join('').length < 96 * 1024; i++)
    lines.push(
      `2026-11-${String((i % 28) + 1).padStart(2, '0')} invoice ${n}-${i} customer ${i % 97} paid ${i * 7} EUR\n`,
    );
  return lines.join('');
}

function backup(...extra: string[]): ReturnType<typeof lifeboat> {
  return lifeboat(
    env,
    'backup',
    'files',
    '--system',
    'share',
    '--path',
    src,
    '--to',
    medium,
    '--allow-plaintext',
    ...extra,
  );
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'drive');
  src = join(dir.path, 'share');
  mkdirSync(src);
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'drive').status).toBe(0);
  for (let i = 0; i < FILES; i++) writeFileSync(join(src, `doc-${i}.txt`), text(i));
  for (const change of [null, 'doc-0.txt']) {
    if (change) writeFileSync(join(src, change), text(1000));
    const r = backup('--json');
    expect(r.status, r.stderr).toBe(0);
    const out = json<{ set_id: string; suspicious: boolean }>(r);
    expect(out.suspicious).toBe(false);
    sets.push(out.set_id);
  }
  // The ransomware: every file's content replaced by random bytes of the same size.
  for (let i = 0; i < FILES; i++) writeFileSync(join(src, `doc-${i}.txt`), randomBytes(96 * 1024 + 17));
  encrypted = backup();
  expect(encrypted.status, encrypted.stderr).toBe(0);
  sets.push(encrypted.stdout.split(/\s+/)[0]!);
}, 90_000);
afterAll(() => dir.cleanup());

function trend(): Trend {
  const r = lifeboat(env, 'systems', '--trend', '--system', 'share', '--json');
  expect(r.status, r.stderr).toBe(0);
  return json<Trend[]>(r)[0]!;
}

describe('trends and the ransomware indicator', () => {
  it('warns at backup time, with the reasons, and still exits 0', () => {
    expect(encrypted.stderr).toMatch(new RegExp(`${sets[2]} of share is SUSPICIOUS`));
    expect(encrypted.stderr).toMatch(/does not compress \(usually 0%\)/);
    expect(encrypted.stderr).toMatch(new RegExp(`${FILES} of its ${FILES} files changed`));
    expect(encrypted.stderr).toMatch(/lifeboat systems --trend --system share/);
  }, 30_000);

  it('systems --trend lists every set with its measurements; the older ones are clean', () => {
    const t = trend();
    expect(t.points.map((p) => p.setId)).toEqual(sets);
    const [first, second, third] = t.points;
    expect(first!.incompressibleShare).toBeLessThan(0.1);
    expect(first!.filesChanged).toBeNull(); // nothing to compare with: a gap, not zero
    expect(second!.filesChanged).toBe(1);
    expect(second!.filesTotal).toBe(FILES);
    expect(first!.ratio).toBeGreaterThan(3);
    expect(third!.ratio).toBeLessThan(1.1);
    expect(third!.incompressibleShare).toBeGreaterThan(0.9);
    expect(t.points.map((p) => p.suspicious)).toEqual([false, false, true]);
    expect(third!.reasons.join(' ')).toMatch(/does not compress.*stores.*the usual.*files changed/);
    expect(t.cleanCandidate?.key).toBe(`share/${sets[1]}`);
    const table = lifeboat(env, 'systems', '--trend');
    expect(table.stdout).toMatch(/INCOMPRESSIBLE/);
    expect(table.stdout).toMatch(new RegExp(`${sets[2]} is SUSPICIOUS`));
    expect(table.stdout).toMatch(new RegExp(`clean candidate: .*${sets[1]}, the last set before it`));
  }, 30_000);

  it('sets and systems say it', () => {
    const s = lifeboat(env, 'sets', '--system', 'share');
    expect(s.stdout).toMatch(new RegExp(`share/${sets[2]} is SUSPICIOUS: \\d+% of its data does not compress`));
    expect(lifeboat(env, 'systems').stdout).toMatch(
      new RegExp(`SUSPICIOUS sets \\(ransomware indicator\\) of share: ${sets[2]} is flagged suspicious`),
    );
    expect(lifeboat(env, 'scan', medium).stdout).toMatch(
      new RegExp(`SUSPICIOUS \\(ransomware indicator\\) share: .*${sets[1]}, the last set before it`),
    );
    expect(lifeboat(env, 'systems', '--system', 'share').stderr).toMatch(/--system goes with --trend/);
  }, 30_000);

  it('select-set proposes the last set before the first suspicious one, and says why', () => {
    const file = join(dir.path, 'pick.yaml');
    writeFileSync(
      file,
      [
        'id: pick',
        'title: Pick',
        'description: d',
        'level: 4',
        'objectives: { rto: 1h, rpo: 24h }',
        'steps:',
        '  - { id: select, title: Select, kind: action, action: catalog.select-set, with: { system: share, kind: files } }',
        '',
      ].join('\n'),
    );
    const r = lifeboat(env, 'run', file, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const out = json<{ steps: Array<{ id: string; output?: Record<string, unknown> }> }>(r).steps.find(
      (s) => s.id === 'select',
    )!.output!;
    expect(out.set_id).toBe(sets[1]);
    expect(out.clean_candidate).toMatch(new RegExp(`${sets[2]} is flagged suspicious .*${sets[1]}`));
    const passed = out.passed_over as Array<{ key: string; reason: string }>;
    expect(passed.map((p) => p.key)).toEqual([`share/${sets[2]}`]);
    expect(passed[0]!.reason).toMatch(/flagged suspicious by the ransomware indicator/);
  }, 30_000);

  it('a catalog rebuilt from the medium judges the sets again the same way', () => {
    const r = lifeboat(env, 'scan', '--rebuild');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(trend().points.map((p) => p.suspicious)).toEqual([false, false, true]);
  }, 30_000);

  it('hands a suspicious set to the onSuspicious hook (notifications, metrics); a failing hook is only a warning', async () => {
    const before = process.env.LIFEBOAT_HOME;
    process.env.LIFEBOAT_HOME = env.LIFEBOAT_HOME;
    const stderr = new PassThrough();
    let said = '';
    stderr.on('data', (d: Buffer) => (said += d.toString()));
    const seen: SuspiciousSet[] = [];
    try {
      for (const hook of [(s: SuspiciousSet) => void seen.push(s), () => Promise.reject(new Error('mail server down'))])
        await backupFilesCommand(
          { stdout: new PassThrough(), stderr },
          { system: 'share', to: [medium], path: [src], class: 'files', allowPlaintext: true, json: true },
          undefined,
          { onSuspicious: hook },
        );
    } finally {
      if (before === undefined) delete process.env.LIFEBOAT_HOME;
      else process.env.LIFEBOAT_HOME = before;
    }
    // Still encrypted: judged against the clean sets (suspicious ones are no baseline), so flagged again.
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ system: 'share', key: `share/${seen[0]!.setId}` });
    expect(seen[0]!.reasons.join(' ')).toMatch(/does not compress/);
    expect(said).toMatch(/warning: the suspicious-set hook failed: mail server down/);
  }, 60_000);

  it('an incremental built on a suspicious set is suspicious too, even the first of its series', () => {
    writeFileSync(join(src, 'doc-1.txt'), text(2000));
    const r = backup('--incremental', '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = json<{ set_id: string; suspicious: boolean; suspicious_reasons: string[] }>(r);
    expect(out.suspicious).toBe(true);
    expect(out.suspicious_reasons.join(' ')).toMatch(/it is built on \S+, which is suspicious/);
    const t = trend();
    expect(t.points.at(-1)!.setId).toBe(out.set_id);
    expect(t.points.at(-1)!.incremental).toBe(true);
    // The newest run of suspicious sets starts at the encrypted full: still the same clean candidate.
    expect(t.cleanCandidate?.key).toBe(`share/${sets[1]}`);
  }, 60_000);

  it('thresholds tuned in settings.json count at once (systems --trend), and a bad one is refused by name', () => {
    const settings = join(env.LIFEBOAT_HOME!, 'settings.json');
    writeFileSync(settings, JSON.stringify({ systems: { share: { indicator: { sizeFactor: 0.5 } } } }));
    const bad = lifeboat(env, 'systems', '--trend');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/systems\.share\.indicator\.sizeFactor: expected a factor above 1/);
    // An operator who decides the share holds such data now: nothing is flagged any more.
    writeFileSync(
      settings,
      JSON.stringify({
        systems: {
          share: {
            validations: [],
            indicator: {
              incompressibleShare: 1,
              sizeFactor: 1e6,
              sizeMinBytes: 1e15,
              changedShare: 1,
              changedMinFiles: 1e6,
            },
          },
        },
      }),
    );
    try {
      const t = trend();
      expect(t.points.map((p) => p.suspicious).every((x) => x === false)).toBe(true);
      expect(t.cleanCandidate).toBeNull();
      // Or accepts the encrypted set as the new normal: it and the sets judged against it are clean.
      writeFileSync(settings, JSON.stringify({ systems: { share: { indicator: { accepted: [sets[2]] } } } }));
      const a = trend();
      expect(a.points.map((p) => p.suspicious)).toEqual(a.points.map(() => false));
      expect(a.cleanCandidate).toBeNull();
    } finally {
      writeFileSync(settings, JSON.stringify({ systems: {} }));
    }
    expect(trend().cleanCandidate?.key).toBe(`share/${sets[1]}`);
  }, 60_000);
});
