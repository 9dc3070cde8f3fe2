import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { runEnded, type RunSummary, type StepResponse, type StepState } from '../../../shared/domain/runs';
import type { Catalog } from '../catalog/catalog';
import type { AgeIdentity } from '../crypto/age';
import type { SecretFiles } from '../foreign/secrets';
import type { Engine } from '../engine';
import { LifeboatError, toWireError } from '../errors';
import { ACTIONS } from './actions';
import { passingVerification } from '../catalog/ledger';
import { ConfirmationNeeded, type ActionContext, type ActionDeps } from './actions/types';
import { judgeAnswer, skipRefusal } from './answers';
import { achievedOf, runExceptions, type Achieved } from './clocks';
import { conditionFalse, guidanceWith, needOf, runContext } from './context';
import { computeForecast } from './forecast';
import { describeParamError, type Runbook, type Step } from './format';
import { resolveInputs } from './inputs';
import { digestOf, GENESIS } from './journal';
import { applyChange, checkRunEvent, type Change } from './machine';
import { blankStep, commitRun, createRun, listRunSummaries, loadRun } from './records';
import { renderReport, rewriteRunReports } from './report';
import { RunScratch } from './scratch';
import { render } from './template';
import { ACTOR_ENGINE, type JournalEntry, type RunJob, type RunRecord, type StartOptions } from './types';

export type { RunRecord, RunState, StartOptions } from './types';

type ActionStep = Extract<Step, { kind: 'action' }>;
type GateStep = Extract<Step, { kind: 'gate' }>;

/** The run engine over an engine's catalog, settings, data dir and keychain, with the identities to decrypt sets. */
export function runEngineFor(engine: Engine, identities: AgeIdentity[], foreignFiles?: SecretFiles): RunEngine {
  return new RunEngine({
    catalog: engine.catalog,
    settings: engine.settings(),
    dataDir: engine.paths.dataDir,
    credentials: engine.credentials,
    identities,
    openMedium: engine.openMedium,
    foreignFiles,
  });
}

export function defaultOperator(settingsName: string): string {
  if (settingsName.trim()) return settingsName.trim();
  try {
    return userInfo().username;
  } catch {
    return 'operator';
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether another live process on this machine drives the run now. */
function drivenElsewhere(run: RunRecord): boolean {
  const o = run.state.owner;
  return o !== null && o.pid !== process.pid && o.host === hostname() && pidAlive(o.pid);
}

const OVERRIDE_RISK =
  'sets not signed by a pinned key may be restored: their content cannot be proven to be the backup that was made';

/**
 * The run engine: two state machines (the run's and each step's, machine.ts) driven by `advance` and people's
 * answers. Every status change goes through `change()`: checked against the transition tables, written to SQLite
 * with its journal event in one transaction, before its effect — so a run killed anywhere resumes from its last
 * durable state: a finished step is never redone; an interrupted action runs again from its checkpoint (each action
 * is idempotent or checkpointed). People's parts (ticks, sign-offs, typed confirmations) come in through `respond`;
 * `advance` runs everything it can until a person is needed.
 */
export class RunEngine {
  private readonly scratch: RunScratch;

  constructor(private readonly deps: ActionDeps) {
    this.scratch = new RunScratch(deps.dataDir, deps.settings.pgBinDir);
  }

  private get catalog(): Catalog {
    return this.deps.catalog;
  }

  // ---- persistence and the one way state changes ---------------------------------------------

  load(runId: string): RunRecord {
    return loadRun(this.catalog, runId);
  }

  list(): RunSummary[] {
    return listRunSummaries(this.catalog);
  }

  /** Write the run and its journal events (no status change: ownership, checkpoints, ticks, refusals). */
  private commit(run: RunRecord, actor: string, events: readonly JournalEntry[]): void {
    commitRun(this.catalog, run, actor, events);
  }

  /** A status change of the run and/or a step, through the transition tables, committed with its events. */
  private change(run: RunRecord, actor: string, change: Change, events: readonly JournalEntry[]): void {
    applyChange(run, change);
    this.commit(run, actor, events);
  }

  private stepOf(run: RunRecord, stepId: string): { step: Step; st: StepState } {
    const step = run.state.runbook.steps.find((s) => s.id === stepId);
    const st = run.state.steps[stepId];
    if (!step || !st) throw new LifeboatError('NOT_FOUND', `Run ${run.id} has no step ${stepId}.`);
    return { step, st };
  }

  private context(run: RunRecord): Record<string, unknown> {
    return runContext(this.catalog, this.deps.settings, run);
  }

  /** A step's guidance with the run's values filled in (as written, when a value it names does not exist yet). */
  guidanceOf(run: RunRecord, step: Step): string | null {
    return guidanceWith(step, () => this.context(run));
  }

  /** RTO and RPO achieved (from the incident time; RPO from the newest restored set's time). */
  achieved(run: RunRecord): Achieved {
    return achievedOf(run);
  }

  // ---- start ---------------------------------------------------------------------------------

  start(parsed: { runbook: Runbook; sha256: string }, given: Record<string, string>, o: StartOptions): RunRecord {
    const rb = parsed.runbook;
    const now = o.now ?? new Date();
    if (rb.drill === 'only' && !o.drill)
      throw new LifeboatError('BAD_INPUT', `${rb.title} is a drill runbook: start it with --drill.`);
    const inputs = resolveInputs(this.catalog, rb, given, now);
    const incident = rb.inputs.find((i) => i.type === 'datetime' && i.id === 'incident_at');
    const id = ulid();
    const run: RunRecord = {
      id,
      runbookId: rb.id,
      title: rb.title,
      drill: o.drill,
      status: 'running',
      operator: o.operator ?? 'operator',
      incidentAt: incident && inputs[incident.id] ? inputs[incident.id]! : now.toISOString(),
      startedAt: now.toISOString(),
      finishedAt: null,
      inputs,
      state: {
        runbook: rb,
        runbookSha256: parsed.sha256,
        runbookSource: o.source,
        steps: Object.fromEntries(rb.steps.map((s) => [s.id, blankStep()])),
        journal: { seq: 0, hash: GENESIS },
        forecast: null,
        owner: null,
        scratch: { base: join(tmpdir(), `lifeboat-run-${id}`), pg: null },
        allowUnsigned: o.allowUnsigned === true,
      },
    };
    run.state.forecast = computeForecast(this.catalog, run);
    createRun(this.catalog, run, this.createdEvents(run, parsed.sha256, o));
    return run;
  }

  private createdEvents(run: RunRecord, sha256: string, o: StartOptions): JournalEntry[] {
    const created: JournalEntry = [
      'run.created',
      {
        runbook: run.runbookId,
        runbook_sha256: sha256,
        source: o.source,
        drill: o.drill,
        inputs: run.inputs,
        incident_at: run.incidentAt,
        host: hostname(),
      },
    ];
    // The override is its own event, so an auditor finds it without reading the inputs.
    const override: JournalEntry[] = o.allowUnsigned
      ? [['run.override', { allow_unsigned: true, risk: OVERRIDE_RISK }]]
      : [];
    return [created, ['run.forecast', { ...run.state.forecast }], ...override];
  }

  // ---- ownership -----------------------------------------------------------------------------

  private takeOwnership(run: RunRecord): void {
    const owner = run.state.owner;
    if (owner?.pid === process.pid) return;
    if (owner && drivenElsewhere(run))
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `Run ${run.id} is being driven by process ${owner.pid} (since ${owner.since}).`,
        { hint: 'Wait for it, or stop that process first.' },
      );
    run.state.owner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    // A dead owner: the run was interrupted (a crash, kill -9) and resumes here.
    this.commit(
      run,
      run.operator,
      owner ? [['run.resumed', { after: 'interruption', previous_pid: owner.pid, previous_host: owner.host }]] : [],
    );
  }

  private releaseOwnership(runId: string): void {
    const latest = this.load(runId);
    if (latest.state.owner?.pid !== process.pid) return;
    latest.state.owner = null;
    this.commit(latest, ACTOR_ENGINE, []);
  }

  // ---- advance -------------------------------------------------------------------------------

  /** Run every step that can run now; stop at the first one that needs a person, a failure or the end. */
  async advance(runId: string, job: RunJob): Promise<RunRecord> {
    const run = this.load(runId);
    if (runEnded(run.status)) return run;
    this.takeOwnership(run);
    try {
      if (run.status !== 'running') {
        // Going on after a pause or a failure is an operator's decision: journaled. After an
        // answer to a waiting step, the answer's own event says it all.
        const after = run.status;
        this.change(run, run.operator, { run: 'resume' }, after === 'waiting' ? [] : [['run.resumed', { after }]]);
      }
      for (const step of run.state.runbook.steps) {
        const st = run.state.steps[step.id]!;
        if (st.status === 'done' || st.status === 'skipped') continue;
        job.step(`${step.id}: ${step.title}`);
        if ((await this.advanceStep(run, step, job)) === 'stopped') return run;
      }
      await this.finish(run);
      return run;
    } finally {
      this.releaseOwnership(runId);
    }
  }

  /** One step's turn: not applicable, an action, a verified gate, or a person's part. */
  private async advanceStep(run: RunRecord, step: Step, job: RunJob): Promise<'next' | 'stopped'> {
    const ctx = this.context(run);
    const notApplicable = conditionFalse(step, ctx);
    if (notApplicable) {
      const now = new Date().toISOString();
      const set = { startedAt: now, finishedAt: now, skipReason: notApplicable, by: ACTOR_ENGINE, need: null };
      this.change(run, ACTOR_ENGINE, { step: { id: step.id, event: 'not-applicable', set } }, [
        ['step.skipped', { step: step.id, reason: notApplicable, automatic: true }],
      ]);
      return 'next';
    }
    if (step.kind === 'action') return (await this.runAction(run, step, job)) === 'done' ? 'next' : 'stopped';
    if (step.kind === 'gate' && step.gate === 'verified') return this.checkVerified(run, step, ctx);
    this.waitForPerson(run, step, ctx, job);
    return 'stopped';
  }

  /** A verified gate: the set has a passing verification at the level asked, or the run stops failed. */
  private checkVerified(run: RunRecord, step: GateStep, ctx: Record<string, unknown>): 'next' | 'stopped' {
    const st = run.state.steps[step.id]!;
    const now = new Date().toISOString();
    const set = String(render(step.set, ctx, `step ${step.id}`));
    const level = step.level ?? 'integrity';
    const found = passingVerification(this.catalog, set, level);
    if (!found) {
      const error = new LifeboatError(
        'PRECONDITION_FAILED',
        `Gate ${step.id}: ${set} has no passing verification at ${level} level or above.`,
        { hint: 'Verify it (lifeboat verify <set> --level …) and resume, or pick another set.' },
      );
      const failed = { startedAt: st.startedAt ?? now, finishedAt: now, error: toWireError(error) };
      this.change(run, ACTOR_ENGINE, { run: 'fail', step: { id: step.id, event: 'refuse', set: failed } }, [
        ['gate.blocked', { step: step.id, set, level }],
      ]);
      return 'stopped';
    }
    const passed = {
      startedAt: st.startedAt ?? now,
      finishedAt: now,
      output: { set, level: found.level, verified_at: found.at, medium: found.medium },
      by: ACTOR_ENGINE,
    };
    this.change(run, ACTOR_ENGINE, { step: { id: step.id, event: 'pass', set: passed } }, [
      ['gate.passed', { step: step.id, set, level: found.level, verified_at: found.at }],
    ]);
    return 'next';
  }

  /** A person is needed: a message to send, a checklist, a typed confirmation, a second person. */
  private waitForPerson(run: RunRecord, step: Step, ctx: Record<string, unknown>, job: RunJob): void {
    const st = run.state.steps[step.id]!;
    if (st.status === 'waiting') {
      this.change(run, ACTOR_ENGINE, { run: 'wait' }, []);
      return;
    }
    const startedAt = st.startedAt ?? new Date().toISOString();
    if (step.kind === 'communicate') {
      // Lifeboat sends nothing: the message is shown to copy out, and the step waits for a person to say it was sent.
      const message = String(render(step.template, ctx, `step ${step.id}`));
      const need = { type: 'communicate' as const, audience: step.audience, message };
      const set = { startedAt, output: { audience: step.audience, message }, need };
      this.change(run, ACTOR_ENGINE, { run: 'wait', step: { id: step.id, event: 'wait', set } }, [
        [
          'step.waiting',
          { step: step.id, need: 'communicate', audience: step.audience, message_sha256: digestOf(message) },
        ],
      ]);
      job.log('info', `message for ${step.audience} ready to copy (${step.id}); waiting for someone to send it`);
      return;
    }
    const need = needOf(run, step, ctx);
    this.change(run, ACTOR_ENGINE, { run: 'wait', step: { id: step.id, event: 'wait', set: { startedAt, need } } }, [
      ['step.waiting', { step: step.id, need }],
    ]);
  }

  /** Every step is done or skipped: the run ends (with exceptions when a person skipped one) and its scratch goes. */
  private async finish(run: RunRecord): Promise<void> {
    applyChange(run, { run: runExceptions(run).length ? 'finish-with-exceptions' : 'finish' });
    const removed = await this.scratch.cleanup(run);
    const exceptions = runExceptions(run).map((x) => ({
      step: x.step,
      by: x.by,
      approved_by: x.approvedBy,
      reason: x.reason,
    }));
    this.commit(run, run.operator, [
      ['run.finished', { status: run.status, ...this.achieved(run), exceptions, removed }],
    ]);
    rewriteRunReports(this.catalog, run, this.deps.settings);
  }

  // ---- actions -------------------------------------------------------------------------------

  private async runAction(run: RunRecord, step: ActionStep, job: RunJob): Promise<'done' | 'stopped'> {
    const parsed = this.actionParams(run, step);
    if (!parsed) return 'stopped';
    const action = ACTIONS[step.action];
    this.beginAction(run, step, parsed.params);
    job.log('info', `${step.id}: ${action.describe(parsed.params)}`);
    const started = Date.now();
    try {
      const output = await action.run(parsed.params, this.actionContext(run, step, job));
      const set = { finishedAt: new Date().toISOString(), output, by: ACTOR_ENGINE };
      this.change(run, ACTOR_ENGINE, { step: { id: step.id, event: 'finish', set } }, [
        [
          'step.finished',
          {
            step: step.id,
            action: step.action,
            duration_ms: Date.now() - started,
            output_sha256: digestOf(output),
            output,
          },
        ],
      ]);
      return 'done';
    } catch (e) {
      this.actionStopped(run, step, parsed.params, e, job.signal.aborted, started);
      return 'stopped';
    }
  }

  /** The step's parameters rendered and checked; when they do not fit, the step and the run fail here. */
  private actionParams(run: RunRecord, step: ActionStep): { params: unknown } | null {
    try {
      return { params: ACTIONS[step.action].params.parse(render(step.with, this.context(run), `step ${step.id}`)) };
    } catch (e) {
      const err =
        e instanceof LifeboatError
          ? e
          : new LifeboatError(
              'RUNBOOK_INVALID',
              `Step ${step.id}: its parameters do not fit ${step.action}: ${describeParamError(e)}`,
            );
      const now = new Date().toISOString();
      const st = run.state.steps[step.id]!;
      const set = { startedAt: st.startedAt ?? now, finishedAt: now, error: toWireError(err) };
      this.change(run, ACTOR_ENGINE, { run: 'fail', step: { id: step.id, event: 'refuse', set } }, [
        ['step.failed', { step: step.id, error: toWireError(err) }],
      ]);
      return null;
    }
  }

  /** Persisted before the effect: a crash from here on finds the step running and resumes it. */
  private beginAction(run: RunRecord, step: ActionStep, params: unknown): void {
    const st = run.state.steps[step.id]!;
    const resumed = st.status === 'running';
    const set = {
      startedAt: st.startedAt ?? new Date().toISOString(),
      attempts: st.attempts + 1,
      error: null,
      condition: null,
      need: null,
    };
    this.change(run, ACTOR_ENGINE, { step: { id: step.id, event: resumed ? 'resume' : 'start', set } }, [
      [
        resumed ? 'step.resumed' : 'step.started',
        {
          step: step.id,
          action: step.action,
          attempt: set.attempts,
          params,
          plan: ACTIONS[step.action].describe(params),
          checkpoint_sha256: st.checkpoint ? digestOf(st.checkpoint) : null,
        },
      ],
    ]);
  }

  /** What an action may use of the run: its folders, checkpoints, the scratch server, the report. */
  private actionContext(run: RunRecord, step: ActionStep, job: RunJob): ActionContext {
    const st = run.state.steps[step.id]!;
    return {
      deps: this.deps,
      runId: run.id,
      stepId: step.id,
      drill: run.drill,
      workDir: this.scratch.workDir(run),
      checkpoint: st.checkpoint,
      saveCheckpoint: (data) => {
        st.checkpoint = data;
        this.commit(run, ACTOR_ENGINE, [['step.checkpoint', { step: step.id, checkpoint_sha256: digestOf(data) }]]);
      },
      confirmation: st.confirmation,
      scratchPostgres: () =>
        this.scratch.postgres(run, (c) =>
          this.commit(run, ACTOR_ENGINE, [['scratch.postgres-started', { port: c.port, dir: c.dir }]]),
        ),
      scratchDir: (name) => this.scratch.dir(run, name),
      adoptScratchPostgres: (dir, binDir, port) => {
        this.scratch.adopt(run, dir, binDir, port);
        this.commit(run, ACTOR_ENGINE, [['scratch.postgres-adopted', { step: step.id, port, dir }]]);
      },
      renderReport: () => renderReport(this.catalog, run, { settings: this.deps.settings }),
      signal: job.signal,
      progress: job.progress,
      log: job.log,
    };
  }

  /** An action that threw: it waits for a confirmation, was interrupted (the run pauses) or failed. */
  private actionStopped(
    run: RunRecord,
    step: ActionStep,
    params: unknown,
    e: unknown,
    aborted: boolean,
    started: number,
  ): void {
    if (e instanceof ConfirmationNeeded) {
      const need = { type: 'confirm' as const, prompt: e.prompt, expect: e.expect };
      this.change(
        run,
        ACTOR_ENGINE,
        { run: 'wait', step: { id: step.id, event: 'wait', set: { need, confirmation: null } } },
        [['step.waiting', { step: step.id, need, reason: e.message }]],
      );
      return;
    }
    const err = toWireError(e);
    const cancelled = aborted || err.code === 'CANCELLED';
    const st = run.state.steps[step.id]!;
    const condition = ACTIONS[step.action].condition?.(params, st.checkpoint, run.drill) ?? null;
    const error = cancelled ? { code: 'CANCELLED' as const, message: 'Interrupted by the operator.' } : err;
    const event = cancelled ? 'interrupt' : 'fail';
    const set = { finishedAt: new Date().toISOString(), error, condition };
    this.change(run, ACTOR_ENGINE, { run: event, step: { id: step.id, event, set } }, [
      [
        cancelled ? 'step.interrupted' : 'step.failed',
        { step: step.id, error, condition, duration_ms: Date.now() - started },
      ],
    ]);
  }

  // ---- people --------------------------------------------------------------------------------

  /** A person's answer to the waiting step: ticks and sign-off, a typed confirmation, a second signature. */
  respond(runId: string, stepId: string, response: StepResponse, actor: string): RunRecord {
    const run = this.load(runId);
    const { step, st } = this.stepOf(run, stepId);
    if (st.status !== 'waiting' || !st.need)
      throw new LifeboatError('PRECONDITION_FAILED', `Step ${stepId} is not waiting for anyone (it is ${st.status}).`);
    checkRunEvent(run, 'answer');
    if (!run.drill && response.auto)
      throw new LifeboatError(
        'CONFIRMATION_REQUIRED',
        '--yes answers steps only in drills: a live run needs a person at each step.',
      );
    const who = actor.trim() || run.operator;
    const answer = judgeAnswer({ step, st, response, who, now: new Date().toISOString() }, st.need);
    if ('error' in answer) {
      this.commit(run, who, [answer.journal]);
      throw answer.error;
    }
    this.change(run, answer.actor, { run: 'answer', step: { id: stepId, event: answer.event, set: answer.set } }, [
      answer.journal,
    ]);
    return run;
  }

  /** Tick or untick one checklist item of a waiting manual step: kept in the run (and journaled) across reloads. */
  tick(runId: string, stepId: string, item: number, ticked: boolean, actor: string): RunRecord {
    const run = this.load(runId);
    const st = run.state.steps[stepId];
    if (!st) throw new LifeboatError('NOT_FOUND', `Run ${runId} has no step ${stepId}.`);
    if (st.status !== 'waiting' || st.need?.type !== 'manual')
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `Step ${stepId} has no checklist waiting to be ticked (it is ${st.status}).`,
      );
    if (!Number.isInteger(item) || item < 0 || item >= st.need.items.length)
      throw new LifeboatError('BAD_INPUT', `Step ${stepId} has no checklist item ${item}.`);
    const set = new Set(st.ticks ?? []);
    if (ticked) set.add(item);
    else set.delete(item);
    st.ticks = [...set].sort((a, b) => a - b);
    const who = actor.trim() || run.operator;
    this.commit(run, who, [['step.ticked', { step: stepId, item: st.need.items[item], ticked }]]);
    return run;
  }

  /**
   * Skip a step (pending, waiting or failed) with a reason; journaled with who did it and who approved it. The rules
   * are skipRefusal's; a run that reaches its end with a skipped step ends completed-with-exceptions.
   */
  skip(runId: string, stepId: string, reason: string, actor: string, secondPerson: string | null = null): RunRecord {
    const run = this.load(runId);
    const { step, st } = this.stepOf(run, stepId);
    if (runEnded(run.status))
      throw new LifeboatError('PRECONDITION_FAILED', `Run ${runId} already ended (${run.status}).`);
    if (!reason.trim()) throw new LifeboatError('BAD_INPUT', 'Skipping a step needs a reason.');
    const second = secondPerson?.trim() || null;
    const refusal = skipRefusal(run, step, actor, second);
    if (refusal) {
      this.commit(run, actor, [
        ['step.skip-refused', { step: stepId, reason: reason.trim(), second_person: second, why: refusal.message }],
      ]);
      throw refusal;
    }
    if (st.status === 'done' || st.status === 'skipped')
      throw new LifeboatError('PRECONDITION_FAILED', `Step ${stepId} is already ${st.status}.`);
    if (
      st.status === 'running' &&
      run.state.owner &&
      pidAlive(run.state.owner.pid) &&
      run.state.owner.pid !== process.pid
    )
      throw new LifeboatError('PRECONDITION_FAILED', `Step ${stepId} is running now; interrupt it first.`);
    const now = new Date().toISOString();
    const set = {
      skipReason: reason.trim(),
      finishedAt: now,
      startedAt: st.startedAt ?? now,
      by: actor,
      skipApprovedBy: second,
      need: null,
    };
    this.change(run, actor, { run: 'skip', step: { id: stepId, event: 'skip', set } }, [
      ['step.skipped', { step: stepId, reason: reason.trim(), condition: st.condition, second_person: second }],
    ]);
    return run;
  }

  /** End a run for good; a drill's scratch targets are removed. */
  async cancel(runId: string, reason: string, actor: string): Promise<RunRecord> {
    const run = this.load(runId);
    if (runEnded(run.status))
      throw new LifeboatError('PRECONDITION_FAILED', `Run ${runId} already ended (${run.status}).`);
    const owner = run.state.owner;
    if (owner && drivenElsewhere(run))
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `Run ${runId} is being driven by process ${owner.pid}; stop it first.`,
      );
    applyChange(run, { run: 'cancel' });
    const conditions = run.state.runbook.steps
      .map((s) => ({ step: s.id, condition: run.state.steps[s.id]?.condition }))
      .filter((c) => c.condition);
    const removed = await this.scratch.cleanup(run);
    run.state.owner = null;
    this.commit(run, actor, [['run.cancelled', { reason, conditions, removed }]]);
    rewriteRunReports(this.catalog, run, this.deps.settings);
    return run;
  }
}
