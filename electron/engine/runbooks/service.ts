import { isAbsolute } from 'node:path';
import { keychainIdentities, uniqueIdentities } from '../crypto/keychain-identities';
import { LifeboatError } from '../errors';
import type { JobJudgement } from '../jobs/job-manager';
import type { JobSnapshot } from '../../../shared/domain/jobs';
import type { RunSummary, RunView, StepResponse } from '../../../shared/domain/runs';
import { readIdentityFiles, type AgeIdentity } from '../crypto/age';
import type { Engine } from '../engine';
import type { Step } from './format';
import { loadRunbook } from './library';
import { runSummary } from './clocks';
import { renderReport } from './report';
import { currentStepId } from './records';
import { defaultOperator, runEngineFor, type RunEngine } from './runner';
import type { RunRecord } from './types';

/** The Jobs panel's headline of a job that advanced a run: a run that stopped at a failed step is no pass. */
function judgeRunJob(r: { status: string }): JobJudgement {
  switch (r.status) {
    case 'succeeded':
      return { outcome: 'passed', headline: 'The run finished' };
    case 'waiting':
      return { outcome: 'passed', headline: 'Waiting for a person (open the run)' };
    case 'paused':
      return { outcome: 'passed', headline: 'Paused' };
    case 'failed':
      return { outcome: 'findings', headline: 'A step failed: open the run' };
    case 'cancelled':
      return { outcome: 'findings', headline: 'The run was cancelled' };
    default:
      return { outcome: 'findings', headline: `The run ended ${r.status.replace(/-/g, ' ')}` };
  }
}

/**
 * Folders and key files typed in the window must be absolute: the CLI resolves a relative path against the shell's
 * folder, but the app (or the bridge) would resolve it against its own process folder, and a restore would land
 * somewhere the operator never named.
 */
function refuseRelativePaths(
  declared: ReadonlyArray<{ id: string; type: string }>,
  given: Record<string, string>,
  identityFiles: readonly string[],
): void {
  for (const i of declared) {
    const v = given[i.id]?.trim();
    if (i.type === 'directory' && v && !isAbsolute(v))
      throw new LifeboatError(
        'BAD_INPUT',
        `${i.id}: ${v} is a relative path: give an absolute path (like /srv/restored).`,
        {
          hint: 'A relative path would be read from the app’s own folder, not yours.',
        },
      );
  }
  for (const f of identityFiles)
    if (f.trim() && !isAbsolute(f.trim()))
      throw new LifeboatError('BAD_INPUT', `The age identity file ${f} is a relative path: give an absolute path.`, {
        hint: 'A relative path would be read from the app’s own folder, not yours.',
      });
}

/**
 * Runs for the app (and the web bridge): the same RunEngine as the CLI, with each `advance`
 * running as a job so the window sees progress and can cancel. Identities stay in this process
 * (read from files the operator named); only their paths ever cross IPC.
 */
export class RunService {
  private readonly identities = new Map<string, AgeIdentity[]>();
  /** The job advancing each run in this engine, with the promise of its end. */
  private readonly active = new Map<string, { jobId: string; done: Promise<unknown> }>();

  constructor(private readonly engine: Engine) {}

  private runner(runId?: string): RunEngine {
    return runEngineFor(this.engine, runId ? (this.identities.get(runId) ?? []) : []);
  }

  list(): RunSummary[] {
    return this.runner().list();
  }

  view(runId: string): RunView {
    const runner = this.runner(runId);
    const run = runner.load(runId);
    const summary = runSummary(this.engine.catalog, this.engine.settings(), run);
    return toView(run, runner.achieved(run), this.active.get(runId)?.jobId ?? null, summary, (s) =>
      runner.guidanceOf(run, s),
    );
  }

  start(input: {
    runbook: string;
    inputs: Record<string, string>;
    drill: boolean;
    operator?: string;
    identityFiles: string[];
    allowUnsigned?: boolean;
  }): { run: RunView; job: JobSnapshot } {
    const parsed = loadRunbook(this.engine.paths.dataDir, input.runbook);
    refuseRelativePaths(parsed.runbook.inputs, input.inputs, input.identityFiles);
    const identities = readIdentityFiles(input.identityFiles);
    const operator = input.operator?.trim() || defaultOperator(this.engine.settings().operatorName);
    const run = this.runner().start(parsed, input.inputs, {
      drill: input.drill,
      operator,
      source: parsed.source,
      allowUnsigned: input.allowUnsigned === true,
    });
    this.identities.set(run.id, identities);
    const job = this.advance(run.id, []);
    return { run: this.view(run.id), job };
  }

  /** Continue a run (after a wait, a failure, a pause or an app restart) as a job. */
  advance(runId: string, identityFiles: string[]): JobSnapshot {
    if (identityFiles.length) this.identities.set(runId, readIdentityFiles(identityFiles));
    const existing = this.active.get(runId);
    if (existing) {
      const snap = this.engine.jobs.get(existing.jobId);
      if (snap && snap.status === 'running') return snap;
    }
    const runner = this.runner(runId);
    const run = runner.load(runId);
    const { snapshot, done } = this.engine.jobs.start(
      { kind: 'run', title: `${run.title}${run.drill ? ' (drill)' : ''}`, judge: judgeRunJob },
      async (ctx) => {
        try {
          // The keychain's age identities join the run's own each time it moves on (issue 21): a key saved after a step
          // failed for want of it is used when the step is retried.
          const keychain = (await keychainIdentities(this.engine.credentials)).flatMap((k) => k.identities);
          const after = await runEngineFor(
            this.engine,
            uniqueIdentities([...(this.identities.get(runId) ?? []), ...keychain]),
          ).advance(runId, ctx);
          return { run: after.id, status: after.status };
        } finally {
          this.active.delete(runId);
        }
      },
    );
    this.active.set(runId, { jobId: snapshot.id, done });
    return snapshot;
  }

  respond(runId: string, stepId: string, response: StepResponse, operator: string | undefined): JobSnapshot {
    const runner = this.runner(runId);
    const run = runner.load(runId);
    runner.respond(runId, stepId, { ...response, auto: false }, operator?.trim() || run.operator);
    return this.advance(runId, []);
  }

  skip(runId: string, stepId: string, reason: string, operator: string | undefined, secondPerson?: string): RunView {
    const runner = this.runner(runId);
    runner.skip(runId, stepId, reason, operator?.trim() || runner.load(runId).operator, secondPerson?.trim() || null);
    return this.view(runId);
  }

  /** Tick or untick a checklist item of the waiting step (kept across reloads). */
  tick(runId: string, stepId: string, item: number, ticked: boolean, operator: string | undefined): RunView {
    const runner = this.runner(runId);
    runner.tick(runId, stepId, item, ticked, operator?.trim() || runner.load(runId).operator);
    return this.view(runId);
  }

  async cancel(runId: string, reason: string, operator: string | undefined): Promise<RunView> {
    const job = this.active.get(runId);
    if (job) {
      // Stop the action first and let it record the state it left the target in.
      this.engine.jobs.cancel(job.jobId);
      await job.done;
    }
    const runner = this.runner(runId);
    await runner.cancel(runId, reason, operator?.trim() || runner.load(runId).operator);
    return this.view(runId);
  }

  report(runId: string): { html: string } {
    return {
      html: renderReport(this.engine.catalog, this.runner(runId).load(runId), { settings: this.engine.settings() }),
    };
  }
}

function stepView(run: RunRecord, s: Step, guidance: (step: Step) => string | null): RunView['steps'][number] {
  const st = run.state.steps[s.id]!;
  return {
    id: s.id,
    title: s.title,
    kind: s.kind,
    action: s.kind === 'action' ? s.action : s.kind === 'gate' ? `gate:${s.gate}` : null,
    guidance: guidance(s),
    expectedSeconds: s.expected ?? null,
    status: st.status,
    startedAt: st.startedAt,
    finishedAt: st.finishedAt,
    need: st.need,
    output: st.output,
    signoff: st.signoff,
    by: st.by,
    error: st.error,
    condition: st.condition,
    skipReason: st.skipReason,
    skipApprovedBy: st.skipApprovedBy ?? null,
    ticks: st.ticks ?? [],
    checklist: s.kind === 'manual' ? s.checklist : [],
    signoffRole: s.kind === 'manual' && s.signoff?.required ? s.signoff.role : null,
  };
}

export function toView(
  run: RunRecord,
  achieved: RunView['achieved'],
  jobId: string | null,
  summary: RunView['summary'],
  guidance: (step: Step) => string | null = (s) => s.guidance ?? null,
): RunView {
  const rb = run.state.runbook;
  return {
    id: run.id,
    runbookId: run.runbookId,
    title: run.title,
    drill: run.drill,
    status: run.status,
    operator: run.operator,
    incidentAt: run.incidentAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    currentStep: run.finishedAt ? null : currentStepId(run),
    level: rb.level,
    rtoSeconds: rb.objectives.rto,
    rpoSeconds: rb.objectives.rpo,
    inputs: run.inputs,
    steps: rb.steps.map((s) => stepView(run, s, guidance)),
    forecast: run.state.forecast,
    achieved,
    journal: run.state.journal,
    active: jobId !== null || (run.state.owner !== null && run.state.owner.pid !== process.pid),
    jobId,
    summary,
    allowUnsigned: run.state.allowUnsigned === true,
  };
}
