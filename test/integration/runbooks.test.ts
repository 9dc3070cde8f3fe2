import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeIndex } from '../../electron/engine/format/file-index';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { parseIdentityFile } from '../../electron/engine/crypto/age';
import { generateSigningKey, loadSigningKey } from '../../electron/engine/crypto/signing';
import { TAR_END, tarHeader, tarPadding } from '../../electron/engine/format/tar-writer';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { BIN, json, lifeboat, lifeboatAsync } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { fingerprint, loadSampleData } from '../helpers/sample-data';
import { keyedMedium } from '../helpers/keyed-medium';
import { tempDir } from '../helpers/temp';

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let signKey: string;
let recipient: string;
let source: Record<string, string>;
let filesSrc: string;
const catalogPath = (): string => join(env.LIFEBOAT_HOME!, 'catalog.sqlite');

interface RunResult {
  ok: boolean;
  run: string;
  status: string;
  drill: boolean;
  report: string | null;
  achieved: { rto_seconds: number | null; rpo_seconds: number | null };
  steps: Array<{
    id: string;
    status: string;
    output: Record<string, unknown> | null;
    error: { code: string; message: string } | null;
    signoff: string | null;
  }>;
}

function backup(...args: string[]): string {
  const r = lifeboat(env, 'backup', ...args, '--to', medium, '--recipient', recipient, '--json');
  expect(r.status, r.stderr).toBe(0);
  return json<{ set_id: string }>(r).set_id;
}

function runbookFile(name: string, body: string): string {
  const path = join(dir.path, `${name}.yaml`);
  writeFileSync(path, body);
  return path;
}

const step = (r: RunResult, id: string): RunResult['steps'][number] => r.steps.find((s) => s.id === id)!;

beforeAll(async () => {
  dir = tempDir();
  pg = await startPostgres();
  await loadSampleData(pg.url());
  source = await fingerprint(pg.url());
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  ({ medium, identity, signKey, recipient } = keyedMedium(env, dir.path, { sign: false }));
  filesSrc = join(dir.path, 'app');
  mkdirSync(join(filesSrc, 'uploads', 'deep'), { recursive: true });
  writeFileSync(join(filesSrc, 'uploads', 'a.pdf'), 'alpha '.repeat(1000));
  writeFileSync(join(filesSrc, 'uploads', 'deep', 'b.bin'), Buffer.alloc(70_000, 7));
  const config = join(dir.path, 'etc');
  mkdirSync(config, { recursive: true });
  writeFileSync(join(config, 'app.conf'), 'listen = 8080\n', { mode: 0o640 });
  backup('pg', '--system', 'shop', '--db', pg.url(), '--sign-key', signKey);
  backup('files', '--system', 'shop', '--path', filesSrc, '--sign-key', signKey);
  backup('files', '--class', 'config', '--system', 'shop', '--path', config, '--sign-key', signKey);
  expect(lifeboat(env, 'verify', medium, '--level', 'integrity', '--json').status).toBe(0);
}, 240_000);

afterAll(async () => {
  await pg?.destroy();
  dir?.cleanup();
});

describe('the library', () => {
  it('lists the twelve built-ins, each valid', () => {
    const r = lifeboat(env, 'runbooks', '--json');
    expect(r.status, r.stderr).toBe(0);
    const list = json<{ runbooks: Array<{ id: string; problem: string | null; builtin: boolean }> }>(r).runbooks;
    expect(
      list
        .filter((x) => x.builtin)
        .map((x) => x.id)
        .sort(),
    ).toEqual([
      'database-corruption',
      'dr-site-activation',
      'monthly-drill',
      'mysql-drill',
      'pitr-restore',
      'ransomware',
      'redis-cache-lost',
      'restore-database',
      'restore-files',
      'restore-mysql',
      'restore-stream',
      'server-failure',
    ]);
    expect(list.every((x) => x.problem === null)).toBe(true);
  });

  it('a malformed runbook gives line-numbered errors and exit 2', () => {
    const file = runbookFile(
      'bad',
      [
        'id: bad',
        'title: Bad',
        'description: d',
        'level: 9',
        'objectives: { rto: soon, rpo: 1h }',
        'steps:',
        '  - id: one',
        '    title: One',
        '    kind: action',
        '    action: restore.pg-logical',
        '    with: { sett: x }',
        '',
      ].join('\n'),
    );
    const r = lifeboat(env, 'runbook', 'check', file);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:4:\d+: level: .*<=4/);
    expect(r.stderr).toMatch(/bad\.yaml:5:\d+: objectives\.rto: a duration/);
    const j = json<{ ok: boolean; problems: Array<{ line: number; field: string }> }>(
      lifeboat(env, 'runbook', 'check', file, '--json'),
    );
    expect(j.ok).toBe(false);
    expect(j.problems.map((p) => p.line)).toEqual([4, 5]);
    const broken = runbookFile('broken', 'id: x\ntitle: [unclosed\n');
    const b = lifeboat(env, 'runbook', 'check', broken);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/broken\.yaml:\d+:\d+/);
  });
});

describe('drills of the built-ins', () => {
  it('monthly-drill restores into a scratch server, validates, reports and cleans up', () => {
    const r = lifeboat(
      env,
      'run',
      'monthly-drill',
      '--drill',
      '--yes',
      '--input',
      'system=shop',
      '--identity',
      identity,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const res = json<RunResult>(r);
    expect(res.status).toBe('succeeded');
    expect(res.drill).toBe(true);
    expect(step(res, 'verify').output!.verdict).toBe('ok');
    expect(step(res, 'restore').output!.tables).toBe(3);
    expect(step(res, 'restore').output!.host).toBe('127.0.0.1');
    expect(step(res, 'restore').output!.port).not.toBe(pg.port); // never the live server
    expect((step(res, 'validate').output!.checks as Array<{ ok: boolean }>).every((c) => c.ok)).toBe(true);
    expect(step(res, 'review').signoff).toContain('--yes');
    const html = readFileSync(res.report!, 'utf8');
    expect(html).toContain('DRILL');
    expect(html).toContain('Monthly restore drill');
    expect(html).toMatch(/head hash <code>[0-9a-f]{64}<\/code>/);
    expect(html).toContain('intact');
    expect(existsSync(join(tmpdir(), `lifeboat-run-${res.run}`))).toBe(false);
    expect(existsSync(join(env.LIFEBOAT_HOME!, 'runs', res.run))).toBe(false);
    expect(lifeboat(env, 'journal', 'verify', res.run).status).toBe(0);
    // The forecast of the next run uses how long this drill's restore step took, whole.
    const next = json<RunResult & { forecast: { parts: Array<{ step: string; basis: string }> } }>(
      lifeboat(
        env,
        'run',
        'monthly-drill',
        '--drill',
        '--yes',
        '--input',
        'system=shop',
        '--identity',
        identity,
        '--json',
      ),
    );
    expect(next.forecast.parts.find((p) => p.step === 'restore')!.basis).toMatch(
      /the whole step at [\d.]+ MiB\/s of stored set, as 1 earlier restore\.pg-logical step of shop took/,
    );
  });

  it('server-failure restores config, database and files in order, each checked against its set', () => {
    const r = lifeboat(
      env,
      'run',
      'server-failure',
      '--drill',
      '--yes',
      '--input',
      'system=shop',
      '--identity',
      identity,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const res = json<RunResult>(r);
    expect(res.steps.map((s) => s.status).every((s) => s === 'done')).toBe(true);
    expect(step(res, 'check-config').output!.files).toBe(1);
    expect(step(res, 'check-files').output!.files).toBe(2);
    expect(step(res, 'check-files').output!.hashed).toBe(2);
    expect(step(res, 'restore-db').output!.tables).toBe(3);
  });

  it('database-corruption and ransomware run as drills', () => {
    for (const [id, extra] of [
      ['database-corruption', []],
      ['ransomware', ['--input', `compromise_at=${new Date().toISOString()}`]],
    ] as const) {
      const r = lifeboat(
        env,
        'run',
        id,
        '--drill',
        '--yes',
        '--input',
        'system=shop',
        ...extra,
        '--identity',
        identity,
        '--json',
      );
      expect(r.status, `${id}: ${r.stdout}${r.stderr}`).toBe(0);
      const res = json<RunResult>(r);
      expect(res.status).toBe('succeeded');
      expect(step(res, 'select').output!.key).toMatch(/^shop\//);
      expect(res.achieved.rpo_seconds).not.toBeNull();
      if (id === 'database-corruption') {
        // One pass: the verify step reads no artifact, the restore makes the deep check on its own read and records it.
        expect(step(res, 'verify').output).toMatchObject({ verdict: 'ok', bytes: 0, deep: /in one pass/ });
        expect(step(res, 'restore').output!.verification).toMatchObject({ level: 'deep', verdict: 'ok' });
        expect(readFileSync(res.report!, 'utf8')).toContain('in one pass');
      }
    }
  });

  it('dr-site-activation walks the seed checklists and fills the communication templates', () => {
    const r = lifeboat(env, 'run', 'dr-site-activation', '--drill', '--yes', '--input', 'site=Lyon DR', '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const res = json<RunResult>(r);
    expect(String(step(res, 'notify').output!.message)).toContain('activating Lyon DR');
    expect(String(step(res, 'notify').output!.message)).toContain('[DRILL]');
    expect(readFileSync(res.report!, 'utf8')).toContain('given automatically');
  });

  it('--yes never answers a live run; a live run without a terminal stops at the first manual step', () => {
    const refused = lifeboat(env, 'run', 'dr-site-activation', '--yes', '--json');
    expect(refused.status).toBe(2);
    const r = lifeboat(env, 'run', 'dr-site-activation', '--json');
    expect(r.status).toBe(1);
    expect(json<{ error: { code: string; hint: string } }>(r).error.code).toBe('CONFIRMATION_REQUIRED');
    const runs = json<{ runs: Array<{ id: string; status: string; currentStep: string }> }>(
      lifeboat(env, 'runs', '--json'),
    ).runs;
    expect(runs[0]!.status).toBe('waiting');
    expect(runs[0]!.currentStep).toBe('pre-recovery');
  });
});

describe('interactive answers in a terminal', () => {
  it('ticks, sign-off and a second person are asked for and journaled', async () => {
    const file = runbookFile(
      'people',
      [
        'id: people',
        'title: People',
        'description: d',
        'level: 1',
        'objectives: { rto: 1h, rpo: 1h }',
        'steps:',
        '  - { id: check, title: Check, kind: manual, checklist: [one, two], signoff: { role: Lead } }',
        '  - { id: second, title: Approve, kind: gate, gate: second-person, role: Auditor }',
        '  - { id: typed, title: Confirm, kind: gate, gate: confirm, expect: prod-db }',
        '',
      ].join('\n'),
    );
    const answers = ['y', 'y', 'Alice Martin', 'operator-x', 'Bob Stone', 'prod-db', ''].join('\n');
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'run', file, '--operator', 'operator-x', '--json'], {
        env: { ...process.env, ...env, LIFEBOAT_INTERACTIVE: '1' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
      child.stdin.end(answers);
    });
    // The operator cannot be the second person: the run stops there, still waiting.
    expect(r.stderr).toContain('cannot sign');
    const runId = json<RunResult>(r).run;
    const resumed = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'run', '--resume', runId, '--json'], {
        env: { ...process.env, ...env, LIFEBOAT_INTERACTIVE: '1' },
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('close', (status) => resolve({ status, stdout }));
      child.stdin.end(['Bob Stone', 'prod-db', ''].join('\n'));
    });
    expect(resumed.status).toBe(0);
    const res = json<RunResult>({ ...resumed, stderr: '' });
    expect(step(res, 'check').signoff).toBe('Alice Martin');
    expect(step(res, 'second').signoff).toBe('Bob Stone');
    const db = new Database(catalogPath(), { readonly: true });
    const types = (
      db.prepare('SELECT type FROM journal WHERE run_id = ? ORDER BY seq').pluck().all(runId) as string[]
    ).join(' ');
    db.close();
    expect(types).toMatch(/step\.completed.*step\.signed.*step\.confirmed.*run\.finished/);
  });
});

describe('live restores', () => {
  const restoreRunbook = (): string =>
    runbookFile(
      'restore-live',
      [
        'id: restore-live',
        'title: Live restore',
        'description: d',
        'level: 2',
        'objectives: { rto: 1h, rpo: 1d }'.replace('1d', '24h'),
        'inputs:',
        '  - { id: target, type: postgres-target, label: Target }',
        '  - { id: database, type: text, label: Database }',
        '  - { id: into, type: directory, label: Files }',
        'steps:',
        '  - { id: select, title: Select, kind: action, action: catalog.select-set, with: { system: shop, kind: pg-logical, verified: true } }',
        '  - { id: verify, title: Verify, kind: action, action: verify.set, with: { set: "{{ steps.select.output.key }}", level: deep } }',
        '  - { id: restore, title: Restore, kind: action, action: restore.pg-logical, with: { set: "{{ steps.select.output.key }}", target: "{{ inputs.target }}", database: "{{ inputs.database }}" } }',
        '  - { id: check, title: Check, kind: action, action: check.sql, with: { target: "{{ inputs.target }}", database: "{{ inputs.database }}", checks: [{ sql: "SELECT count(*) FROM orders", expect: "= 10000" }] } }',
        '  - { id: pick-files, title: Files set, kind: action, action: catalog.select-set, with: { system: shop, kind: files } }',
        '  - { id: files, title: Files, kind: action, action: restore.files, with: { set: "{{ steps.pick-files.output.key }}", into: "{{ inputs.into }}" } }',
        '  - { id: check-files, title: Check files, kind: action, action: check.files, with: { dir: "{{ inputs.into }}", set: "{{ steps.pick-files.output.key }}" } }',
        '  - { id: report, title: Report, kind: action, action: report.write }',
        '',
      ].join('\n'),
    );

  it('restores into a new database equal to the source', async () => {
    const into = join(dir.path, 'restored-files-0');
    const r = lifeboat(
      env,
      'run',
      restoreRunbook(),
      '--input',
      `target=${pg.url()}`,
      '--input',
      'database=restored_0',
      '--input',
      `into=${into}`,
      '--identity',
      identity,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(await fingerprint(pg.url('restored_0'))).toEqual(source);
    expect(readFileSync(join(into, 'app', 'uploads', 'a.pdf'), 'utf8')).toBe('alpha '.repeat(1000));
  });

  it('refuses to restore into an existing database without a typed confirmation, and changes nothing', async () => {
    await query(pg.url(), 'CREATE DATABASE precious');
    await query(pg.url('precious'), "CREATE TABLE keep (v text); INSERT INTO keep VALUES ('mine')");
    const r = lifeboat(
      env,
      'run',
      restoreRunbook(),
      '--input',
      `target=${pg.url()}`,
      '--input',
      'database=precious',
      '--input',
      `into=${join(dir.path, 'unused')}`,
      '--identity',
      identity,
      '--json',
    );
    expect(r.status).toBe(1);
    const err = json<{ error: { code: string; message: string } }>(r).error;
    expect(err.code).toBe('CONFIRMATION_REQUIRED');
    expect(err.message).toContain('precious already exists');
    expect(await query(pg.url('precious'), 'SELECT v FROM keep')).toEqual([{ v: 'mine' }]);
    expect(
      (await query(pg.url('precious'), "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'orders'"))[0]!.n,
    ).toBe(0);
  });

  it('survives kill -9 at every action step: --resume completes with a consistent target and an intact journal', async () => {
    const file = restoreRunbook();
    const actionSteps = ['select', 'verify', 'restore', 'check', 'pick-files', 'files', 'check-files', 'report'];
    const killedMidStep: string[] = [];
    for (const [i, target] of actionSteps.entries()) {
      const database = `killed_${i}`;
      const into = join(dir.path, `killed-files-${i}`);
      const child = spawn(
        process.execPath,
        [
          BIN,
          'run',
          file,
          '--input',
          `target=${pg.url()}`,
          '--input',
          `database=${database}`,
          '--input',
          `into=${into}`,
          '--identity',
          identity,
          '--json',
        ],
        { env: { ...process.env, ...env }, stdio: 'ignore' },
      );
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // Watch the journal: kill the moment the step's start is durable.
      let runId: string | null = null;
      for (let t = 0; t < 3000 && !runId; t++) {
        await new Promise((r) => setTimeout(r, 5));
        if (!existsSync(catalogPath())) continue;
        const db = new Database(catalogPath(), { readonly: true, fileMustExist: true });
        try {
          runId =
            (db
              .prepare(
                "SELECT run_id FROM journal WHERE type = 'step.started' AND json_extract(data_json, '$.step') = ? AND run_id IN (SELECT id FROM runs WHERE json_extract(inputs_json, '$.database') = ?)",
              )
              .pluck()
              .get(target, database) as string | undefined) ?? null;
        } catch {
          runId = null; // the catalog is mid-write: look again
        } finally {
          db.close();
        }
      }
      expect(runId, `step ${target} never started`).not.toBeNull();
      child.kill('SIGKILL');
      await exited;
      const db = new Database(catalogPath(), { readonly: true });
      const state = JSON.parse(db.prepare('SELECT state_json FROM runs WHERE id = ?').pluck().get(runId) as string) as {
        steps: Record<string, { status: string }>;
      };
      db.close();
      if (state.steps[target]!.status === 'running') killedMidStep.push(target);
      const resumed = await lifeboatAsync(env, 'run', '--resume', runId!, '--identity', identity, '--json');
      expect(resumed.status, `resume after kill at ${target}: ${resumed.stdout}${resumed.stderr}`).toBe(0);
      const res = json<RunResult>(resumed);
      expect(res.status).toBe('succeeded');
      expect(await fingerprint(pg.url(database))).toEqual(source);
      expect(readFileSync(join(into, 'app', 'uploads', 'deep', 'b.bin'))).toEqual(Buffer.alloc(70_000, 7));
      expect(readdirSync(into).filter((n) => n.startsWith('.lifeboat-restore'))).toEqual([]);
      const j = lifeboat(env, 'journal', 'verify', runId!, '--json');
      expect(j.status, j.stdout).toBe(0);
      const types = json<{ ok: boolean }>(j);
      expect(types.ok).toBe(true);
    }
    // The long steps were really interrupted half-way (not only between steps).
    expect(killedMidStep).toContain('restore');
  }, 300_000);
});

describe('restore.files safety and incremental chains', () => {
  it('rebuilds an incremental chain with modes and mtimes', () => {
    const src = join(dir.path, 'chain');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'old.txt'), 'unchanged');
    writeFileSync(join(src, 'sub', 'run.sh'), '#!/bin/sh\n', { mode: 0o750 });
    backup('files', '--system', 'chain', '--path', src, '--sign-key', signKey);
    writeFileSync(join(src, 'new.txt'), 'added later');
    backup('files', '--system', 'chain', '--path', src, '--incremental', '--sign-key', signKey);
    expect(lifeboat(env, 'scan', medium).status).toBe(0);
    const into = join(dir.path, 'chain-restored');
    const file = runbookFile(
      'chain',
      [
        'id: chain',
        'title: Chain',
        'description: d',
        'level: 1',
        'objectives: { rto: 1h, rpo: 1h }',
        'steps:',
        '  - { id: pick, title: Pick, kind: action, action: catalog.select-set, with: { system: chain, kind: files } }',
        `  - { id: files, title: Files, kind: action, action: restore.files, with: { set: "{{ steps.pick.output.key }}", into: "${into}" } }`,
        '',
      ].join('\n'),
    );
    const r = lifeboat(env, 'run', file, '--identity', identity, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect((step(json<RunResult>(r), 'files').output!.chain as string[]).length).toBe(2);
    expect(readFileSync(join(into, 'chain', 'old.txt'), 'utf8')).toBe('unchanged');
    expect(readFileSync(join(into, 'chain', 'new.txt'), 'utf8')).toBe('added later');
    expect(statSync(join(into, 'chain', 'sub', 'run.sh')).mode & 0o777).toBe(0o750);
    expect(Math.round(statSync(join(into, 'chain', 'old.txt')).mtimeMs / 1000)).toBe(
      Math.round(statSync(join(src, 'old.txt')).mtimeMs / 1000),
    );
  });

  it('refuses a tar with traversal entries and leaves the target empty', async () => {
    const ids = parseIdentityFile(readFileSync(identity, 'utf8'));
    const body = Buffer.from('payload');
    const tar = Buffer.concat([
      tarHeader({ name: 'ok', type: 'dir', mode: 0o755, size: 0, mtimeMs: 0 }),
      tarHeader({ name: '../escaped.txt', type: 'file', mode: 0o644, size: body.length, mtimeMs: 0 }),
      body,
      tarPadding(body.length),
      TAR_END,
    ]);
    await writeSet(
      {
        media: [new FolderMedium(medium)],
        system: 'evil',
        kind: 'files',
        tier: null,
        parent: null,
        recipients: [ids[0]!.recipient],
        signingKey: loadSigningKey(readFileSync(signKey)),
        startedAt: new Date(),
      },
      { signal: new AbortController().signal, step: () => undefined, log: () => undefined },
      async (add, setId) => {
        await add({ name: 'files.tar', role: 'files-tar', source: Readable.from([tar]) });
        const index = serializeIndex([
          { path: 'ok', type: 'dir', size: 0, mtime_ms: 0, mode: 0o755, sha256: null, target: null, in: setId },
          {
            path: '../escaped.txt',
            type: 'file',
            size: 7,
            mtime_ms: 0,
            mode: 0o644,
            sha256: null,
            target: null,
            in: setId,
          },
        ]);
        await add({ name: 'index.jsonl', role: 'file-index', source: Readable.from([index]) });
        return { source: {}, warnings: [] };
      },
    );
    expect(lifeboat(env, 'scan', medium).status).toBe(0);
    const into = join(dir.path, 'victim', 'inside');
    mkdirSync(into, { recursive: true });
    const file = runbookFile(
      'evil',
      [
        'id: evil',
        'title: Evil',
        'description: d',
        'level: 1',
        'objectives: { rto: 1h, rpo: 1h }',
        'steps:',
        '  - { id: pick, title: Pick, kind: action, action: catalog.select-set, with: { system: evil, kind: files } }',
        `  - { id: files, title: Files, kind: action, action: restore.files, with: { set: "{{ steps.pick.output.key }}", into: "${into}" } }`,
        '',
      ].join('\n'),
    );
    const r = lifeboat(env, 'run', file, '--identity', identity, '--json');
    expect(r.status).toBe(1);
    const res = json<RunResult>(r);
    expect(step(res, 'files').error!.code).toBe('UNSAFE_PATH');
    expect(existsSync(join(dir.path, 'victim', 'escaped.txt'))).toBe(false);
    expect(readdirSync(into)).toEqual([]);
  });
});

describe('the ransomware selection', () => {
  it('picks the newest signed-by-a-pinned-key set before the compromise, and says why it passed over the others', async () => {
    const src = join(dir.path, 'vault');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'ledger.csv'), 'a,b\n');
    const stranger = generateSigningKey();
    writeFileSync(join(dir.path, 'stranger.pem'), stranger.privatePem);
    // No wait between the sets: one made in the same second gets the next suffix (set-writer.ts), and
    // created_at (what "before the compromise" compares) has milliseconds.
    const older = backup('files', '--system', 'vault', '--path', src, '--sign-key', signKey);
    const clean = backup('files', '--system', 'vault', '--path', src, '--sign-key', signKey);
    const unsigned = backup('files', '--system', 'vault', '--path', src);
    const untrusted = backup('files', '--system', 'vault', '--path', src, '--sign-key', join(dir.path, 'stranger.pem'));
    const compromise = new Date().toISOString();
    const after = backup('files', '--system', 'vault', '--path', src, '--sign-key', signKey);
    expect(lifeboat(env, 'scan', medium).status).toBe(0);
    const file = runbookFile(
      'pick',
      [
        'id: pick',
        'title: Pick',
        'description: d',
        'level: 4',
        'objectives: { rto: 1h, rpo: 24h }',
        'inputs:',
        '  - { id: compromise_at, type: datetime, label: Compromise }',
        'steps:',
        '  - { id: select, title: Select, kind: action, action: catalog.select-set, with: { system: vault, kind: files, signed: true, before: "{{ inputs.compromise_at }}" } }',
        '',
      ].join('\n'),
    );
    const r = lifeboat(env, 'run', file, '--input', `compromise_at=${compromise}`, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const out = step(json<RunResult>(r), 'select').output!;
    expect(out.set_id).toBe(clean);
    expect(out.set_id).not.toBe(older);
    const reasons = Object.fromEntries(
      (out.passed_over as Array<{ key: string; reason: string }>).map((p) => [p.key.split('/')[1], p.reason]),
    );
    expect(reasons[after]).toMatch(/after/);
    expect(reasons[untrusted]).toMatch(/not pinned/);
    expect(reasons[unsigned]).toMatch(/unsigned/);
  });
});

describe('the journal', () => {
  function finishedRun(): string {
    const r = lifeboat(env, 'run', 'dr-site-activation', '--drill', '--yes', '--json');
    expect(r.status, r.stderr).toBe(0);
    return json<RunResult>(r).run;
  }
  function tamper(sql: (runId: string) => string[]): { status: number | null; problems: string[] } {
    const runId = finishedRun();
    expect(lifeboat(env, 'journal', 'verify', runId).status).toBe(0);
    const db = new Database(catalogPath());
    for (const s of sql(runId)) db.prepare(s).run();
    db.close();
    const r = lifeboat(env, 'journal', 'verify', runId, '--json');
    return { status: r.status, problems: json<{ problems: string[] }>(r).problems };
  }

  it('detects an edited row', () => {
    const r = tamper((id) => [
      `UPDATE journal SET data_json = replace(data_json, 'Lyon', 'Paris'), actor = 'mallory' WHERE run_id = '${id}' AND seq = 4`,
    ]);
    expect(r.status).toBe(1);
    expect(r.problems.join(' ')).toMatch(/event 4 .* was edited/);
  });

  it('detects a deleted row (middle and end)', () => {
    const mid = tamper((id) => [`DELETE FROM journal WHERE run_id = '${id}' AND seq = 3`]);
    expect(mid.status).toBe(1);
    expect(mid.problems.join(' ')).toMatch(/event 3 is missing/);
    const end = tamper((id) => [
      `DELETE FROM journal WHERE run_id = '${id}' AND seq = (SELECT max(seq) FROM journal WHERE run_id = '${id}')`,
    ]);
    expect(end.status).toBe(1);
    expect(end.problems.join(' ')).toMatch(/deleted from the end/);
  });

  it('detects reordered rows', () => {
    const r = tamper((id) => [
      `UPDATE journal SET seq = -1 WHERE run_id = '${id}' AND seq = 2`,
      `UPDATE journal SET seq = 2 WHERE run_id = '${id}' AND seq = 3`,
      `UPDATE journal SET seq = 3 WHERE run_id = '${id}' AND seq = -1`,
    ]);
    expect(r.status).toBe(1);
    expect(r.problems.join(' ')).toMatch(/does not follow/);
  });
});
