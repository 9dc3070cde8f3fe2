import { runEnded, type RunStatus, type StepState, type StepStatus } from '../../../shared/domain/runs';
import { LifeboatError } from '../errors';
import type { RunRecord } from './types';

/**
 * The run's and each step's statuses as two explicit state machines. Every status change in the runner goes through
 * `transition()` with an event; a pair (status, event) missing from the table is refused with an
 * IllegalTransitionError, so a cancelled run is never reopened and a done step is never redone.
 * docs/architecture.md draws both tables.
 */

export const RUN_EVENTS = [
  'wait', // a step needs a person
  'answer', // a person answered the waiting step
  'resume', // advance goes on after a wait, a pause or a failure
  'fail', // a step failed (or a gate blocked)
  'interrupt', // the operator stopped the running action
  'skip', // a person skipped a step
  'finish', // every step done or not applicable
  'finish-with-exceptions', // the end reached with a step a person skipped
  'cancel', // ended for good by a person
] as const;
export type RunEvent = (typeof RUN_EVENTS)[number];

export const STEP_EVENTS = [
  'start', // an action begins (again, after a failure or a confirmation)
  'resume', // an action found running (its process died) runs again from its checkpoint
  'finish', // the action finished
  'fail', // the action failed
  'interrupt', // the action was stopped by the operator
  'refuse', // the step cannot run: its parameters do not fit, or its gate is blocked
  'pass', // a verified gate found its verification
  'wait', // the step needs a person (a checklist, a message, a confirmation, a second person)
  'answer', // a person's answer completed the step
  'confirm', // a typed confirmation lets the action run again
  'not-applicable', // its when/unless says it does not apply (skipped by Lifeboat)
  'skip', // skipped by a person, with a reason
] as const;
export type StepEvent = (typeof STEP_EVENTS)[number];

export type Table<S extends string, E extends string> = Readonly<Record<S, Readonly<Partial<Record<E, S>>>>>;

/** The run: from status × event → status. The ended statuses have no exits. */
export const RUN_TRANSITIONS: Table<RunStatus, RunEvent> = {
  running: {
    wait: 'waiting',
    answer: 'running',
    fail: 'failed',
    interrupt: 'paused',
    skip: 'running',
    finish: 'succeeded',
    'finish-with-exceptions': 'completed-with-exceptions',
    cancel: 'cancelled',
  },
  waiting: { resume: 'running', answer: 'running', skip: 'paused', cancel: 'cancelled' },
  paused: { resume: 'running', answer: 'running', skip: 'paused', cancel: 'cancelled' },
  failed: { resume: 'running', skip: 'paused', cancel: 'cancelled' },
  succeeded: {},
  'completed-with-exceptions': {},
  cancelled: {},
};

/** Each step: from status × event → status. Done and skipped have no exits; a failed step may run again. */
export const STEP_TRANSITIONS: Table<StepStatus, StepEvent> = {
  pending: {
    start: 'running',
    refuse: 'failed',
    pass: 'done',
    wait: 'waiting',
    'not-applicable': 'skipped',
    skip: 'skipped',
  },
  running: {
    resume: 'running',
    finish: 'done',
    fail: 'failed',
    interrupt: 'failed',
    refuse: 'failed',
    wait: 'waiting',
    'not-applicable': 'skipped',
    skip: 'skipped',
  },
  waiting: {
    start: 'running',
    refuse: 'failed',
    answer: 'done',
    confirm: 'pending',
    'not-applicable': 'skipped',
    skip: 'skipped',
  },
  failed: { start: 'running', refuse: 'failed', pass: 'done', 'not-applicable': 'skipped', skip: 'skipped' },
  done: {},
  skipped: {},
};

export const RUN_INITIAL: RunStatus = 'running';
export const STEP_INITIAL: StepStatus = 'pending';

/** A state change the table does not allow: a bug in the runner, or an answer to a run that has moved on. */
export class IllegalTransitionError extends LifeboatError {
  constructor(
    readonly subject: string,
    readonly from: string,
    readonly event: string,
    allowed: readonly string[],
  ) {
    super('PRECONDITION_FAILED', `${subject} is ${from}: "${event}" is not possible from there.`, {
      hint: allowed.length
        ? `From ${from} it can only: ${allowed.join(', ')}.`
        : `${from} is final: nothing moves it on (start a new run to do it again).`,
    });
    this.name = 'IllegalTransitionError';
  }
}

/** The status `event` moves `from` to, or an IllegalTransitionError naming `subject` (e.g. "Run 01J…", "Step restore"). */
export function transition<S extends string, E extends string>(
  table: Table<S, E>,
  subject: string,
  from: S,
  event: E,
): S {
  const exits = table[from];
  const to = exits?.[event];
  if (to === undefined) throw new IllegalTransitionError(subject, from, event, Object.keys(exits ?? {}));
  return to;
}

/** The statuses nothing leaves. */
export function terminal<S extends string, E extends string>(table: Table<S, E>): S[] {
  return (Object.keys(table) as S[]).filter((s) => Object.keys(table[s]).length === 0);
}

/** One state change of a run: an event for the run, one for a step (with the step's fields it sets), or both. */
export interface Change {
  run?: RunEvent;
  step?: { id: string; event: StepEvent; set?: Partial<Omit<StepState, 'status'>> };
}

/**
 * Apply a change to a run in memory: both events are checked against the tables before anything is touched; a run
 * that reaches an ended status gets its end time. The runner commits the result with its journal events.
 */
export function applyChange(run: RunRecord, change: Change, now = new Date()): void {
  const st = change.step ? run.state.steps[change.step.id] : undefined;
  if (change.step && !st) throw new LifeboatError('NOT_FOUND', `Run ${run.id} has no step ${change.step.id}.`);
  const stepTo =
    change.step && st ? transition(STEP_TRANSITIONS, `Step ${change.step.id}`, st.status, change.step.event) : null;
  const runTo = change.run ? transition(RUN_TRANSITIONS, `Run ${run.id}`, run.status, change.run) : null;
  if (st && stepTo) Object.assign(st, change.step?.set, { status: stepTo });
  if (runTo) {
    run.status = runTo;
    if (runEnded(runTo)) run.finishedAt = now.toISOString();
  }
}

/** Refuse early what a change would refuse, before the work that precedes it (a cancel's cleanup, a person's answer). */
export function checkRunEvent(run: RunRecord, event: RunEvent): void {
  transition(RUN_TRANSITIONS, `Run ${run.id}`, run.status, event);
}
