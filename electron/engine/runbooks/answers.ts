import type { StepNeed, StepResponse, StepState } from '../../../shared/domain/runs';
import { LifeboatError } from '../errors';
import type { Step } from './format';
import { digestOf } from './journal';
import type { StepEvent } from './machine';
import type { JournalEntry, RunRecord } from './types';

/**
 * People's parts of a run: a person's answer to a waiting step, judged (refused with what is missing), and a skip's
 * rules. Nothing here writes: the runner applies what these return through the state machine.
 */

/** An accepted answer: the step's event, the fields it sets, who answered and the journal event. */
export interface Answer {
  event: Extract<StepEvent, 'answer' | 'confirm'>;
  set: Partial<Omit<StepState, 'status'>>;
  actor: string;
  journal: JournalEntry;
}

/** A typed confirmation that did not match: journaled, then refused. */
export interface Rejection {
  journal: JournalEntry;
  error: LifeboatError;
}

interface Asked {
  step: Step;
  st: StepState;
  response: StepResponse;
  /** Who answers (the actor, else the run's operator). */
  who: string;
  now: string;
}

const autoMark = (r: StepResponse): Record<string, unknown> => (r.auto ? { auto: true } : {});

/** Who sent the message and how: a person's word. A drill's --yes answers for the operator (marked auto). */
function communicated(a: Asked, need: Extract<StepNeed, { type: 'communicate' }>): Answer {
  const { response, who, now } = a;
  const by = response.signoff?.trim() || (response.auto ? who : '');
  const via = response.sentVia?.trim() || (response.auto ? 'not sent (drill, --yes)' : '');
  if (!by || !via)
    throw new LifeboatError(
      'CONFIRMATION_REQUIRED',
      `Step ${a.step.id}: say who sent the message to ${need.audience} and how (e-mail, phone, chat…).`,
      { hint: 'Lifeboat sends nothing itself: copy the message, send it, then confirm.' },
    );
  return {
    event: 'answer',
    set: {
      finishedAt: now,
      output: { ...(a.st.output ?? {}), sent_by: by, sent_via: via, sent_at: now },
      signoff: by,
      by: who,
      need: null,
    },
    actor: who,
    journal: [
      'step.communicated',
      {
        step: a.step.id,
        audience: need.audience,
        message_sha256: digestOf(need.message),
        sent_by: by,
        sent_via: via,
        ...autoMark(response),
      },
    ],
  };
}

/** A checklist: items ticked earlier (kept across reloads) count with the ones in this answer; a sign-off by name. */
function checkedOff(a: Asked, need: Extract<StepNeed, { type: 'manual' }>): Answer {
  const { step, st, response } = a;
  const ticks = [...new Set([...(st.ticks ?? []), ...(response.ticks ?? [])])]
    .filter((i) => i < need.items.length)
    .sort((x, y) => x - y);
  const missing = need.items.map((_, i) => i).filter((i) => !ticks.includes(i));
  if (missing.length)
    throw new LifeboatError(
      'CONFIRMATION_REQUIRED',
      `Step ${step.id}: ${missing.length} checklist item(s) not ticked: ${missing.map((i) => need.items[i]).join('; ')}`,
    );
  const signoff = response.signoff?.trim() || null;
  if (need.signoff?.required && !signoff)
    throw new LifeboatError(
      'CONFIRMATION_REQUIRED',
      `Step ${step.id} needs a sign-off by name (${need.signoff.role}).`,
    );
  return {
    event: 'answer',
    set: { finishedAt: a.now, ticks, signoff, by: a.who, need: null },
    actor: a.who,
    journal: [
      'step.completed',
      {
        step: step.id,
        ticked: ticks.map((i) => need.items[i]),
        signoff,
        role: need.signoff?.role ?? null,
        ...autoMark(response),
      },
    ],
  };
}

/** A second person's signature: someone other than the operator. */
function signed(a: Asked, need: Extract<StepNeed, { type: 'second-person' }>): Answer {
  const name = a.response.signoff?.trim() ?? '';
  if (!name) throw new LifeboatError('CONFIRMATION_REQUIRED', `Step ${a.step.id} needs the name of ${need.role}.`);
  if (name.toLowerCase() === need.notName.toLowerCase() && !a.response.auto)
    throw new LifeboatError(
      'CONFIRMATION_REQUIRED',
      `Step ${a.step.id} needs a second person: ${need.notName} runs this recovery and cannot sign it.`,
    );
  return {
    event: 'answer',
    set: { finishedAt: a.now, signoff: name, by: name, need: null },
    actor: name,
    journal: ['step.signed', { step: a.step.id, signoff: name, role: need.role, ...autoMark(a.response) }],
  };
}

/** A typed confirmation: a confirm gate is done; an action runs again with it (and re-checks what it found). */
function confirmed(a: Asked, need: Extract<StepNeed, { type: 'confirm' }>): Answer | Rejection {
  const typed = a.response.confirmation ?? '';
  if (typed !== need.expect)
    return {
      journal: ['step.confirmation-rejected', { step: a.step.id, typed_sha256: digestOf(typed) }],
      error: new LifeboatError(
        'CONFIRMATION_REQUIRED',
        `Step ${a.step.id}: the confirmation does not match. Type exactly "${need.expect}".`,
      ),
    };
  const journal: JournalEntry = ['step.confirmed', { step: a.step.id, confirmed: typed, ...autoMark(a.response) }];
  if (a.step.kind === 'action')
    return { event: 'confirm', set: { confirmation: typed, need: null, by: a.who }, actor: a.who, journal };
  return {
    event: 'answer',
    set: { finishedAt: a.now, confirmation: typed, by: a.who, need: null },
    actor: a.who,
    journal,
  };
}

/** Judge a person's answer to what the waiting step needs. Throws what is missing; a wrong confirmation is a Rejection. */
export function judgeAnswer(a: Asked, need: StepNeed): Answer | Rejection {
  switch (need.type) {
    case 'communicate':
      return communicated(a, need);
    case 'manual':
      return checkedOff(a, need);
    case 'second-person':
      return signed(a, need);
    case 'confirm':
      return confirmed(a, need);
  }
}

/**
 * Why this skip is refused, or null. A sign-off cannot be skipped by the person it asks to sign (the run's operator,
 * or whoever answers for it): only a second, named person may waive it. In a live run every skip needs that second
 * person; a drill may skip other steps with a reason alone.
 */
export function skipRefusal(run: RunRecord, step: Step, actor: string, second: string | null): LifeboatError | null {
  const same = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();
  const signoff =
    (step.kind === 'manual' && step.signoff?.required === true) ||
    (step.kind === 'gate' && step.gate === 'second-person');
  if (second !== null && (same(second, actor) || same(second, run.operator)))
    return new LifeboatError(
      'CONFIRMATION_REQUIRED',
      `The second person must be someone other than ${actor}${same(actor, run.operator) ? '' : ` and ${run.operator}`}.`,
      { hint: 'Ask a colleague to approve the skip and give their name.' },
    );
  if (signoff && second === null)
    return new LifeboatError(
      'CONFIRMATION_REQUIRED',
      `Step ${step.id} asks for a sign-off: ${actor}, who is asked to sign, cannot skip it.`,
      { hint: 'Sign it, or have a second person (not the operator) approve the skip by name.' },
    );
  if (!run.drill && second === null)
    return new LifeboatError(
      'CONFIRMATION_REQUIRED',
      `Skipping a step of a LIVE run needs a second person: give their name (not ${run.operator}).`,
      { hint: 'In the terminal: --second-person <name>; in the app: the second name field.' },
    );
  return null;
}
