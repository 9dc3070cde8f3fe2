import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { parseDuration, parseRunbook, RunbookInvalidError } from '../../electron/engine/runbooks/format';
import { appendEvent, GENESIS, verifyJournal, type JournalHead } from '../../electron/engine/runbooks/journal';
import { BUILTIN_RUNBOOKS } from '../../electron/engine/runbooks/library';
import { RunEngine } from '../../electron/engine/runbooks/runner';
import { render, templateRefs } from '../../electron/engine/runbooks/template';
import { parseSettings } from '../../electron/engine/settings/settings';
import { tempDir } from '../helpers/temp';

const minimal = (steps: string): string =>
  ['id: t', 'title: T', 'description: d', 'level: 2', 'objectives: { rto: 1h30m, rpo: 15m }', 'steps:', steps, ''].join(
    '\n',
  );

function problemsOf(text: string): RunbookInvalidError['problems'] {
  try {
    parseRunbook(text, 'rb.yaml');
  } catch (e) {
    if (e instanceof RunbookInvalidError) return e.problems;
    throw e;
  }
  throw new Error('expected the runbook to be invalid');
}

describe('runbook format', () => {
  it('parses every built-in', () => {
    for (const [id, text] of Object.entries(BUILTIN_RUNBOOKS)) expect(parseRunbook(text, id).runbook.id).toBe(id);
  });

  it('reads durations', () => {
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('soon')).toBeNull();
    expect(parseRunbook(minimal('  - { id: a, title: A, kind: manual }')).runbook.objectives).toEqual({
      rto: 5400,
      rpo: 900,
    });
  });

  it('names the line and field of each problem', () => {
    const p = problemsOf(
      minimal(
        [
          '  - id: a',
          '    title: A',
          '    kind: manual',
          '    checklist: oops',
          '  - id: b',
          '    kind: gate',
          '    gate: maybe',
          '    title: B',
        ].join('\n'),
      ),
    );
    expect(p).toEqual([
      expect.objectContaining({ line: 10, field: 'steps[a].checklist' }),
      expect.objectContaining({ line: 13, field: 'steps[b].gate' }),
    ]);
  });

  it('reports a missing field at its parent line', () => {
    const p = problemsOf(
      minimal(['  - id: a', '    kind: communicate', '    audience: All', '    template: hi'].join('\n')),
    );
    expect(p).toEqual([
      expect.objectContaining({ line: 7, field: 'steps[a].title', message: 'required, but missing' }),
    ]);
  });

  it('checks templates name declared inputs and earlier steps', () => {
    const p = problemsOf(
      minimal(
        [
          '  - { id: a, title: A, kind: action, action: catalog.select-set, with: { system: "{{ inputs.nope }}" } }',
          '  - { id: b, title: B, kind: action, action: verify.set, with: { set: "{{ steps.c.output.key }}" } }',
          '  - { id: c, title: C, kind: action, action: verify.set, with: { set: x, colour: blue } }',
          '  - { id: c, title: D, kind: manual }',
        ].join('\n'),
      ),
    );
    expect(p.map((x) => x.message)).toEqual([
      expect.stringContaining('names an input the runbook does not declare'),
      expect.stringContaining('names a step that does not come before this one'),
      expect.stringContaining('verify.set has no parameter colour'),
      'the step id c is used twice',
    ]);
  });

  it('rejects YAML syntax errors and duplicate keys with a line', () => {
    expect(problemsOf('id: a\nid: b\n')[0]!.line).toBe(2);
    expect(problemsOf('id: [a\n')[0]!.line).not.toBeNull();
  });
});

describe('templates', () => {
  const ctx = { inputs: { system: 'shop', n: 3 }, steps: { s: { output: { key: 'shop/1' } } } };
  it('keeps the type of a whole-value reference and interpolates text', () => {
    expect(render('{{ inputs.n }}', ctx, 'x')).toBe(3);
    expect(render('db of {{ inputs.system }} from {{ steps.s.output.key }}', ctx, 'x')).toBe('db of shop from shop/1');
    expect(render({ a: ['{{ inputs.system }}'] }, ctx, 'x')).toEqual({ a: ['shop'] });
  });
  it('drops an optional input left empty, refuses an unknown output', () => {
    expect(render({ target: '{{ inputs.target }}', keep: 1 }, ctx, 'x')).toEqual({ keep: 1 });
    expect(() => render('{{ steps.t.output.key }}', ctx, 'step y')).toThrow(
      /step y: \{\{ steps\.t\.output\.key \}\} has no value/,
    );
  });
  it('lists references', () => {
    expect(templateRefs({ a: '{{ inputs.a }} and {{run.id}}', b: ['{{ steps.x.output }}'] })).toEqual([
      'inputs.a',
      'run.id',
      'steps.x.output',
    ]);
  });
});

describe('journal and run state', () => {
  let dir: ReturnType<typeof tempDir>;
  let catalog: Catalog;
  beforeEach(() => {
    dir = tempDir();
    catalog = Catalog.open(join(dir.path, 'catalog.sqlite'));
  });
  afterEach(() => {
    catalog.close();
    dir.cleanup();
  });

  function engine(): RunEngine {
    return new RunEngine({
      catalog,
      settings: parseSettings({}),
      dataDir: dir.path,
      credentials: new MemoryCredentialStore(),
      identities: [],
    });
  }

  it('chains every event to the one before', () => {
    catalog.db
      .prepare("INSERT INTO runs (id, runbook_id, title, status, started_at) VALUES ('r', 'x', 'X', 'running', 'now')")
      .run();
    let head: JournalHead = { seq: 0, hash: GENESIS };
    for (let i = 0; i < 5; i++) head = appendEvent(catalog, 'r', head, 'alice', 'e', { i });
    expect(verifyJournal(catalog, 'r', head)).toMatchObject({ ok: true, events: 5, headHash: head.hash });
    catalog.db.prepare('UPDATE journal SET data_json = \'{"i":9}\' WHERE seq = 2').run();
    expect(verifyJournal(catalog, 'r', head).problems).toEqual([
      'event 2 (e) was edited: its content does not match its hash',
    ]);
  });

  it('walks a manual-only run: waits, refuses incomplete answers, journals sign-offs, refuses --yes live', async () => {
    const parsed = parseRunbook(
      minimal(
        [
          '  - { id: m, title: M, kind: manual, checklist: [one, two], signoff: { role: Lead } }',
          '  - { id: g, title: G, kind: gate, gate: second-person, role: Auditor }',
        ].join('\n'),
      ),
    );
    const e = engine();
    const run = e.start(parsed, {}, { drill: false, operator: 'ann', source: 'test' });
    const job = {
      signal: new AbortController().signal,
      progress: () => undefined,
      log: () => undefined,
      step: () => undefined,
    };
    expect((await e.advance(run.id, job)).status).toBe('waiting');
    expect(() => e.respond(run.id, 'm', { ticks: [0] }, 'ann')).toThrow(/not ticked: two/);
    expect(() => e.respond(run.id, 'm', { ticks: [0, 1] }, 'ann')).toThrow(/sign-off by name/);
    expect(() => e.respond(run.id, 'm', { ticks: [0, 1], signoff: 'Ann', auto: true }, 'ann')).toThrow(
      /only in drills/,
    );
    e.respond(run.id, 'm', { ticks: [0, 1], signoff: 'Ann' }, 'ann');
    await e.advance(run.id, job);
    expect(() => e.respond(run.id, 'g', { signoff: 'ANN' }, 'ann')).toThrow(/cannot sign/);
    e.respond(run.id, 'g', { signoff: 'Bob' }, 'ann');
    const done = await e.advance(run.id, job);
    expect(done.status).toBe('succeeded');
    expect(verifyJournal(catalog, run.id, done.state.journal).ok).toBe(true);
    const types = catalog.db.prepare('SELECT type FROM journal WHERE run_id = ? ORDER BY seq').pluck().all(run.id);
    expect(types).toEqual([
      'run.created',
      'run.forecast',
      'step.waiting',
      'step.completed',
      'step.waiting',
      'step.signed',
      'run.finished',
    ]);
  });

  it('skipping needs a reason and is journaled', async () => {
    const parsed = parseRunbook(minimal('  - { id: m, title: M, kind: manual, checklist: [x] }'));
    const e = engine();
    const run = e.start(parsed, {}, { drill: true, operator: 'ann', source: 'test' });
    const job = {
      signal: new AbortController().signal,
      progress: () => undefined,
      log: () => undefined,
      step: () => undefined,
    };
    await e.advance(run.id, job);
    expect(() => e.skip(run.id, 'm', ' ', 'ann')).toThrow(/needs a reason/);
    e.skip(run.id, 'm', 'done on paper', 'ann');
    // A skip is an exception, never a plain pass (issue 21).
    expect((await e.advance(run.id, job)).status).toBe('completed-with-exceptions');
    const skipped = catalog.db
      .prepare("SELECT data_json FROM journal WHERE run_id = ? AND type = 'step.skipped'")
      .pluck()
      .get(run.id) as string;
    expect(JSON.parse(skipped)).toMatchObject({ step: 'm', reason: 'done on paper' });
  });
});
