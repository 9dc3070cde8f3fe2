import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { StepNeed } from '../../../shared/domain/runs';
import type { Engine } from '../../engine/engine';
import { LifeboatError } from '../../engine/errors';
import { parseRunbook, RunbookInvalidError } from '../../engine/runbooks/format';
import { verifyJournal } from '../../engine/runbooks/journal';
import { listRunbooks, loadRunbook } from '../../engine/runbooks/library';
import { runObjectives, type RunObjectives } from '../../engine/runbooks/clocks';
import { renderChecklistHtml, renderChecklistText } from '../../engine/runbooks/checklist';
import { renderReport } from '../../engine/runbooks/report';
import { defaultOperator, runEngineFor, type RunEngine, type RunRecord } from '../../engine/runbooks/runner';
import { withCliEngine } from '../engine';
import { readIdentities } from '../keys-io';
import { formatDuration, printJson, table, type CliIo } from '../output';
import { runAsJob } from '../run-job';
import type { RunOptions } from './runbook';

export async function runbooksCommand(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withCliEngine((engine) => {
    const list = listRunbooks(engine.paths.dataDir);
    if (opts.json) printJson(io, { runbooks: list });
    else {
      io.stdout.write(
        table(
          ['ID', 'LEVEL', 'RTO', 'RPO', 'STEPS', 'TITLE', 'SOURCE'],
          list.map((r) => [
            r.id,
            r.problem ? 'INVALID' : String(r.level),
            r.problem ? '' : formatDuration(r.rtoSeconds),
            r.problem ? '' : formatDuration(r.rpoSeconds),
            String(r.steps),
            r.drill === 'only' ? `${r.title} (drill only)` : r.title,
            r.source,
          ]),
        ),
      );
      for (const r of list.filter((x) => x.problem))
        io.stdout.write(`\n${r.source} does not validate:\n${r.problem}\n`);
    }
    return Promise.resolve();
  });
}

const objectivesLine = (o: RunObjectives): string =>
  `RTO ${formatDuration(o.rtoSeconds)}, RPO ${formatDuration(o.rpoSeconds)} (from ${o.from})`;

export async function checklistCommand(io: CliIo, id: string, opts: { html?: string }): Promise<void> {
  await withCliEngine((engine) => {
    const parsed = loadRunbook(engine.paths.dataDir, id);
    if (opts.html) {
      const out = resolve(opts.html);
      writeFileSync(out, renderChecklistHtml(parsed.runbook, { source: parsed.source, sha256: parsed.sha256 }));
      io.stdout.write(
        `Blank checklist of ${parsed.runbook.id} written to ${out} (open it in a browser and print it)\n`,
      );
    } else io.stdout.write(renderChecklistText(parsed.runbook, { source: parsed.source, sha256: parsed.sha256 }));
    return Promise.resolve();
  });
}

export function checkCommand(io: CliIo, file: string, opts: { json?: boolean }): Promise<void> {
  try {
    const source = resolve(file);
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch {
      throw new LifeboatError('NOT_FOUND', `Cannot read the runbook file ${source}.`);
    }
    const { runbook } = parseRunbook(text, source);
    if (opts.json) printJson(io, { ok: true, id: runbook.id, steps: runbook.steps.length, source });
    else
      io.stdout.write(
        `${source}: valid — ${runbook.id} "${runbook.title}", ${runbook.inputs.length} input(s), ${runbook.steps.length} step(s)\n`,
      );
  } catch (e) {
    if (!(e instanceof RunbookInvalidError)) throw e;
    if (opts.json) printJson(io, { ok: false, problems: e.problems });
    else io.stderr.write(`${e.message}\n`);
    process.exitCode = 2;
  }
  return Promise.resolve();
}

function parseInputs(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new LifeboatError('BAD_INPUT', `--input takes key=value, got "${v.slice(0, 60)}".`);
    out[v.slice(0, eq).trim()] = v.slice(eq + 1);
  }
  return out;
}

/** Lines from the terminal (or, with LIFEBOAT_INTERACTIVE=1, from a pipe), buffered so none is lost. */
class Prompter {
  private readonly lines: AsyncIterator<string>;
  private readonly rl;

  constructor(private readonly io: CliIo) {
    this.rl = createInterface({ input: process.stdin, terminal: false });
    this.lines = this.rl[Symbol.asyncIterator]();
  }

  async ask(question: string): Promise<string> {
    this.io.stderr.write(question);
    const next = await this.lines.next();
    if (next.done)
      throw new LifeboatError(
        'CONFIRMATION_REQUIRED',
        'The terminal closed before the step was answered; the run waits — resume it with lifeboat run --resume.',
      );
    return next.value.trim();
  }

  close(): void {
    this.rl.close();
  }
}

const STATUS_MARK: Record<string, string> = {
  done: '✔',
  skipped: '↷',
  failed: '✘',
  waiting: '…',
  running: '▶',
  pending: ' ',
};

function printStepResults(io: CliIo, run: RunRecord, printed: Set<string>): void {
  for (const step of run.state.runbook.steps) {
    const st = run.state.steps[step.id]!;
    const key = `${step.id}:${st.status}:${st.attempts}`;
    if (step.kind === 'communicate' && st.status === 'waiting' && st.output && !printed.has(key)) {
      printed.add(key);
      io.stdout.write(
        `… ${step.id}: ${step.title}\n  ┌ message for ${String(st.output.audience)} — copy it out and send it; Lifeboat sends nothing\n${String(
          st.output.message,
        )
          .trimEnd()
          .split('\n')
          .map((l) => `  │ ${l}`)
          .join('\n')}\n  └\n`,
      );
      continue;
    }
    if (!['done', 'skipped', 'failed'].includes(st.status) || printed.has(key)) continue;
    printed.add(key);
    const took =
      st.startedAt && st.finishedAt
        ? ` (${formatDuration((Date.parse(st.finishedAt) - Date.parse(st.startedAt)) / 1000)})`
        : '';
    io.stdout.write(`${STATUS_MARK[st.status]} ${step.id}: ${step.title}${took}\n`);
    const sent = step.kind === 'communicate' ? (st.output as { sent_by?: string; sent_via?: string } | null) : null;
    if (sent?.sent_by) io.stdout.write(`  sent by ${sent.sent_by} via ${sent.sent_via ?? ''}\n`);
    if (step.kind === 'action' && st.output) {
      const o = st.output;
      if (step.action === 'catalog.select-set')
        io.stdout.write(
          `  chose ${String(o.key)} (made ${String(o.created_at)})${Array.isArray(o.passed_over) && o.passed_over.length ? `; passed over ${o.passed_over.length}: ${(o.passed_over as Array<{ key: string; reason: string }>).map((x) => `${x.key} — ${x.reason}`).join('; ')}` : ''}\n`,
        );
      else if (step.action === 'verify.set')
        io.stdout.write(`  ${String(o.key)}: ${String(o.verdict)} at ${String(o.level)} level\n`);
      else if (step.action === 'restore.pg-logical')
        io.stdout.write(
          `  ${String(o.tables)} table${Number(o.tables) === 1 ? '' : 's'} into ${String(o.database)} on ${String(o.host)}:${String(o.port)}, pg_restore took ${formatDuration(Number(o.restore_ms) / 1000)}\n`,
        );
      else if (step.action === 'restore.files')
        io.stdout.write(
          `  ${String(o.files)} files into ${String(o.dir)} (chain: ${(o.chain as string[]).join(', ')})\n`,
        );
      else if (step.action === 'check.sql')
        for (const c of o.checks as Array<{ sql: string; got: string | null; expect: string }>)
          io.stdout.write(`  ok  ${c.sql} → ${c.got ?? '—'} (${c.expect})\n`);
      else if (step.action === 'report.write') io.stdout.write(`  report: ${String(o.path)}\n`);
      else if (step.action === 'restore.pg-pitr') {
        io.stdout.write(
          `  recovered to ${String(o.replayed_to ?? o.target_time)} from ${String(o.base)} + ${String(o.segments)} WAL segments; PostgreSQL runs on 127.0.0.1:${String(o.port)}, data in ${String(o.data_dir)}\n`,
        );
        if (!run.drill && typeof o.stop_command === 'string') io.stdout.write(`  stop it with: ${o.stop_command}\n`);
      }
      // The steps that depend on it are skipped with the expression only: say here why.
      else if (step.action === 'pitr.plan') {
        io.stdout.write(
          o.available
            ? `  possible: base ${String(o.base)} + ${String(o.segments)} WAL segments (window ${String(o.window_from)} → ${typeof o.window_to === 'string' ? o.window_to : '—'})\n`
            : `  not possible: ${String(o.reason)}\n`,
        );
      }
    }
    if (st.status === 'skipped') io.stdout.write(`  skipped: ${st.skipReason ?? ''}\n`);
    if (st.status === 'failed' && st.error) {
      io.stdout.write(`  ${st.error.code}: ${st.error.message}\n`);
      if (st.error.hint) io.stdout.write(`  ${st.error.hint}\n`);
      if (st.condition) io.stdout.write(`  target left: ${st.condition}\n`);
    }
  }
}

/** Ask a person for what the waiting step needs. Returns null when they decline (the run waits). */
async function askPerson(
  io: CliIo,
  p: Prompter,
  run: RunRecord,
  stepId: string,
  need: StepNeed,
  guidance: string | null,
): Promise<{ ticks?: number[]; signoff?: string; confirmation?: string; sentVia?: string } | null> {
  const step = run.state.runbook.steps.find((s) => s.id === stepId)!;
  io.stderr.write(`\n── ${step.title} ${run.drill ? '[DRILL]' : '[LIVE]'}\n`);
  if (guidance)
    io.stderr.write(
      `${guidance
        .trimEnd()
        .split('\n')
        .map((l) => `   ${l}`)
        .join('\n')}\n`,
    );
  if (need.type === 'manual') {
    const ticks: number[] = [];
    for (let i = 0; i < need.items.length; i++) {
      const a = await p.ask(`   [${i + 1}/${need.items.length}] ${need.items[i]} — done? (y/n) `);
      if (!/^y(es)?$/i.test(a)) {
        io.stderr.write('   Not done: the run waits here. Resume with the command below when it is.\n');
        return null;
      }
      ticks.push(i);
    }
    let signoff: string | undefined;
    if (need.signoff) {
      signoff = await p.ask(`   Sign-off (${need.signoff.role}) — your name: `);
      if (!signoff && need.signoff.required) return null;
    }
    return { ticks, signoff };
  }
  if (need.type === 'confirm') {
    io.stderr.write(`   ${need.prompt}\n`);
    return { confirmation: await p.ask(`   Type "${need.expect}" to confirm (anything else stops): `) };
  }
  if (need.type === 'communicate') {
    // The message was printed above (printStepResults shows a waiting communicate step): Lifeboat sends nothing.
    const by = await p.ask(`   Message for ${need.audience}: who sent it? (empty: not sent yet, the run waits) `);
    if (!by) return null;
    const via = await p.ask('   How was it sent (e-mail, phone, chat…)? ');
    return via ? { signoff: by, sentVia: via } : null;
  }
  const name = await p.ask(`   ${need.role} (a second person, not ${need.notName}) — name: `);
  return name ? { signoff: name } : null;
}

function autoAnswer(
  run: RunRecord,
  need: StepNeed,
): { ticks?: number[]; signoff?: string; confirmation?: string; sentVia?: string; auto: true } {
  if (need.type === 'manual')
    return {
      ticks: need.items.map((_, i) => i),
      signoff: need.signoff ? `${run.operator} (drill, --yes)` : undefined,
      auto: true,
    };
  if (need.type === 'confirm') return { confirmation: need.expect, auto: true };
  if (need.type === 'communicate') return { signoff: run.operator, sentVia: 'not sent (drill, --yes)', auto: true };
  return { signoff: 'drill auto-approval (--yes)', auto: true };
}

async function drive(
  engine: Engine,
  io: CliIo,
  runner: RunEngine,
  runId: string,
  opts: RunOptions,
): Promise<RunRecord> {
  const interactive = Boolean(process.stdin.isTTY) || process.env.LIFEBOAT_INTERACTIVE === '1';
  const printed = new Set<string>();
  let prompter: Prompter | null = null;
  try {
    for (;;) {
      const run = await runAsJob(engine, io, { kind: 'run', title: `Run ${runId}` }, (ctx) =>
        runner.advance(runId, ctx),
      );
      if (!opts.json) printStepResults(io, run, printed);
      if (run.status !== 'waiting') return run;
      const waiting = run.state.runbook.steps.find((s) => run.state.steps[s.id]?.status === 'waiting')!;
      const need = run.state.steps[waiting.id]!.need!;
      if (opts.yes && run.drill) {
        runner.respond(runId, waiting.id, autoAnswer(run, need), run.operator);
        continue;
      }
      if (!interactive) {
        throw new LifeboatError(
          'CONFIRMATION_REQUIRED',
          `Step ${waiting.id} ("${waiting.title}") needs a person${need.type === 'confirm' ? `: ${need.prompt}` : ''}, and there is no terminal to ask in.`,
          {
            hint: `The run waits. Continue it in a terminal: lifeboat run --resume ${runId}${opts.yes ? ' (--yes answers only drills)' : ''}`,
          },
        );
      }
      prompter ??= new Prompter(io);
      const answer = await askPerson(io, prompter, run, waiting.id, need, runner.guidanceOf(run, waiting));
      if (!answer) return run;
      try {
        runner.respond(runId, waiting.id, answer, opts.operator ?? run.operator);
      } catch (e) {
        if (!(e instanceof LifeboatError) || e.code !== 'CONFIRMATION_REQUIRED') throw e;
        io.stderr.write(`   ${e.message}\n`);
        return run;
      }
    }
  } finally {
    prompter?.close();
  }
}

export async function runCommand(io: CliIo, id: string | undefined, opts: RunOptions): Promise<void> {
  const identities = readIdentities(opts.identity ?? []);
  await withCliEngine(async (engine) => {
    const settings = engine.settings();
    const runner = runEngineFor(engine, identities);
    const operator = opts.operator ?? defaultOperator(settings.operatorName);
    let runId: string;
    if (opts.cancel) {
      if (!opts.reason) throw new LifeboatError('BAD_INPUT', 'Cancelling a run needs --reason.');
      const run = await runner.cancel(opts.cancel, opts.reason, operator);
      if (opts.json) printJson(io, { ok: true, run: run.id, status: run.status });
      else io.stdout.write(`Run ${run.id} cancelled.\n`);
      return;
    }
    if (opts.secondPerson && !opts.skip) throw new LifeboatError('BAD_INPUT', '--second-person goes with --skip.');
    if (opts.resume) {
      if (opts.allowUnsigned)
        throw new LifeboatError(
          'BAD_INPUT',
          '--allow-unsigned is decided when a run starts (it is journaled with the start); a resumed run keeps its choice.',
        );
      if (id) throw new LifeboatError('BAD_INPUT', 'Give either a runbook to start or --resume <run id>, not both.');
      runId = opts.resume;
      const run = runner.load(runId);
      if (opts.skip) {
        if (!opts.reason) throw new LifeboatError('BAD_INPUT', 'Skipping a step needs --reason.');
        runner.skip(runId, opts.skip, opts.reason, operator, opts.secondPerson ?? null);
      }
      if (!opts.json)
        io.stdout.write(
          `Resuming run ${run.id} of ${run.runbookId} ${run.drill ? '[DRILL]' : '[LIVE]'} (${run.status})\n`,
        );
    } else {
      if (!id)
        throw new LifeboatError(
          'BAD_INPUT',
          'Give a runbook id or file (see lifeboat runbooks), or --resume <run id>.',
        );
      if (opts.yes && !opts.drill)
        throw new LifeboatError(
          'BAD_INPUT',
          '--yes answers steps automatically only in drills: add --drill, or run it live in a terminal without --yes.',
        );
      const parsed = loadRunbook(engine.paths.dataDir, id);
      const run = runner.start(parsed, parseInputs(opts.input ?? []), {
        drill: Boolean(opts.drill),
        operator,
        source: parsed.source,
        allowUnsigned: Boolean(opts.allowUnsigned),
      });
      if (opts.allowUnsigned && !opts.json)
        io.stderr.write(
          'lifeboat: --allow-unsigned: this run may restore sets not signed by a pinned key (journaled as run.override)\n',
        );
      runId = run.id;
      if (!opts.json) {
        const f = run.state.forecast;
        io.stdout.write(
          `Run ${run.id} of ${parsed.runbook.id} ${run.drill ? '[DRILL]' : '[LIVE]'} — ${parsed.runbook.title}\n`,
        );
        io.stdout.write(
          `  operator ${run.operator}; incident at ${run.incidentAt}; ${objectivesLine(runObjectives(engine.catalog, settings, run))}\n`,
        );
        if (f)
          io.stdout.write(
            `  forecast: ${f.seconds !== null ? `${formatDuration(f.seconds)} ${f.fits ? 'within' : 'OVER'} the RTO` : 'not enough measurements yet'}${f.parts.some((p) => p.seconds === null) ? ` (${f.parts.filter((p) => p.seconds === null).length} step(s) without an estimate)` : ''}\n`,
          );
        io.stdout.write(`  if interrupted: lifeboat run --resume ${run.id}\n`);
      }
    }
    const run = await drive(engine, io, runner, runId, opts);
    const achieved = runner.achieved(run);
    const objectives = runObjectives(engine.catalog, settings, run);
    const report =
      run.state.runbook.steps
        .map((s) => run.state.steps[s.id]?.output?.path)
        .find((p): p is string => typeof p === 'string' && p.endsWith('.html')) ?? null;
    if (opts.json) {
      printJson(io, {
        ok: run.status === 'succeeded',
        run: run.id,
        runbook: run.runbookId,
        drill: run.drill,
        status: run.status,
        achieved,
        forecast: run.state.forecast,
        report,
        journal: run.state.journal,
        steps: run.state.runbook.steps.map((s) => ({ id: s.id, kind: s.kind, ...run.state.steps[s.id] })),
      });
    } else if (run.status === 'succeeded' || run.status === 'completed-with-exceptions') {
      const exceptions =
        run.status === 'completed-with-exceptions' ? ' COMPLETED WITH EXCEPTIONS (a step was skipped; exit 3)' : '';
      io.stdout.write(
        `Run ${run.id} finished${run.drill ? ' (drill)' : ''}${exceptions}: RTO ${achieved.rto_seconds !== null ? formatDuration(achieved.rto_seconds) : '—'} (objective ${formatDuration(objectives.rtoSeconds)})${achieved.rpo_seconds !== null ? `, RPO ${formatDuration(achieved.rpo_seconds)} (objective ${formatDuration(objectives.rpoSeconds)})` : ''}.${report ? ` Report: ${report}` : ''}\n`,
      );
    } else {
      io.stdout.write(
        `Run ${run.id} is ${run.status}. Continue with: lifeboat run --resume ${run.id}${run.status === 'failed' ? ' (the failed step runs again), or skip it with --skip <step> --reason …' : ''}\n`,
      );
    }
    // A cron job must see a run that skipped a step: exit 3 (1 and 2 are errors), never 0.
    if (run.status === 'completed-with-exceptions') process.exitCode = 3;
    else if (run.status !== 'succeeded') process.exitCode = 1;
  });
}

export async function runsCommand(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withCliEngine((engine) => {
    const runner = runEngineFor(engine, []);
    const runs = runner.list();
    if (opts.json) printJson(io, { runs });
    else
      io.stdout.write(
        table(
          ['RUN', 'RUNBOOK', 'MODE', 'STATUS', 'STEP', 'STARTED', 'OPERATOR'],
          runs.map((r) => [
            r.id,
            r.runbookId,
            r.drill ? 'drill' : 'LIVE',
            r.status,
            r.currentStep ?? '',
            r.startedAt,
            r.operator,
          ]),
        ),
      );
    return Promise.resolve();
  });
}

export async function journalVerifyCommand(io: CliIo, runId: string, opts: { json?: boolean }): Promise<void> {
  await withCliEngine((engine) => {
    const runner = runEngineFor(engine, []);
    const run = runner.load(runId);
    const check = verifyJournal(engine.catalog, runId, run.state.journal);
    if (opts.json)
      printJson(io, { ok: check.ok, run: runId, events: check.events, head: check.headHash, problems: check.problems });
    else if (check.ok)
      io.stdout.write(`Journal of run ${runId}: intact — ${check.events} events, head ${check.headHash}\n`);
    else io.stdout.write(`Journal of run ${runId}: BROKEN\n${check.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    if (!check.ok) process.exitCode = 1;
    return Promise.resolve();
  });
}

export async function reportCommand(io: CliIo, runId: string, opts: { out: string }): Promise<void> {
  await withCliEngine((engine) => {
    const runner = runEngineFor(engine, []);
    const html = renderReport(engine.catalog, runner.load(runId), { settings: engine.settings() });
    writeFileSync(opts.out, html);
    io.stdout.write(`Report of run ${runId} written to ${opts.out} (${Buffer.byteLength(html)} bytes)\n`);
    return Promise.resolve();
  });
}
