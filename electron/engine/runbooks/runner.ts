import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { ulid } from 'ulid';
import {
  runEnded,
  type RunStatus,
  type RunSummary,
  type StepNeed,
  type StepResponse,
  type StepState,
  type Forecast,
} from '../../../shared/domain/runs';
import { formatDuration } from '../../../shared/format';
import type { Catalog } from '../catalog/catalog';
import type { AgeIdentity } from '../crypto/age';
import type { SecretFiles } from '../foreign/secrets';
import type { Engine } from '../engine';
import { whereIs } from '../catalog/queries';
import { LifeboatError, toWireError } from '../errors';
import type { JobContext } from '../jobs/job-manager';
import { parsePgUrl, type PgTarget } from '../postgres/connection';
import { postgresRunAs, runPgTool, ScratchCluster } from '../postgres/scratch-cluster';
import { ACTIONS } from './actions';
import { passingVerification } from './actions/verify-set';
import { ConfirmationNeeded, type ActionDeps } from './actions/types';
import { computeForecast } from './forecast';
import { describeParamError, type Runbook, type Step } from './format';
import { appendEvent, digestOf, GENESIS, type JournalHead } from './journal';
import { achievedOf, measuredRestoreSeconds, runExceptions, runObjectives, type Achieved } from './clocks';
import { renderReport } from './report';
import { render } from './template';

export interface RunState {
  runbook: Runbook;
  runbookSha256: string;
  runbookSource: string;
  steps: Record<string, StepState>;
  journal: JournalHead;
  forecast: Forecast | null;
  /** Which process is driving the run now (a dead owner means the run was interrupted). */
  owner: { pid: number; host: string; since: string } | null;
  /** Drill resources: the scratch PostgreSQL and folders, removed when the run ends. */
  scratch: { base: string; pg: { dir: string; binDir: string; port: number } | null };
  /**
   * The operator allowed sets not signed by a pinned key for this run (`lifeboat run --allow-unsigned`, or the app's
   * confirmed choice): journaled as run.override at the start; runbooks pass it on as {{ run.allow_unsigned }}.
   */
  allowUnsigned?: boolean;
}

export interface RunRecord extends Omit<RunSummary, 'currentStep'> {
  inputs: Record<string, string>;
  state: RunState;
}

interface RunRow {
  id: string;
  runbook_id: string;
  title: string;
  drill: number;
  status: RunStatus;
  operator: string | null;
  incident_at: string | null;
  started_at: string;
  finished_at: string | null;
  inputs_json: string;
  state_json: string;
}

export interface StartOptions {
  drill: boolean;
  operator: string | null;
  /** Where the runbook came from (built-in id or file path), for the report. */
  source: string;
  now?: Date;
  /** Allow unsigned sets in this run's restores (an explicit, journaled override). */
  allowUnsigned?: boolean;
}

function blankStep(): StepState {
  return {
    status: 'pending',
    startedAt: null,
    finishedAt: null,
    attempts: 0,
    output: null,
    checkpoint: null,
    need: null,
    ticks: [],
    signoff: null,
    confirmation: null,
    by: null,
    error: null,
    condition: null,
    skipReason: null,
    skipApprovedBy: null,
  };
}

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

const ACTOR_ENGINE = 'lifeboat';

/**
 * The run engine. Every transition is written to SQLite — state and journal event in one
 * transaction — before its effect, so a run killed anywhere resumes from its last durable state:
 * a finished step is never redone; an interrupted action runs again from its checkpoint (each
 * action is idempotent or checkpointed). People's parts (ticks, sign-offs, typed confirmations)
 * come in through `respond`; `advance` runs everything it can until a person is needed.
 */
export class RunEngine {
  private scratchCluster: ScratchCluster | null = null;

  constructor(private readonly deps: ActionDeps) {}

  private get catalog(): Catalog {
    return this.deps.catalog;
  }

  // ---- persistence -------------------------------------------------------------------------

  load(runId: string): RunRecord {
    const row = this.catalog.stmt('SELECT * FROM runs WHERE id = ?').get(runId) as RunRow | undefined;
    if (!row)
      throw new LifeboatError('NOT_FOUND', `There is no run ${runId}.`, { hint: 'List runs with lifeboat runs.' });
    return {
      id: row.id,
      runbookId: row.runbook_id,
      title: row.title,
      drill: row.drill === 1,
      status: row.status,
      operator: row.operator ?? 'operator',
      incidentAt: row.incident_at ?? row.started_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      inputs: JSON.parse(row.inputs_json) as Record<string, string>,
      state: JSON.parse(row.state_json) as RunState,
    };
  }

  // ---- states ------------------------------------------------------------------------------
  // The run's statuses and what moves it between them, in one place (issue 25 turns this into an explicit machine):
  //   running → waiting (a person is needed) → running (answered) …
  //   running → failed (a step failed) | paused (interrupted) → running (resumed; a skip moves failed/waiting → paused)
  //   running → succeeded (every step done or not applicable)
  //   running → completed-with-exceptions (the end reached with a step a person skipped: never plain "succeeded")
  //   any open status → cancelled
  // The ended statuses (RUN_ENDED) are never left.

  /** The status a run that reached its last step ends in. */
  private finalStatus(run: RunRecord): RunStatus {
    return runExceptions(run).length ? 'completed-with-exceptions' : 'succeeded';
  }

  /**
   * Why this skip is refused, or null. A sign-off cannot be skipped by the person it asks to sign (the run's operator,
   * or whoever answers for it): only a second, named person may waive it. In a live run every skip needs that second
   * person; a drill may skip other steps with a reason alone.
   */
  private skipRefusal(run: RunRecord, step: Step, actor: string, second: string | null): LifeboatError | null {
    const same = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();
    const signoff =
      (step.kind === 'manual' && step.signoff?.required === true) ||
      (step.kind === 'gate' && step.gate === 'second-person');
    if (second !== null && (same(second, actor) || same(second, run.operator))) {
      return new LifeboatError(
        'CONFIRMATION_REQUIRED',
        `The second person must be someone other than ${actor}${same(actor, run.operator) ? '' : ` and ${run.operator}`}.`,
        {
          hint: 'Ask a colleague to approve the skip and give their name.',
        },
      );
    }
    if (signoff && second === null) {
      return new LifeboatError(
        'CONFIRMATION_REQUIRED',
        `Step ${step.id} asks for a sign-off: ${actor}, who is asked to sign, cannot skip it.`,
        {
          hint: 'Sign it, or have a second person (not the operator) approve the skip by name.',
        },
      );
    }
    if (!run.drill && second === null) {
      return new LifeboatError(
        'CONFIRMATION_REQUIRED',
        `Skipping a step of a LIVE run needs a second person: give their name (not ${run.operator}).`,
        {
          hint: 'In the terminal: --second-person <name>; in the app: the second name field.',
        },
      );
    }
    return null;
  }

  /** Write the run and its journal events in one transaction. */
  private commit(run: RunRecord, actor: string, events: Array<[type: string, data: Record<string, unknown>]>): void {
    this.catalog.inTransaction(() => {
      for (const [type, data] of events)
        run.state.journal = appendEvent(this.catalog, run.id, run.state.journal, actor, type, data);
      this.catalog
        .stmt('UPDATE runs SET status = ?, finished_at = ?, state_json = ? WHERE id = ?')
        .run(run.status, run.finishedAt, JSON.stringify(run.state), run.id);
    });
  }

  list(): RunSummary[] {
    const rows = this.catalog.stmt('SELECT * FROM runs ORDER BY started_at DESC').all() as RunRow[];
    return rows.map((r) => {
      const state = JSON.parse(r.state_json) as RunState;
      const current = state.runbook.steps.find(
        (s) => !['done', 'skipped'].includes(state.steps[s.id]?.status ?? 'pending'),
      );
      return {
        id: r.id,
        runbookId: r.runbook_id,
        title: r.title,
        drill: r.drill === 1,
        status: r.status,
        operator: r.operator ?? '',
        incidentAt: r.incident_at ?? r.started_at,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        currentStep: r.finished_at ? null : (current?.id ?? null),
      };
    });
  }

  // ---- start -------------------------------------------------------------------------------

  /** Check and normalise the inputs against their declared types. */
  private resolveInputs(rb: Runbook, given: Record<string, string>, now: Date): Record<string, string> {
    const out: Record<string, string> = {};
    const unknown = Object.keys(given).filter((k) => !rb.inputs.some((i) => i.id === k));
    if (unknown.length)
      throw new LifeboatError('BAD_INPUT', `The runbook ${rb.id} has no input ${unknown.join(', ')}.`, {
        hint: `Its inputs: ${rb.inputs.map((i) => i.id).join(', ') || 'none'}.`,
      });
    const missing: string[] = [];
    for (const input of rb.inputs) {
      let v = given[input.id] ?? input.default;
      if (v === undefined || v === '') {
        if (input.required) missing.push(`${input.id} (${input.label})`);
        continue;
      }
      v = v.trim();
      switch (input.type) {
        case 'datetime': {
          const t = v === 'now' ? now.getTime() : Date.parse(v);
          if (Number.isNaN(t))
            throw new LifeboatError(
              'BAD_INPUT',
              `${input.id}: "${v}" is not a date and time (use ISO 8601, e.g. 2026-11-21T14:30:00Z, or now).`,
            );
          v = new Date(t).toISOString();
          break;
        }
        case 'system': {
          const known = this.catalog.stmt('SELECT 1 FROM sets WHERE system = ? LIMIT 1').get(v);
          if (!known)
            throw new LifeboatError('NOT_FOUND', `${input.id}: the catalog knows no system ${v}.`, {
              hint: 'See lifeboat systems; scan the media first.',
            });
          break;
        }
        case 'backup-set': {
          const found = whereIs(this.catalog, v);
          if (!found) throw new LifeboatError('NOT_FOUND', `${input.id}: the catalog knows no set ${v}.`);
          v = found.key;
          break;
        }
        case 'postgres-target': {
          const t = parsePgUrl(v);
          if (t.password !== null)
            throw new LifeboatError(
              'BAD_INPUT',
              `${input.id}: a target must not carry its password (runs are stored).`,
              { hint: 'Use a keychain credential, PGPASSWORD or ~/.pgpass.' },
            );
          v = t.url;
          break;
        }
        case 'directory':
          v = resolve(v);
          break;
        case 'text':
          break;
      }
      out[input.id] = v;
    }
    if (missing.length)
      throw new LifeboatError('BAD_INPUT', `Missing input${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}.`, {
        hint: 'Give them with --input key=value.',
      });
    return out;
  }

  start(parsed: { runbook: Runbook; sha256: string }, given: Record<string, string>, o: StartOptions): RunRecord {
    const rb = parsed.runbook;
    const now = o.now ?? new Date();
    if (rb.drill === 'only' && !o.drill)
      throw new LifeboatError('BAD_INPUT', `${rb.title} is a drill runbook: start it with --drill.`);
    const inputs = this.resolveInputs(rb, given, now);
    const incidentInput = rb.inputs.find((i) => i.type === 'datetime' && i.id === 'incident_at');
    const id = ulid();
    const run: RunRecord = {
      id,
      runbookId: rb.id,
      title: rb.title,
      drill: o.drill,
      status: 'running',
      operator: o.operator ?? 'operator',
      incidentAt: incidentInput && inputs[incidentInput.id] ? inputs[incidentInput.id]! : now.toISOString(),
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
    this.catalog.inTransaction(() => {
      this.catalog
        .stmt(
          'INSERT INTO runs (id, runbook_id, title, drill, status, operator, incident_at, started_at, finished_at, inputs_json, state_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)',
        )
        .run(
          id,
          rb.id,
          rb.title,
          o.drill ? 1 : 0,
          run.status,
          run.operator,
          run.incidentAt,
          run.startedAt,
          JSON.stringify(inputs),
          JSON.stringify(run.state),
        );
      this.commit(run, run.operator, [
        [
          'run.created',
          {
            runbook: rb.id,
            runbook_sha256: parsed.sha256,
            source: o.source,
            drill: o.drill,
            inputs,
            incident_at: run.incidentAt,
            host: hostname(),
          },
        ],
        ['run.forecast', { ...run.state.forecast }],
        // The override is its own event, so an auditor finds it without reading the inputs.
        ...(o.allowUnsigned
          ? [
              [
                'run.override',
                {
                  allow_unsigned: true,
                  risk: 'sets not signed by a pinned key may be restored: their content cannot be proven to be the backup that was made',
                },
              ] as [string, Record<string, unknown>],
            ]
          : []),
      ]);
    });
    return run;
  }

  // ---- helpers -----------------------------------------------------------------------------

  private context(run: RunRecord): Record<string, unknown> {
    return {
      inputs: run.inputs,
      steps: Object.fromEntries(
        Object.entries(run.state.steps).map(([id, s]) => [id, { output: s.output ?? undefined, status: s.status }]),
      ),
      run: {
        id: run.id,
        operator: run.operator,
        drill: run.drill,
        started_at: run.startedAt,
        incident_at: run.incidentAt,
        title: run.title,
        mode: run.drill ? 'DRILL' : 'LIVE',
        allow_unsigned: run.state.allowUnsigned === true,
      },
      runbook: { id: run.runbookId, title: run.title, level: run.state.runbook.level },
      objectives: this.objectivesContext(run),
    };
  }

  /** A step's guidance with the run's values filled in (as written, when a value it names does not exist yet). */
  guidanceOf(run: RunRecord, step: Step): string | null {
    if (!step.guidance) return null;
    try {
      return String(render(step.guidance, this.context(run), `step ${step.id}`));
    } catch {
      return step.guidance;
    }
  }

  /** {{ objectives.* }}: the system's tier (the runbook's only when it has none), and the restore time measured so far. */
  private objectivesContext(run: RunRecord): Record<string, string> {
    const o = runObjectives(this.catalog, this.deps.settings, run);
    const restore = measuredRestoreSeconds(run);
    return {
      rto: formatDuration(o.rtoSeconds),
      rpo: formatDuration(o.rpoSeconds),
      from: o.from,
      restore_time: restore === null ? 'not measured (no restore ran)' : formatDuration(restore),
    };
  }

  private workDir(run: RunRecord): string {
    const dir = join(this.deps.dataDir, 'runs', run.id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** The drill's scratch folder; traversable (not listable) so the postgres user can reach its cluster. */
  private scratchBase(run: RunRecord): string {
    const base = run.state.scratch.base;
    mkdirSync(base, { recursive: true });
    chmodSync(base, 0o711);
    return base;
  }

  private async scratchPostgres(run: RunRecord): Promise<PgTarget> {
    if (!run.drill) throw new LifeboatError('INTERNAL', 'A scratch server was asked for outside a drill.');
    const recorded = run.state.scratch.pg;
    if (!this.scratchCluster && recorded && existsSync(join(recorded.dir, 'data'))) {
      // Left by an interrupted process of this run: adopt it, restarting it when it stopped.
      const cluster = ScratchCluster.adopt(recorded.dir, recorded.binDir, recorded.port);
      if (!(await cluster.isRunning())) await cluster.startServer();
      this.scratchCluster = cluster;
    }
    if (!this.scratchCluster) {
      this.scratchBase(run);
      const cluster = await ScratchCluster.start({
        baseDir: run.state.scratch.base,
        binDir: this.deps.settings.pgBinDir || undefined,
      });
      this.scratchCluster = cluster;
      run.state.scratch.pg = { dir: cluster.dir, binDir: cluster.binDir, port: cluster.port };
      this.commit(run, ACTOR_ENGINE, [['scratch.postgres-started', { port: cluster.port, dir: cluster.dir }]]);
    }
    return parsePgUrl(this.scratchCluster.url());
  }

  /** Remove a drill's scratch server and folders, and the run's work dir (decoded dumps are plaintext). */
  private async cleanup(run: RunRecord): Promise<string[]> {
    const removed: string[] = [];
    if (this.scratchCluster) {
      await this.scratchCluster.destroy().catch(() => undefined);
      removed.push(`scratch PostgreSQL on port ${this.scratchCluster.port}`);
      this.scratchCluster = null;
    }
    const base = run.state.scratch.base;
    if (existsSync(base)) {
      // A server left by a crashed process of this run is stopped before its files go.
      for (const name of readdirSync(base)) {
        const data = join(base, name, 'data');
        if (existsSync(join(data, 'postmaster.pid')) && run.state.scratch.pg) {
          await runPgTool(join(run.state.scratch.pg.binDir, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], {
            runAs: postgresRunAs(),
          }).catch(() => undefined);
          removed.push(`scratch PostgreSQL in ${join(base, name)}`);
        }
      }
      rmSync(base, { recursive: true, force: true });
      removed.push(`scratch folders in ${base}`);
    }
    rmSync(join(this.deps.dataDir, 'runs', run.id), { recursive: true, force: true });
    return [...new Set(removed)];
  }

  private takeOwnership(run: RunRecord): void {
    const owner = run.state.owner;
    if (owner && owner.pid !== process.pid) {
      if (owner.host === hostname() && pidAlive(owner.pid)) {
        throw new LifeboatError(
          'PRECONDITION_FAILED',
          `Run ${run.id} is being driven by process ${owner.pid} (since ${owner.since}).`,
          { hint: 'Wait for it, or stop that process first.' },
        );
      }
      run.state.owner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      this.commit(run, run.operator, [
        ['run.resumed', { after: 'interruption', previous_pid: owner.pid, previous_host: owner.host }],
      ]);
      return;
    }
    if (!owner) {
      run.state.owner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      this.commit(run, run.operator, []);
    }
  }

  private releaseOwnership(run: RunRecord): void {
    run.state.owner = null;
    this.commit(run, ACTOR_ENGINE, []);
  }

  /** Why a step's `when`/`unless` says it does not apply, or null when it runs. */
  private conditionFalse(step: Step, ctx: Record<string, unknown>): string | null {
    const truthy = (template: string): boolean => {
      let v: unknown;
      try {
        v = render(template, ctx, `step ${step.id}`);
      } catch {
        v = undefined; // a step that did not run produced nothing: false
      }
      return v !== undefined && v !== null && v !== false && v !== 0 && v !== '' && v !== 'false' && v !== 'no';
    };
    const plain = (t: string): string => t.replace(/[{}]/g, '').trim();
    if (step.when !== undefined && !truthy(step.when)) return `does not apply: ${plain(step.when)} is not true`;
    if (step.unless !== undefined && truthy(step.unless)) return `does not apply: ${plain(step.unless)} is true`;
    return null;
  }

  private needOf(run: RunRecord, step: Step, ctx: Record<string, unknown>): StepNeed | null {
    if (step.kind === 'manual')
      return {
        type: 'manual',
        items: step.checklist,
        signoff: step.signoff ? { role: step.signoff.role, required: step.signoff.required } : null,
      };
    if (step.kind === 'gate' && step.gate === 'confirm') {
      const expect = String(render(step.expect, ctx, `step ${step.id}`));
      return { type: 'confirm', prompt: `Type "${expect}" to confirm: ${step.title}`, expect };
    }
    if (step.kind === 'gate' && step.gate === 'second-person')
      return { type: 'second-person', role: step.role ?? 'a second person', notName: run.operator };
    return null;
  }

  // ---- advance -----------------------------------------------------------------------------

  /** Run every step that can run now; stop at the first one that needs a person, a failure or the end. */
  async advance(runId: string, job: Pick<JobContext, 'signal' | 'progress' | 'log' | 'step'>): Promise<RunRecord> {
    const run = this.load(runId);
    if (runEnded(run.status)) return run;
    this.takeOwnership(run);
    try {
      if (run.status !== 'running') {
        // Going on after a pause or a failure is an operator's decision: journaled. After an
        // answer to a waiting step, the answer's own event says it all.
        const after = run.status;
        run.status = 'running';
        this.commit(run, run.operator, after === 'paused' || after === 'failed' ? [['run.resumed', { after }]] : []);
      }
      for (const step of run.state.runbook.steps) {
        const st = run.state.steps[step.id]!;
        if (st.status === 'done' || st.status === 'skipped') continue;
        job.step(`${step.id}: ${step.title}`);
        const ctx = this.context(run);
        const skipBecause = this.conditionFalse(step, ctx);
        if (skipBecause) {
          const now = new Date().toISOString();
          Object.assign(st, {
            status: 'skipped',
            startedAt: now,
            finishedAt: now,
            skipReason: skipBecause,
            by: ACTOR_ENGINE,
            need: null,
          });
          this.commit(run, ACTOR_ENGINE, [['step.skipped', { step: step.id, reason: skipBecause, automatic: true }]]);
          continue;
        }
        if (step.kind === 'action') {
          const outcome = await this.runAction(run, step, st, job);
          if (outcome !== 'done') return run;
          continue;
        }
        if (step.kind === 'communicate' && st.status !== 'waiting') {
          // Lifeboat sends nothing: the message is shown to copy out, and the step waits for a person to say it was sent.
          const message = String(render(step.template, ctx, `step ${step.id}`));
          Object.assign(st, {
            status: 'waiting',
            startedAt: st.startedAt ?? new Date().toISOString(),
            output: { audience: step.audience, message },
            need: { type: 'communicate', audience: step.audience, message },
          });
          run.status = 'waiting';
          this.commit(run, ACTOR_ENGINE, [
            [
              'step.waiting',
              { step: step.id, need: 'communicate', audience: step.audience, message_sha256: digestOf(message) },
            ],
          ]);
          job.log('info', `message for ${step.audience} ready to copy (${step.id}); waiting for someone to send it`);
          return run;
        }
        if (step.kind === 'gate' && step.gate === 'verified') {
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
            Object.assign(st, {
              status: 'failed',
              startedAt: st.startedAt ?? now,
              finishedAt: now,
              error: toWireError(error),
            });
            run.status = 'failed';
            this.commit(run, ACTOR_ENGINE, [['gate.blocked', { step: step.id, set, level }]]);
            return run;
          }
          Object.assign(st, {
            status: 'done',
            startedAt: st.startedAt ?? now,
            finishedAt: now,
            output: { set, level: found.level, verified_at: found.at, medium: found.medium },
            by: ACTOR_ENGINE,
          });
          this.commit(run, ACTOR_ENGINE, [
            ['gate.passed', { step: step.id, set, level: found.level, verified_at: found.at }],
          ]);
          continue;
        }
        // A person is needed: manual steps, confirm and second-person gates.
        if (st.status !== 'waiting') {
          st.status = 'waiting';
          st.startedAt ??= new Date().toISOString();
          st.need = this.needOf(run, step, ctx);
          run.status = 'waiting';
          this.commit(run, ACTOR_ENGINE, [['step.waiting', { step: step.id, need: st.need }]]);
        } else {
          run.status = 'waiting';
          this.commit(run, ACTOR_ENGINE, []);
        }
        return run;
      }
      // Every step is done or skipped.
      run.status = this.finalStatus(run);
      run.finishedAt = new Date().toISOString();
      const removed = await this.cleanup(run);
      const exceptions = runExceptions(run).map((x) => ({
        step: x.step,
        by: x.by,
        approved_by: x.approvedBy,
        reason: x.reason,
      }));
      this.commit(run, run.operator, [
        ['run.finished', { status: run.status, ...this.achieved(run), exceptions, removed }],
      ]);
      this.finalizeReports(run);
      return run;
    } finally {
      const latest = this.load(runId);
      if (latest.state.owner?.pid === process.pid) this.releaseOwnership(latest);
    }
  }

  /** Reports written during the run are rewritten once it has ended, so the file shows the outcome and the final journal head. */
  private finalizeReports(run: RunRecord): void {
    const html = renderReport(this.catalog, run, { settings: this.deps.settings });
    for (const s of run.state.runbook.steps) {
      if (s.kind !== 'action' || s.action !== 'report.write') continue;
      const out = run.state.steps[s.id]?.output;
      const paths = [out?.path, ...((out?.copies as unknown[] | undefined) ?? [])].filter(
        (p): p is string => typeof p === 'string',
      );
      for (const p of paths) {
        try {
          writeFileSync(p, html, { mode: 0o600 });
        } catch {
          // a copy on a medium that went away: the data dir's copy and `lifeboat report` remain
        }
      }
    }
  }

  private async runAction(
    run: RunRecord,
    step: Extract<Step, { kind: 'action' }>,
    st: StepState,
    job: Pick<JobContext, 'signal' | 'progress' | 'log' | 'step'>,
  ): Promise<'done' | 'stopped'> {
    const action = ACTIONS[step.action];
    const now = new Date().toISOString();
    let params: unknown;
    try {
      params = action.params.parse(render(step.with, this.context(run), `step ${step.id}`));
    } catch (e) {
      const err =
        e instanceof LifeboatError
          ? e
          : new LifeboatError(
              'RUNBOOK_INVALID',
              `Step ${step.id}: its parameters do not fit ${step.action}: ${describeParamError(e)}`,
            );
      Object.assign(st, { status: 'failed', startedAt: st.startedAt ?? now, finishedAt: now, error: toWireError(err) });
      run.status = 'failed';
      this.commit(run, ACTOR_ENGINE, [['step.failed', { step: step.id, error: toWireError(err) }]]);
      return 'stopped';
    }
    const wasRunning = st.status === 'running';
    st.status = 'running';
    st.startedAt ??= now;
    st.attempts += 1;
    st.error = null;
    st.condition = null;
    st.need = null;
    // Persisted before the effect: a crash from here on finds the step running and resumes it.
    this.commit(run, ACTOR_ENGINE, [
      [
        wasRunning ? 'step.resumed' : 'step.started',
        {
          step: step.id,
          action: step.action,
          attempt: st.attempts,
          params,
          plan: action.describe(params),
          checkpoint_sha256: st.checkpoint ? digestOf(st.checkpoint) : null,
        },
      ],
    ]);
    job.log('info', `${step.id}: ${action.describe(params)}`);
    const started = Date.now();
    try {
      const output = await action.run(params, {
        deps: this.deps,
        runId: run.id,
        stepId: step.id,
        drill: run.drill,
        workDir: this.workDir(run),
        checkpoint: st.checkpoint,
        saveCheckpoint: (data) => {
          st.checkpoint = data;
          this.commit(run, ACTOR_ENGINE, [['step.checkpoint', { step: step.id, checkpoint_sha256: digestOf(data) }]]);
        },
        confirmation: st.confirmation,
        scratchPostgres: () => this.scratchPostgres(run),
        scratchDir: (name) => {
          const dir = join(this.scratchBase(run), name);
          mkdirSync(dir, { recursive: true, mode: 0o700 });
          return dir;
        },
        adoptScratchPostgres: (dir, binDir, port) => {
          this.scratchCluster = ScratchCluster.adopt(dir, binDir, port);
          run.state.scratch.pg = { dir, binDir, port };
          this.commit(run, ACTOR_ENGINE, [['scratch.postgres-adopted', { step: step.id, port, dir }]]);
        },
        renderReport: () => renderReport(this.catalog, run, { settings: this.deps.settings }),
        signal: job.signal,
        progress: job.progress,
        log: job.log,
      });
      Object.assign(st, { status: 'done', finishedAt: new Date().toISOString(), output, by: ACTOR_ENGINE });
      this.commit(run, ACTOR_ENGINE, [
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
      if (e instanceof ConfirmationNeeded) {
        Object.assign(st, {
          status: 'waiting',
          need: { type: 'confirm', prompt: e.prompt, expect: e.expect },
          confirmation: null,
        });
        run.status = 'waiting';
        this.commit(run, ACTOR_ENGINE, [['step.waiting', { step: step.id, need: st.need, reason: e.message }]]);
        return 'stopped';
      }
      const err = toWireError(e);
      const cancelled = job.signal.aborted || err.code === 'CANCELLED';
      const condition = action.condition?.(params, st.checkpoint, run.drill) ?? null;
      Object.assign(st, {
        status: 'failed',
        finishedAt: new Date().toISOString(),
        error: cancelled ? { code: 'CANCELLED', message: 'Interrupted by the operator.' } : err,
        condition,
      });
      run.status = cancelled ? 'paused' : 'failed';
      this.commit(run, ACTOR_ENGINE, [
        [
          cancelled ? 'step.interrupted' : 'step.failed',
          { step: step.id, error: st.error, condition, duration_ms: Date.now() - started },
        ],
      ]);
      return 'stopped';
    }
  }

  // ---- people ------------------------------------------------------------------------------

  /** A person's answer to the waiting step: ticks and sign-off, a typed confirmation, a second signature. */
  respond(runId: string, stepId: string, response: StepResponse, actor: string): RunRecord {
    const run = this.load(runId);
    const step = run.state.runbook.steps.find((s) => s.id === stepId);
    const st = run.state.steps[stepId];
    if (!step || !st) throw new LifeboatError('NOT_FOUND', `Run ${runId} has no step ${stepId}.`);
    if (st.status !== 'waiting' || !st.need)
      throw new LifeboatError('PRECONDITION_FAILED', `Step ${stepId} is not waiting for anyone (it is ${st.status}).`);
    if (!run.drill && response.auto)
      throw new LifeboatError(
        'CONFIRMATION_REQUIRED',
        '--yes answers steps only in drills: a live run needs a person at each step.',
      );
    const need = st.need;
    const who = actor.trim() || run.operator;
    const now = new Date().toISOString();
    const auto = response.auto ? { auto: true } : {};
    if (need.type === 'communicate') {
      // Who sent it and how: a person's word, journaled. A drill's --yes answers for the operator (marked auto).
      const by = response.signoff?.trim() || (response.auto ? who : '');
      const via = response.sentVia?.trim() || (response.auto ? 'not sent (drill, --yes)' : '');
      if (!by || !via)
        throw new LifeboatError(
          'CONFIRMATION_REQUIRED',
          `Step ${stepId}: say who sent the message to ${need.audience} and how (e-mail, phone, chat…).`,
          { hint: 'Lifeboat sends nothing itself: copy the message, send it, then confirm.' },
        );
      Object.assign(st, {
        status: 'done',
        finishedAt: now,
        output: { ...(st.output ?? {}), sent_by: by, sent_via: via, sent_at: now },
        signoff: by,
        by: who,
        need: null,
      });
      run.status = 'running';
      this.commit(run, who, [
        [
          'step.communicated',
          {
            step: stepId,
            audience: need.audience,
            message_sha256: digestOf(need.message),
            sent_by: by,
            sent_via: via,
            ...auto,
          },
        ],
      ]);
      return run;
    }
    if (need.type === 'manual') {
      // Items ticked earlier (tick(), kept across reloads) count with the ones in this answer.
      const ticks = [...new Set([...(st.ticks ?? []), ...(response.ticks ?? [])])]
        .filter((i) => i < need.items.length)
        .sort((a, b) => a - b);
      const missing = need.items.map((_, i) => i).filter((i) => !ticks.includes(i));
      if (missing.length)
        throw new LifeboatError(
          'CONFIRMATION_REQUIRED',
          `Step ${stepId}: ${missing.length} checklist item(s) not ticked: ${missing.map((i) => need.items[i]).join('; ')}`,
        );
      const signoff = response.signoff?.trim() || null;
      if (need.signoff?.required && !signoff)
        throw new LifeboatError(
          'CONFIRMATION_REQUIRED',
          `Step ${stepId} needs a sign-off by name (${need.signoff.role}).`,
        );
      Object.assign(st, { status: 'done', finishedAt: now, ticks, signoff, by: who, need: null });
      run.status = 'running';
      this.commit(run, who, [
        [
          'step.completed',
          { step: stepId, ticked: ticks.map((i) => need.items[i]), signoff, role: need.signoff?.role ?? null, ...auto },
        ],
      ]);
      return run;
    }
    if (need.type === 'second-person') {
      const name = response.signoff?.trim() ?? '';
      if (!name) throw new LifeboatError('CONFIRMATION_REQUIRED', `Step ${stepId} needs the name of ${need.role}.`);
      if (name.toLowerCase() === need.notName.toLowerCase() && !response.auto)
        throw new LifeboatError(
          'CONFIRMATION_REQUIRED',
          `Step ${stepId} needs a second person: ${need.notName} runs this recovery and cannot sign it.`,
        );
      Object.assign(st, { status: 'done', finishedAt: now, signoff: name, by: name, need: null });
      run.status = 'running';
      this.commit(run, name, [['step.signed', { step: stepId, signoff: name, role: need.role, ...auto }]]);
      return run;
    }
    // A typed confirmation: a confirm gate, or an action that must touch something existing.
    const typed = response.confirmation ?? '';
    if (typed !== need.expect) {
      this.commit(run, who, [['step.confirmation-rejected', { step: stepId, typed_sha256: digestOf(typed) }]]);
      throw new LifeboatError(
        'CONFIRMATION_REQUIRED',
        `Step ${stepId}: the confirmation does not match. Type exactly "${need.expect}".`,
      );
    }
    if (step.kind === 'action') {
      // The action runs again with the confirmation; it re-checks what it found.
      Object.assign(st, { status: 'pending', confirmation: typed, need: null, by: who });
    } else {
      Object.assign(st, { status: 'done', finishedAt: now, confirmation: typed, by: who, need: null });
    }
    run.status = 'running';
    this.commit(run, who, [['step.confirmed', { step: stepId, confirmed: typed, ...auto }]]);
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
    const st = run.state.steps[stepId];
    const step = run.state.runbook.steps.find((s) => s.id === stepId);
    if (!st || !step) throw new LifeboatError('NOT_FOUND', `Run ${runId} has no step ${stepId}.`);
    if (runEnded(run.status))
      throw new LifeboatError('PRECONDITION_FAILED', `Run ${runId} already ended (${run.status}).`);
    if (!reason.trim()) throw new LifeboatError('BAD_INPUT', 'Skipping a step needs a reason.');
    const second = secondPerson?.trim() || null;
    const refusal = this.skipRefusal(run, step, actor, second);
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
    Object.assign(st, {
      status: 'skipped',
      skipReason: reason.trim(),
      finishedAt: now,
      startedAt: st.startedAt ?? now,
      by: actor,
      skipApprovedBy: second,
      need: null,
    });
    if (run.status === 'failed' || run.status === 'waiting') run.status = 'paused';
    this.commit(run, actor, [
      ['step.skipped', { step: stepId, reason: reason.trim(), condition: st.condition, second_person: second }],
    ]);
    return run;
  }

  /** End a run for good; a drill's scratch targets are removed. */
  async cancel(runId: string, reason: string, actor: string): Promise<RunRecord> {
    const run = this.load(runId);
    if (runEnded(run.status))
      throw new LifeboatError('PRECONDITION_FAILED', `Run ${runId} already ended (${run.status}).`);
    if (
      run.state.owner &&
      run.state.owner.pid !== process.pid &&
      run.state.owner.host === hostname() &&
      pidAlive(run.state.owner.pid)
    )
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `Run ${runId} is being driven by process ${run.state.owner.pid}; stop it first.`,
      );
    run.status = 'cancelled';
    run.finishedAt = new Date().toISOString();
    const conditions = run.state.runbook.steps
      .map((s) => ({ step: s.id, condition: run.state.steps[s.id]?.condition }))
      .filter((c) => c.condition);
    const removed = await this.cleanup(run);
    run.state.owner = null;
    this.commit(run, actor, [['run.cancelled', { reason, conditions, removed }]]);
    this.finalizeReports(run);
    return run;
  }

  /** RTO and RPO achieved (from the incident time; RPO from the newest restored set's time). */
  achieved(run: RunRecord): Achieved {
    return achievedOf(run);
  }
}

export { achievedOf, type Achieved };
