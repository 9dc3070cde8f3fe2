import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../electron/engine/catalog/catalog';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { renderChecklistHtml, renderChecklistText } from '../../electron/engine/runbooks/checklist';
import { runSummary } from '../../electron/engine/runbooks/clocks';
import { parseRunbook } from '../../electron/engine/runbooks/format';
import { BUILTIN_RUNBOOKS } from '../../electron/engine/runbooks/library';
import { verifyJournal } from '../../electron/engine/runbooks/journal';
import { renderReport } from '../../electron/engine/runbooks/report';
import { RunEngine } from '../../electron/engine/runbooks/runner';
import { parseSettings } from '../../electron/engine/settings/settings';
import { tempDir } from '../helpers/temp';

/** Runs that hold (issue 21, item 5): sign-offs, skips, exceptions, messages, ticks, objectives from the tier. */

const rb = (steps: string[], extra: string[] = []): string =>
  [
    'id: t',
    'title: T',
    'description: d',
    'level: 2',
    'objectives: { rto: 4h, rpo: 24h }',
    ...extra,
    'steps:',
    ...steps,
    '',
  ].join('\n');

const job = {
  signal: new AbortController().signal,
  progress: () => undefined,
  log: () => undefined,
  step: () => undefined,
};

describe('runs that hold', { timeout: 20_000 }, () => {
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

  const engine = (settings = parseSettings({})): RunEngine =>
    new RunEngine({ catalog, settings, dataDir: dir.path, credentials: new MemoryCredentialStore(), identities: [] });
  const events = (runId: string): Array<{ type: string; actor: string; data: Record<string, unknown> }> =>
    (
      catalog.db
        .prepare('SELECT type, actor, data_json FROM journal WHERE run_id = ? ORDER BY seq')
        .all(runId) as Array<{ type: string; actor: string; data_json: string }>
    ).map((r) => ({
      type: r.type,
      actor: r.actor,
      data: JSON.parse(r.data_json) as Record<string, unknown>,
    }));

  it('refuses a sign-off skipped by the person it asks to sign, in a drill too; a second named person may waive it', async () => {
    const e = engine();
    const run = e.start(
      parseRunbook(rb(['  - { id: m, title: M, kind: manual, checklist: [x], signoff: { role: Lead } }'])),
      {},
      { drill: true, operator: 'ann', source: 't' },
    );
    await e.advance(run.id, job);
    expect(() => e.skip(run.id, 'm', 'no time', 'ann')).toThrow(
      /asks for a sign-off: ann, who is asked to sign, cannot skip it/,
    );
    expect(() => e.skip(run.id, 'm', 'no time', 'ann', 'ANN')).toThrow(/someone other than ann/);
    expect(e.load(run.id).state.steps.m!.status).toBe('waiting');
    e.skip(run.id, 'm', 'lead away, approved by phone', 'ann', 'Bob');
    const done = await e.advance(run.id, job);
    expect(done.status).toBe('completed-with-exceptions');
    const ev = events(run.id);
    expect(ev.filter((x) => x.type === 'step.skip-refused')).toHaveLength(2);
    expect(ev.find((x) => x.type === 'step.skipped')?.data).toMatchObject({ step: 'm', second_person: 'Bob' });
    expect(ev.at(-1)).toMatchObject({
      type: 'run.finished',
      data: { status: 'completed-with-exceptions', exceptions: [{ step: 'm', by: 'ann', approved_by: 'Bob' }] },
    });
    expect(verifyJournal(catalog, run.id, done.state.journal).ok).toBe(true);
  });

  it('needs a second person for any skip in a live run; a drill skips a plain step with a reason', async () => {
    const steps = [
      '  - { id: a, title: A, kind: manual, checklist: [x] }',
      '  - { id: b, title: B, kind: manual, checklist: [y] }',
    ];
    const e = engine();
    const live = e.start(parseRunbook(rb(steps)), {}, { drill: false, operator: 'ann', source: 't' });
    await e.advance(live.id, job);
    expect(() => e.skip(live.id, 'a', 'done on paper', 'ann')).toThrow(/LIVE run needs a second person/);
    e.skip(live.id, 'a', 'done on paper', 'ann', 'Carla');
    await e.advance(live.id, job);
    e.respond(live.id, 'b', { ticks: [0] }, 'ann');
    const ended = await e.advance(live.id, job);
    expect(ended.status).toBe('completed-with-exceptions');
    expect(runSummary(catalog, null, ended).exceptions).toEqual([
      { step: 'a', title: 'A', by: 'ann', approvedBy: 'Carla', reason: 'done on paper' },
    ]);
    const html = renderReport(catalog, ended);
    expect(html).toContain('Completed with exceptions: 1 step was skipped');
    expect(html).toContain('skipped by ann, approved by Carla');
    expect(() => e.skip(live.id, 'b', 'late', 'ann', 'Carla')).toThrow(/already ended/);

    const drill = e.start(parseRunbook(rb(steps)), {}, { drill: true, operator: 'ann', source: 't' });
    await e.advance(drill.id, job);
    e.skip(drill.id, 'a', 'not part of this drill', 'ann');
    expect(e.load(drill.id).state.steps.a).toMatchObject({ status: 'skipped', skipApprovedBy: null });
  });

  it('a cancelled run is not judged within the RTO (nothing was recovered), in the summary or the report', async () => {
    const e = engine();
    const run = e.start(
      parseRunbook(rb(['  - { id: a, title: A, kind: manual, checklist: [x] }'])),
      {},
      { drill: false, operator: 'ann', source: 't' },
    );
    await e.advance(run.id, job);
    const cancelled = await e.cancel(run.id, 'wrong folder', 'ann');
    expect(cancelled.status).toBe('cancelled');
    const s = runSummary(catalog, null, cancelled);
    expect(s.rtoAchievedSeconds).not.toBeNull();
    expect(s.rtoOk).toBeNull();
    const html = renderReport(catalog, cancelled);
    expect(html).toMatch(/RTO \(incident → end\)<\/th><td>[^<]*<\/td><td class="na">/);
    expect(html).toContain('Achieved (incident → end)</th><td class="na">');
  });

  it('a run with no skip by a person succeeds; a step whose condition does not apply is no exception', async () => {
    const e = engine();
    const run = e.start(
      parseRunbook(
        rb(['  - { id: a, title: A, kind: manual, when: "{{ run.drill }}" }', '  - { id: b, title: B, kind: manual }']),
      ),
      {},
      { drill: false, operator: 'ann', source: 't' },
    );
    await e.advance(run.id, job);
    e.respond(run.id, 'b', {}, 'ann');
    expect((await e.advance(run.id, job)).status).toBe('succeeded');
  });

  it('a communicate step shows the message and waits until a person says who sent it and how', async () => {
    const e = engine();
    const run = e.start(
      parseRunbook(
        rb([
          '  - { id: tell, title: Tell, kind: communicate, audience: Team, template: "Run {{ run.id }} by {{ run.operator }}" }',
        ]),
      ),
      {},
      { drill: false, operator: 'ann', source: 't' },
    );
    const waiting = await e.advance(run.id, job);
    expect(waiting.status).toBe('waiting');
    expect(waiting.state.steps.tell!.need).toEqual({
      type: 'communicate',
      audience: 'Team',
      message: `Run ${run.id} by ann`,
    });
    // Lifeboat does not tick it: advancing again still waits.
    expect((await e.advance(run.id, job)).state.steps.tell!.status).toBe('waiting');
    expect(() => e.respond(run.id, 'tell', { signoff: 'ann' }, 'ann')).toThrow(/who sent the message to Team and how/);
    e.respond(run.id, 'tell', { signoff: 'ann', sentVia: 'e-mail to ops@' }, 'ann');
    const done = await e.advance(run.id, job);
    expect(done.status).toBe('succeeded');
    expect(done.state.steps.tell!.output).toMatchObject({
      message: `Run ${run.id} by ann`,
      sent_by: 'ann',
      sent_via: 'e-mail to ops@',
    });
    expect(events(run.id).find((x) => x.type === 'step.communicated')?.data).toMatchObject({
      sent_by: 'ann',
      sent_via: 'e-mail to ops@',
    });
    expect(renderReport(catalog, done)).toContain('Sent by ann via e-mail to ops@');
  });

  it('keeps ticks in the run: a reload (a new engine reading the catalog) sees them, and the answer counts them', async () => {
    const e = engine();
    const run = e.start(
      parseRunbook(rb(['  - { id: m, title: M, kind: manual, checklist: [one, two, three] }'])),
      {},
      { drill: false, operator: 'ann', source: 't' },
    );
    await e.advance(run.id, job);
    e.tick(run.id, 'm', 0, true, 'ann');
    e.tick(run.id, 'm', 2, true, 'ann');
    e.tick(run.id, 'm', 2, false, 'ann');
    e.tick(run.id, 'm', 1, true, 'ann');
    expect(() => e.tick(run.id, 'm', 7, true, 'ann')).toThrow(/no checklist item 7/);
    expect(engine().load(run.id).state.steps.m!.ticks).toEqual([0, 1]);
    expect(() => e.respond(run.id, 'm', {}, 'ann')).toThrow(/not ticked: three/);
    e.respond(run.id, 'm', { ticks: [2] }, 'ann');
    expect((await e.advance(run.id, job)).status).toBe('succeeded');
    expect(
      events(run.id)
        .filter((x) => x.type === 'step.ticked')
        .map((x) => x.data),
    ).toEqual([
      { step: 'm', item: 'one', ticked: true },
      { step: 'm', item: 'three', ticked: true },
      { step: 'm', item: 'three', ticked: false },
      { step: 'm', item: 'two', ticked: true },
    ]);
  });

  it('judges the run by the system tier, the runbook only when the system has none; records --allow-unsigned as an override', async () => {
    catalog.db
      .prepare(
        "INSERT INTO sets (key, set_id, system, kind, origin, tier, created_at, bytes, artifact_count) VALUES ('shop/s1', 's1', 'shop', 'pg-logical', 'lifeboat', NULL, ?, 1, 1)",
      )
      .run(new Date(Date.now() - 3600_000).toISOString());
    const settings = parseSettings({ systems: { shop: { tier: 'critical', validations: [] } } });
    const e = engine(settings);
    const text = rb(
      [
        '  - { id: m, title: "{{ objectives.rto }} {{ objectives.from }}", kind: manual, guidance: "RTO {{ objectives.rto }}, restore {{ objectives.restore_time }}" }',
      ],
      ['inputs:', '  - { id: system, type: system, label: S }'],
    );
    const run = e.start(
      parseRunbook(text),
      { system: 'shop' },
      { drill: false, operator: 'ann', source: 't', allowUnsigned: true },
    );
    await e.advance(run.id, job);
    const loaded = e.load(run.id);
    expect(e.guidanceOf(loaded, loaded.state.runbook.steps[0]!)).toBe('RTO 1 h, restore not measured (no restore ran)');
    expect(runSummary(catalog, settings, loaded)).toMatchObject({
      rtoSeconds: 3600,
      rpoSeconds: 300,
      objectivesFrom: 'tier critical of shop',
    });
    expect(runSummary(catalog, parseSettings({}), loaded)).toMatchObject({
      rtoSeconds: 14400,
      rpoSeconds: 86400,
      objectivesFrom: 'the runbook (shop has no tier)',
    });
    expect(renderReport(catalog, loaded, { settings })).toContain('Objective (tier critical of shop)');
    expect(events(run.id).find((x) => x.type === 'run.override')?.data).toMatchObject({ allow_unsigned: true });
  });

  it('the built-in restore runbooks pass the override on and parse', () => {
    for (const id of ['restore-database', 'restore-files', 'pitr-restore', 'restore-stream', 'restore-mysql']) {
      const parsed = parseRunbook(BUILTIN_RUNBOOKS[id]!, id);
      expect(JSON.stringify(parsed.runbook.steps)).toContain('{{ run.allow_unsigned }}');
      expect(parsed.runbook.steps.at(-1)).toMatchObject({ action: 'report.write' });
      expect(parsed.runbook.steps.some((s) => s.kind === 'manual' && s.signoff?.required)).toBe(true);
    }
  });
});

describe('blank checklist', () => {
  it('prints every step, checklist item, sign-off line and message, escaped, with a print stylesheet', () => {
    const parsed = parseRunbook(BUILTIN_RUNBOOKS['database-corruption']!, 'builtin:database-corruption');
    const html = renderChecklistHtml(parsed.runbook, { source: 'builtin:database-corruption', sha256: parsed.sha256 });
    expect(html).toContain('@media print');
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script/i);
    for (const s of parsed.runbook.steps) expect(html).toContain(s.title.replace(/&/g, '&amp;'));
    expect(html).toContain('Scope of the corruption identified (which database, which tables)');
    expect(html).toContain('Signed (Incident commander)');
    expect(html).toContain('Sent via (e-mail, phone, chat)');
    expect(html).toContain('{{ inputs.system }}');
    const hostile = parseRunbook(
      rb([
        '  - { id: x, title: "<img src=x onerror=alert(1)>", kind: manual, checklist: ["</li><script>bad()</script>"] }',
      ]),
    );
    const out = renderChecklistHtml(hostile.runbook, { source: 'x.yaml', sha256: hostile.sha256 });
    expect(out).not.toContain('<img');
    expect(out).not.toContain('<script>');
    expect(out).toContain('&lt;script&gt;bad()&lt;/script&gt;');
    const text = renderChecklistText(parsed.runbook, { source: 'builtin', sha256: parsed.sha256 });
    expect(text).toContain('[ ] 1. Assess the damage');
    expect(text).toContain('    [ ] Applications writing to the database stopped');
  });
});
