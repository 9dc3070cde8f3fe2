import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, lifeboat, type CliRun } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * The built-in restore runbooks from the CLI (issue 21): `lifeboat run restore-files … --allow-unsigned` restores an
 * unsigned set only with the journaled override; a skip needs a second person in a live run and ends the run
 * "completed-with-exceptions" with exit 3; `lifeboat runbook checklist` prints the blank form.
 */

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let recipient: string;
let signKey: string;
let signedSet: string;
let unsignedSet: string;

function backup(...args: string[]): string {
  const r = lifeboat(env, 'backup', ...args, '--to', medium, '--recipient', recipient, '--json');
  expect(r.status, r.stderr).toBe(0);
  return `${args[args.indexOf('--system') + 1]}/${json<{ set_id: string }>(r).set_id}`;
}

function journalTypes(runId: string): string[] {
  const db = new Database(join(env.LIFEBOAT_HOME!, 'catalog.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT type FROM journal WHERE run_id = ? ORDER BY seq').pluck().all(runId) as string[];
  } finally {
    db.close();
  }
}

/** The CLI with answers on stdin, as a person at a terminal gives them. */
function interactive(answers: string[], ...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env, LIFEBOAT_INTERACTIVE: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end([...answers, ''].join('\n'));
  });
}

interface RunJson {
  run: string;
  status: string;
  steps: Array<{ id: string; status: string; output: Record<string, unknown> | null; skipApprovedBy?: string | null }>;
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'medium');
  identity = join(dir.path, 'id.age');
  signKey = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'drive-a').status).toBe(0);
  recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
  const src = join(dir.path, 'app');
  mkdirSync(join(src, 'uploads'), { recursive: true });
  writeFileSync(join(src, 'uploads', 'a.pdf'), 'alpha '.repeat(1000));
  writeFileSync(join(src, 'notes.txt'), 'keep me\n');
  signedSet = backup('files', '--system', 'shop', '--path', src, '--sign-key', signKey);
  unsignedSet = backup('files', '--system', 'loose', '--path', src);
}, 120_000);

afterAll(() => dir?.cleanup());

describe('lifeboat run with the built-in restore runbooks', { timeout: 120_000 }, () => {
  it('lists the three restore runbooks with the others', () => {
    const ids = json<{ runbooks: Array<{ id: string; problem: string | null }> }>(
      lifeboat(env, 'runbooks', '--json'),
    ).runbooks;
    expect(ids.map((r) => r.id)).toEqual(expect.arrayContaining(['restore-database', 'restore-files', 'pitr-restore']));
    expect(ids.every((r) => r.problem === null)).toBe(true);
  });

  it('an unsigned set is refused without --allow-unsigned, restored with it, and the override is journaled', () => {
    const args = [
      'run',
      'restore-files',
      '--drill',
      '--yes',
      '--input',
      'system=loose',
      '--input',
      `set=${unsignedSet}`,
      '--input',
      `dir=${join(dir.path, 'unused')}`,
      '--identity',
      identity,
      '--json',
    ];
    const refused = lifeboat(env, ...args);
    expect(refused.status, refused.stderr).toBe(1);
    const r1 = json<RunJson>(refused);
    expect(r1.status).toBe('failed');
    expect(r1.steps.find((s) => s.id === 'verify')!.status).toBe('failed');
    expect(journalTypes(r1.run)).not.toContain('run.override');

    const allowed = lifeboat(env, ...args, '--allow-unsigned');
    expect(allowed.status, allowed.stdout + allowed.stderr).toBe(0);
    const r2 = json<RunJson>(allowed);
    expect(r2.status).toBe('succeeded');
    expect(r2.steps.find((s) => s.id === 'verify')!.status).toBe('skipped');
    expect(r2.steps.find((s) => s.id === 'restore')!.output).toMatchObject({ files: 2 });
    expect(journalTypes(r2.run)).toContain('run.override');
    expect(lifeboat(env, 'run', '--resume', r2.run, '--allow-unsigned').status).toBe(2);
  });

  it('a live restore asked at a terminal puts the file in the folder; a skip needs a second person and exits 3', async () => {
    const into = join(dir.path, 'restored');
    const start = [
      'run',
      'restore-files',
      '--operator',
      'ann',
      '--input',
      'system=shop',
      '--input',
      `set=${signedSet}`,
      '--input',
      `dir=${into}`,
      '--input',
      'path=app/notes.txt',
      '--identity',
      identity,
      '--json',
    ];
    // check: 2 items; review: 2 items and the sign-off.
    const done = await interactive(['y', 'y', 'y', 'y', 'Ann Operator'], ...start);
    expect(done.status, done.stdout + done.stderr).toBe(0);
    expect(json<RunJson>(done).status).toBe('succeeded');
    expect(readFileSync(join(into, 'app', 'notes.txt'), 'utf8')).toBe('keep me\n');
    expect(existsSync(join(into, 'app', 'uploads'))).toBe(false);

    const into2 = join(dir.path, 'restored-2');
    const waiting = lifeboat(env, ...start.map((a) => (a === `dir=${into}` ? `dir=${into2}` : a)));
    expect(waiting.status).toBe(1);
    // No terminal: the run waits at its first manual step, newest in the list.
    const runId = json<{ runs: Array<{ id: string; status: string }> }>(lifeboat(env, 'runs', '--json')).runs[0]!.id;
    expect(json<{ runs: Array<{ id: string; status: string }> }>(lifeboat(env, 'runs', '--json')).runs[0]!.status).toBe(
      'waiting',
    );
    const alone = lifeboat(
      env,
      'run',
      '--resume',
      runId,
      '--skip',
      'check',
      '--reason',
      'checked by phone',
      '--operator',
      'ann',
    );
    expect(alone.status).not.toBe(0);
    expect(alone.stderr).toContain('needs a second person');
    const skipped = await interactive(
      ['y', 'y', 'Ann Operator'],
      'run',
      '--resume',
      runId,
      '--skip',
      'check',
      '--reason',
      'checked by phone',
      '--second-person',
      'Bob',
      '--operator',
      'ann',
      '--identity',
      identity,
    );
    expect(skipped.status, skipped.stdout + skipped.stderr).toBe(3);
    expect(skipped.stdout).toContain('COMPLETED WITH EXCEPTIONS');
    expect(readFileSync(join(into2, 'app', 'notes.txt'), 'utf8')).toBe('keep me\n');
    const report = join(dir.path, 'report.html');
    expect(lifeboat(env, 'report', runId, '--out', report).status).toBe(0);
    expect(readFileSync(report, 'utf8')).toContain('Completed with exceptions');
  });

  it('prints a blank checklist of a runbook as text or printable HTML', () => {
    const text = lifeboat(env, 'runbook', 'checklist', 'restore-database');
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain('[ ] 1. Confirm the set and the target');
    const out = join(dir.path, 'checklist.html');
    const html = lifeboat(env, 'runbook', 'checklist', 'pitr-restore', '--html', out);
    expect(html.status, html.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/@media print[\s\S]*Recover to the chosen time/);
    expect(lifeboat(env, 'runbook', 'checklist', 'no-such-runbook').status).not.toBe(0);
  });
});
