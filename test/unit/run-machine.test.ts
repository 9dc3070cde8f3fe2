import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RUN_ENDED, RUN_STATUSES, STEP_STATUSES } from '../../shared/domain/runs';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { parseRunbook } from '../../electron/engine/runbooks/format';
import { readJournal, verifyJournal } from '../../electron/engine/runbooks/journal';
import {
  applyChange,
  IllegalTransitionError,
  RUN_EVENTS,
  RUN_INITIAL,
  RUN_TRANSITIONS,
  STEP_EVENTS,
  STEP_INITIAL,
  STEP_TRANSITIONS,
  terminal,
  transition,
  type RunEvent,
  type Table,
} from '../../electron/engine/runbooks/machine';
import { commitRun } from '../../electron/engine/runbooks/records';
import { RunEngine } from '../../electron/engine/runbooks/runner';
import { parseSettings } from '../../electron/engine/settings/settings';
import { tempDir } from '../helpers/temp';

/** The runner's two state machines (issue 25): the tables read as data, then real runs walked through them. */

function reachable<S extends string, E extends string>(table: Table<S, E>, from: S): Set<S> {
  const seen = new Set<S>([from]);
  const todo = [from];
  while (todo.length)
    for (const to of Object.values(table[todo.pop()!]) as S[]) if (!seen.has(to) && seen.add(to)) todo.push(to);
  return seen;
}

describe('the transition tables', { timeout: 10_000 }, () => {
  it('name every status, and only known statuses and events', () => {
    expect(Object.keys(RUN_TRANSITIONS).sort()).toEqual([...RUN_STATUSES].sort());
    expect(Object.keys(STEP_TRANSITIONS).sort()).toEqual([...STEP_STATUSES].sort());
    for (const exits of Object.values(RUN_TRANSITIONS)) {
      for (const [event, to] of Object.entries(exits)) {
        expect(RUN_EVENTS).toContain(event);
        expect(RUN_STATUSES).toContain(to);
      }
    }
    for (const exits of Object.values(STEP_TRANSITIONS)) {
      for (const [event, to] of Object.entries(exits)) {
        expect(STEP_EVENTS).toContain(event);
        expect(STEP_STATUSES).toContain(to);
      }
    }
  });

  it('reach every status from the first, and every event is used', () => {
    expect([...reachable(RUN_TRANSITIONS, RUN_INITIAL)].sort()).toEqual([...RUN_STATUSES].sort());
    expect([...reachable(STEP_TRANSITIONS, STEP_INITIAL)].sort()).toEqual([...STEP_STATUSES].sort());
    const used = (t: Table<string, string>): Set<string> => new Set(Object.values(t).flatMap((x) => Object.keys(x)));
    expect([...used(RUN_TRANSITIONS)].sort()).toEqual([...RUN_EVENTS].sort());
    expect([...used(STEP_TRANSITIONS)].sort()).toEqual([...STEP_EVENTS].sort());
  });

  it('give the ended statuses no exits (and only them), and a done or skipped step none', () => {
    expect(terminal(RUN_TRANSITIONS).sort()).toEqual([...RUN_ENDED].sort());
    expect(terminal(STEP_TRANSITIONS).sort()).toEqual(['done', 'skipped']);
    // Every open status can still be cancelled, and a failed step can be tried again.
    for (const s of RUN_STATUSES.filter((x) => !RUN_ENDED.includes(x)))
      expect(RUN_TRANSITIONS[s].cancel).toBe('cancelled');
    expect(STEP_TRANSITIONS.failed.start).toBe('running');
  });

  it('refuse every event the table does not list, with a named error', () => {
    let refused = 0;
    for (const from of RUN_STATUSES) {
      for (const event of RUN_EVENTS) {
        const to = RUN_TRANSITIONS[from][event];
        if (to !== undefined) {
          expect(transition(RUN_TRANSITIONS, 'Run r', from, event)).toBe(to);
          continue;
        }
        refused++;
        const call = (): unknown => transition(RUN_TRANSITIONS, 'Run r', from, event);
        expect(call).toThrow(IllegalTransitionError);
        expect(call).toThrow(`Run r is ${from}: "${event}" is not possible from there.`);
      }
    }
    for (const from of STEP_STATUSES)
      for (const event of STEP_EVENTS)
        if (STEP_TRANSITIONS[from][event] === undefined)
          expect(() => transition(STEP_TRANSITIONS, 'Step s', from, event)).toThrow(IllegalTransitionError);
    expect(refused).toBeGreaterThan(30);
    let err: unknown = null;
    try {
      transition(RUN_TRANSITIONS, 'Run r', 'cancelled', 'resume');
    } catch (x) {
      err = x;
    }
    expect(err).toMatchObject({ code: 'PRECONDITION_FAILED', hint: expect.stringContaining('cancelled is final') });
  });

  it('walk the paths a run takes, event by event', () => {
    const walk = (events: RunEvent[]): string[] => {
      let s: (typeof RUN_STATUSES)[number] = RUN_INITIAL;
      return events.map((e) => (s = transition(RUN_TRANSITIONS, 'Run r', s, e)));
    };
    expect(walk(['wait', 'answer', 'finish'])).toEqual(['waiting', 'running', 'succeeded']);
    expect(walk(['fail', 'resume', 'fail', 'cancel'])).toEqual(['failed', 'running', 'failed', 'cancelled']);
    expect(walk(['interrupt', 'resume', 'wait', 'resume', 'wait', 'answer', 'finish'])).toEqual([
      'paused',
      'running',
      'waiting',
      'running',
      'waiting',
      'running',
      'succeeded',
    ]);
    expect(walk(['fail', 'skip', 'resume', 'finish-with-exceptions'])).toEqual([
      'failed',
      'paused',
      'running',
      'completed-with-exceptions',
    ]);
  });
});

const rb = (steps: string[]): string =>
  ['id: t', 'title: T', 'description: d', 'level: 2', 'objectives: { rto: 4h, rpo: 24h }', 'steps:', ...steps, ''].join(
    '\n',
  );

const jobWith = (signal = new AbortController().signal) => ({
  signal,
  progress: () => undefined,
  log: () => undefined,
  step: () => undefined,
});

describe('runs walked through the machine', { timeout: 20_000 }, () => {
  let dir: ReturnType<typeof tempDir>;
  let catalog: Catalog;
  let e: RunEngine;
  beforeEach(() => {
    dir = tempDir();
    catalog = Catalog.open(join(dir.path, 'catalog.sqlite'));
    e = new RunEngine({
      catalog,
      settings: parseSettings({}),
      dataDir: dir.path,
      credentials: new MemoryCredentialStore(),
      identities: [],
    });
  });
  afterEach(() => {
    catalog.close();
    dir.cleanup();
  });

  const types = (runId: string): string[] => readJournal(catalog, runId).map((x) => x.type);
  const start = (steps: string[], drill = true) =>
    e.start(parseRunbook(rb(steps)), {}, { drill, operator: 'ann', source: 'test' });

  it('normal: an action, a checklist and a second person, to succeeded', async () => {
    const run = start([
      '  - { id: a, title: A, kind: action, action: report.write }',
      '  - { id: m, title: M, kind: manual, checklist: [x] }',
      '  - { id: g, title: G, kind: gate, gate: second-person }',
    ]);
    expect(run.status).toBe('running');
    const waiting = await e.advance(run.id, jobWith());
    expect([waiting.status, waiting.state.steps.a!.status, waiting.state.steps.m!.status]).toEqual([
      'waiting',
      'done',
      'waiting',
    ]);
    expect(e.respond(run.id, 'm', { ticks: [0] }, 'ann').status).toBe('running');
    expect((await e.advance(run.id, jobWith())).status).toBe('waiting');
    e.respond(run.id, 'g', { signoff: 'Bob' }, 'ann');
    const done = await e.advance(run.id, jobWith());
    expect(done.status).toBe('succeeded');
    expect(done.finishedAt).not.toBeNull();
    expect(Object.values(done.state.steps).map((s) => s.status)).toEqual(['done', 'done', 'done']);
    expect(types(run.id)).toEqual([
      'run.created',
      'run.forecast',
      'step.started',
      'step.finished',
      'step.waiting',
      'step.completed',
      'step.waiting',
      'step.signed',
      'run.finished',
    ]);
    // Ended: advance changes nothing, and no answer reopens it.
    expect((await e.advance(run.id, jobWith())).status).toBe('succeeded');
    expect(verifyJournal(catalog, run.id, e.load(run.id).state.journal).ok).toBe(true);
  });

  it('failed, resumed, failed again, then cancelled; a cancelled run refuses an answer to its waiting step', async () => {
    // A relative copy path makes report.write fail at run time (an action failure, not a parameter refusal).
    const run = start([
      '  - { id: a, title: A, kind: action, action: report.write, with: { out: relative/report.html } }',
    ]);
    const failed = await e.advance(run.id, jobWith());
    expect([failed.status, failed.state.steps.a!.status, failed.state.steps.a!.error?.code]).toEqual([
      'failed',
      'failed',
      'BAD_INPUT',
    ]);
    const again = await e.advance(run.id, jobWith());
    expect([again.status, again.state.steps.a!.attempts]).toEqual(['failed', 2]);
    const cancelled = await e.cancel(run.id, 'wrong runbook', 'ann');
    expect(cancelled.status).toBe('cancelled');
    expect(types(run.id)).toEqual([
      'run.created',
      'run.forecast',
      'step.started',
      'step.failed',
      'run.resumed',
      'step.started',
      'step.failed',
      'run.cancelled',
    ]);
    await expect(e.cancel(run.id, 'again', 'ann')).rejects.toThrow(/already ended \(cancelled\)/);

    const other = start(['  - { id: m, title: M, kind: manual, checklist: [x] }']);
    await e.advance(other.id, jobWith());
    await e.cancel(other.id, 'stop', 'ann');
    expect(() => e.respond(other.id, 'm', { ticks: [0] }, 'ann')).toThrow(IllegalTransitionError);
    expect(e.load(other.id).status).toBe('cancelled');
  });

  it('interrupted by the operator: the step fails as CANCELLED and the run pauses; going on is journaled', async () => {
    const run = start(['  - { id: a, title: A, kind: action, action: report.write, with: { out: rel/x.html } }']);
    // The job was cancelled while the action ran: whatever it threw, the step is interrupted, not failed.
    const aborted = new AbortController();
    aborted.abort();
    const paused = await e.advance(run.id, jobWith(aborted.signal));
    expect([paused.status, paused.state.steps.a!.status, paused.state.steps.a!.error?.code]).toEqual([
      'paused',
      'failed',
      'CANCELLED',
    ]);
    const again = await e.advance(run.id, jobWith());
    expect(again.status).toBe('failed');
    expect(types(run.id).slice(2)).toEqual([
      'step.started',
      'step.interrupted',
      'run.resumed',
      'step.started',
      'step.failed',
    ]);
    expect(readJournal(catalog, run.id)[4]!.data).toEqual({ after: 'paused' });
  });

  it('completed with exceptions: a blocked gate skipped by a person pauses the run, which then ends not clean', async () => {
    const run = start(['  - { id: v, title: V, kind: gate, gate: verified, set: shop/none }']);
    const blocked = await e.advance(run.id, jobWith());
    expect([blocked.status, blocked.state.steps.v!.status]).toEqual(['failed', 'failed']);
    expect(e.skip(run.id, 'v', 'verified by hand', 'ann').status).toBe('paused');
    const done = await e.advance(run.id, jobWith());
    expect(done.status).toBe('completed-with-exceptions');
    expect(types(run.id)).toEqual([
      'run.created',
      'run.forecast',
      'gate.blocked',
      'step.skipped',
      'run.resumed',
      'run.finished',
    ]);
    expect(() => e.skip(run.id, 'v', 'again', 'ann')).toThrow(/already ended/);
  });

  it('resumed after a crash: a dead owner is journaled, the running action runs again from its attempt', async () => {
    const run = start([
      '  - { id: a, title: A, kind: action, action: report.write }',
      '  - { id: m, title: M, kind: manual, checklist: [x] }',
    ]);
    // What a kill -9 in the middle of step a leaves: the step running, the run owned by a process that is gone.
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const crashed = e.load(run.id);
    crashed.state.owner = { pid: dead, host: hostname(), since: new Date().toISOString() };
    applyChange(crashed, { step: { id: 'a', event: 'start', set: { attempts: 1, startedAt: crashed.startedAt } } });
    commitRun(catalog, crashed, 'test', [['step.started', { step: 'a' }]]);

    const resumed = await e.advance(run.id, jobWith());
    expect([resumed.status, resumed.state.steps.a!.status, resumed.state.steps.a!.attempts]).toEqual([
      'waiting',
      'done',
      2,
    ]);
    const journal = readJournal(catalog, run.id);
    expect(journal.find((x) => x.type === 'run.resumed')?.data).toMatchObject({
      after: 'interruption',
      previous_pid: dead,
    });
    expect(journal.map((x) => x.type).slice(-4)).toEqual([
      'run.resumed',
      'step.resumed',
      'step.finished',
      'step.waiting',
    ]);
    expect(e.load(run.id).state.owner).toBeNull();
    e.respond(run.id, 'm', { ticks: [0] }, 'ann');
    expect((await e.advance(run.id, jobWith())).status).toBe('succeeded');
  });

  it('checks both events before touching anything', () => {
    const run = start(['  - { id: m, title: M, kind: manual }']);
    const before = structuredClone(run.state.steps.m);
    // The step may go pending → waiting, but a waiting run cannot finish: neither moves.
    run.status = 'waiting';
    expect(() => applyChange(run, { run: 'finish', step: { id: 'm', event: 'wait', set: { by: 'x' } } })).toThrow(
      IllegalTransitionError,
    );
    expect(run.state.steps.m).toEqual(before);
    expect(run.status).toBe('waiting');
  });
});

describe('forecast and clocks over the runbook store', { timeout: 20_000 }, () => {
  it('estimates from the sets, the read speeds on their media and the last drill’s restore rate', () => {
    const dir = tempDir();
    const catalog = Catalog.open(join(dir.path, 'catalog.sqlite'));
    try {
      const MiB = 1048576;
      catalog.db.exec(
        "INSERT INTO media (id, kind, label, location, first_seen) VALUES ('m1', 'folder', 'usb', '/m', '2026-01-01T00:00:00Z')",
      );
      for (const [id, at, bytes] of [
        ['1', '2026-11-01T00:00:00.000Z', 100 * MiB],
        ['2', '2026-11-20T00:00:00.000Z', 400 * MiB],
      ] as const) {
        catalog
          .stmt(
            'INSERT INTO sets (key, set_id, system, kind, created_at, finished_at, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)',
          )
          .run(`shop/${id}`, id, 'shop', 'pg-logical', at, at, bytes);
        catalog
          .stmt('INSERT INTO presence (set_key, medium_id, set_path, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)')
          .run(`shop/${id}`, 'm1', `sets/${id}`, at, at);
      }
      // Two reads on shop's medium (median 10 MiB/s) and a faster one on another medium that must not count.
      for (const [key, medium, bps] of [
        ['shop/1', 'm1', 8 * MiB],
        ['shop/1', 'm1', 10 * MiB],
        ['other/1', 'm2', 500 * MiB],
      ] as const)
        catalog
          .stmt(
            "INSERT INTO verifications (set_key, medium_id, level, verdict, bytes, started_at, duration_ms, bytes_per_sec) VALUES (?, ?, 'integrity', 'ok', 1, '2026-11-21T00:00:00Z', 1, ?)",
          )
          .run(key, medium, bps);
      const e = new RunEngine({
        catalog,
        settings: parseSettings({}),
        dataDir: dir.path,
        credentials: new MemoryCredentialStore(),
        identities: [],
      });
      const run = e.start(
        parseRunbook(
          rb([
            '  - { id: pick, title: P, kind: action, action: catalog.select-set, with: { system: shop, before: "2026-11-10T00:00:00Z" } }',
            '  - { id: check, title: C, kind: action, action: verify.set, with: { set: "{{ steps.pick.output.key }}" } }',
            '  - { id: whole, title: W, kind: action, action: verify.set, with: { set: shop/2 } }',
            '  - { id: once, title: O, kind: action, action: verify.set, with: { set: shop/2, one_pass: true } }',
            '  - { id: m, title: M, kind: manual, expected: 10m }',
          ]),
        ),
        {},
        { drill: true, operator: 'ann', source: 'test' },
      );
      const parts = Object.fromEntries(run.state.forecast!.parts.map((p) => [p.step, p]));
      // The select step's set is the newest before its `before`: shop/1, 100 MiB at 10 MiB/s.
      expect(parts.check).toMatchObject({
        seconds: 10,
        basis: expect.stringContaining('shop/1: 100.0 MiB read at 10 MiB/s'),
      });
      expect(parts.whole).toMatchObject({ seconds: 40, basis: expect.stringContaining('shop/2: 400.0 MiB') });
      expect(parts.pick).toMatchObject({ seconds: 1, basis: 'a catalog lookup' });
      expect(parts.m).toMatchObject({ seconds: 600, basis: 'planned time in the runbook' });
      // Its deep check runs with the restore, which reads the set: the verify step itself reads nothing.
      expect(parts.once).toMatchObject({ seconds: 1, basis: expect.stringContaining('in one pass') });
      expect(run.state.forecast).toMatchObject({ seconds: 652, rtoSeconds: 4 * 3600, fits: true });
    } finally {
      catalog.close();
      dir.cleanup();
    }
  });
});

describe('the forecast uses the measured time of the same work', { timeout: 20_000 }, () => {
  it('a restore or verify step: the set size at the rate earlier steps of that action (and level) took, whole; the own system first', () => {
    const dir = tempDir();
    const catalog = Catalog.open(join(dir.path, 'catalog.sqlite'));
    try {
      const MiB = 1048576;
      for (const [key, kind, bytes] of [
        ['shop/1', 'pg-logical', 100 * MiB],
        ['shop/2', 'pg-logical', 400 * MiB],
        ['blog/1', 'pg-logical', 100 * MiB],
        ['shop/b1', 'pg-base', 300 * MiB],
      ] as const)
        catalog
          .stmt(
            'INSERT INTO sets (key, set_id, system, kind, created_at, finished_at, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)',
          )
          .run(key, key.split('/')[1], key.split('/')[0], kind, '2026-11-01T00:00:00.000Z', null, bytes);
      // Earlier runs: shop/1 restored in 20 s (5 MiB/s), blog/1 in 2 s (another system: not used for shop),
      // shop/1 verified deep in 4 s, shop's base recovered in 60 s; a failed step never counts.
      const earlier = (id: string, steps: Array<[string, string, number, Record<string, unknown>, string?]>) =>
        catalog
          .stmt(
            "INSERT INTO runs (id, runbook_id, title, drill, status, operator, incident_at, started_at, finished_at, inputs_json, state_json) VALUES (?, 'x', 'x', 1, 'succeeded', 'ann', NULL, ?, NULL, '{}', ?)",
          )
          .run(
            id,
            `2026-11-0${id.length}T00:00:00Z`,
            JSON.stringify({
              runbook: { steps: steps.map(([sid, action, , o]) => ({ id: sid, kind: 'action', action, with: o })) },
              steps: Object.fromEntries(
                steps.map(([sid, , seconds, output, status]) => [
                  sid,
                  {
                    status: status ?? 'done',
                    startedAt: '2026-11-02T00:00:00.000Z',
                    finishedAt: new Date(Date.parse('2026-11-02T00:00:00.000Z') + seconds * 1000).toISOString(),
                    output,
                  },
                ]),
              ),
            }),
          );
      earlier('r1', [
        ['restore', 'restore.pg-logical', 20, { set: 'shop/1' }],
        ['verify', 'verify.set', 4, { key: 'shop/1', level: 'deep' }],
        ['again', 'restore.pg-logical', 1, { set: 'shop/1' }, 'failed'],
      ]);
      earlier('r22', [
        ['restore', 'restore.pg-logical', 2, { set: 'blog/1' }],
        ['recover', 'restore.pg-pitr', 60, { system: 'shop', base: 'b1' }],
      ]);
      const e = new RunEngine({
        catalog,
        settings: parseSettings({}),
        dataDir: dir.path,
        credentials: new MemoryCredentialStore(),
        identities: [],
      });
      const run = e.start(
        parseRunbook(
          rb([
            '  - { id: deep, title: D, kind: action, action: verify.set, with: { set: shop/2, level: deep } }',
            '  - { id: rl, title: R, kind: action, action: verify.set, with: { set: shop/2, level: restore } }',
            '  - { id: restore, title: R, kind: action, action: restore.pg-logical, with: { set: shop/2, database: x } }',
            '  - { id: other, title: O, kind: action, action: restore.pg-logical, with: { set: blog/1, database: x } }',
            '  - { id: pitr, title: P, kind: action, expected: 30m, action: restore.pg-pitr, with: { system: shop, target_time: "2026-12-01T00:00:00Z" } }',
          ]),
        ),
        {},
        { drill: true, operator: 'ann', source: 'test' },
      );
      const parts = Object.fromEntries(run.state.forecast!.parts.map((p) => [p.step, p]));
      expect(parts.restore).toMatchObject({
        seconds: 80,
        basis:
          'shop/2: 400.0 MiB; the whole step at 5.0 MiB/s of stored set, as 1 earlier restore.pg-logical step of shop took',
      });
      expect(parts.deep).toMatchObject({ seconds: 16, basis: expect.stringContaining('verify.set:deep step of shop') });
      // No restore-level verification measured (a deep one does other work), no read speed: not estimated.
      expect(parts.rl).toMatchObject({ seconds: null, basis: expect.stringContaining('no read speed') });
      expect(parts.other).toMatchObject({ seconds: 2, basis: expect.stringContaining('of blog took') });
      expect(parts.pitr).toMatchObject({ seconds: 60, basis: expect.stringContaining('shop/b1: 300.0 MiB') });
    } finally {
      catalog.close();
      dir.cleanup();
    }
  });
});

/** A table as docs/architecture.md draws it: a row per status that has exits, a column per event, · for none. */
function drawn<S extends string, E extends string>(label: string, table: Table<S, E>, events: readonly E[]): string {
  const open = (Object.keys(table) as S[]).filter((s) => Object.keys(table[s]).length > 0);
  const rows = [[label, ...events], ...open.map((s) => [s, ...events.map((e) => table[s][e] ?? '·')])];
  const width = (i: number): number => Math.max(...rows.map((r) => r[i]!.length));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(width(i)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

describe('the runner’s shared types and its docs', { timeout: 10_000 }, () => {
  it('docs/architecture.md draws the tables as they are', () => {
    const doc = readFileSync(join(__dirname, '../../docs/architecture.md'), 'utf8');
    expect(doc).toContain(drawn('run', RUN_TRANSITIONS, RUN_EVENTS));
    expect(doc).toContain(drawn('step', STEP_TRANSITIONS, STEP_EVENTS));
  });

  it('clocks, forecast and report read the run types from types.ts, not the runner', () => {
    for (const f of ['clocks.ts', 'forecast.ts', 'report.ts', 'context.ts', 'answers.ts', 'machine.ts', 'types.ts']) {
      const text = readFileSync(join(__dirname, '../../electron/engine/runbooks', f), 'utf8');
      expect(text, f).not.toMatch(/from '\.\/runner'/);
    }
  });
});
