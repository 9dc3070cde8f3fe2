import { createHash } from 'node:crypto';
import { isMap, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { LifeboatError } from '../errors';
import { ACTION_NAMES } from './action-names';
import { ACTIONS } from './actions';
import { templateRefs } from './template';

/**
 * The runbook format (docs/runbook-format.md): YAML validated by a schema whose errors name the
 * line and the field. A runbook is parsed once when a run starts and stored with the run, so a
 * resumed run follows the definition it started with even if the file changed since.
 */

const DURATION = /^(?:(\d+)h)?\s*(?:(\d+)m(?:in)?)?\s*(?:(\d+)s)?$/;

/** "90s", "15m", "2h", "1h30m" → seconds. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim() === '') return null;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

const Duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = typeof v === 'number' ? v * 60 : parseDuration(v);
  if (s === null || s <= 0) {
    ctx.addIssue({ code: 'custom', message: 'a duration like 15m, 2h or 1h30m' });
    return z.NEVER;
  }
  return s;
});

const Id = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a short id: lowercase letters, digits and dashes');

export const INPUT_TYPES = ['text', 'datetime', 'system', 'backup-set', 'postgres-target', 'directory'] as const;

const InputSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_]{0,40}$/, 'an input id: lowercase letters, digits and underscores'),
    type: z.enum(INPUT_TYPES),
    label: z.string().min(1),
    help: z.string().optional(),
    required: z.boolean().default(true),
    /** A default value; for datetime, `now` means the run's start. */
    default: z.string().optional(),
  })
  .strict();

const Base = {
  id: Id,
  title: z.string().min(1),
  /** Markdown shown with the step. */
  guidance: z.string().optional(),
  /** Planned duration, compared with the actual one in the report. */
  expected: Duration.optional(),
  /** Run the step only when this template is true (or, for `unless`, false); otherwise it is skipped and journaled. */
  when: z.string().optional(),
  unless: z.string().optional(),
};

const ManualStep = z
  .object({
    ...Base,
    kind: z.literal('manual'),
    checklist: z.array(z.string().min(1)).default([]),
    signoff: z
      .object({ required: z.boolean().default(true), role: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

const ActionStep = z
  .object({
    ...Base,
    kind: z.literal('action'),
    action: z.enum(ACTION_NAMES),
    with: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

const GateStep = z
  .object({
    ...Base,
    kind: z.literal('gate'),
    gate: z.enum(['verified', 'confirm', 'second-person']),
    /** verified: the set (a key, usually from a select step) and the least level that counts. */
    set: z.string().optional(),
    level: z.enum(['integrity', 'authenticity', 'deep', 'restore']).optional(),
    /** confirm: the text the operator must type (a target's name). */
    expect: z.string().optional(),
    /** second-person: who should sign (a role). */
    role: z.string().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.gate === 'verified' && !s.set)
      ctx.addIssue({ code: 'custom', path: ['set'], message: 'a verified gate needs the set to check' });
    if (s.gate === 'confirm' && !s.expect)
      ctx.addIssue({ code: 'custom', path: ['expect'], message: 'a confirm gate needs the text to type' });
  });

const CommunicateStep = z
  .object({
    ...Base,
    kind: z.literal('communicate'),
    audience: z.string().min(1),
    template: z.string().min(1),
  })
  .strict();

export const StepSchema = z.discriminatedUnion('kind', [ManualStep, ActionStep, GateStep, CommunicateStep]);
export type Step = z.infer<typeof StepSchema>;

export const RunbookSchema = z
  .object({
    id: Id,
    title: z.string().min(1),
    description: z.string().min(1),
    /** The seeds' incident levels: 1 minor, 2 major, 3 critical, 4 catastrophic. */
    level: z.number().int().min(1).max(4),
    objectives: z.object({ rto: Duration, rpo: Duration }).strict(),
    /** `only`: the runbook is a drill by nature (it never touches live targets). */
    drill: z.enum(['allowed', 'only']).default('allowed'),
    inputs: z.array(InputSchema).default([]),
    steps: z.array(StepSchema).min(1),
  })
  .strict();
export type Runbook = z.infer<typeof RunbookSchema>;

export interface RunbookProblem {
  line: number | null;
  column: number | null;
  field: string;
  message: string;
}

/** A runbook that does not validate, with every problem found (line, field, message). */
export class RunbookInvalidError extends LifeboatError {
  constructor(
    message: string,
    readonly problems: RunbookProblem[],
  ) {
    super('RUNBOOK_INVALID', message);
  }
}

export interface ParsedRunbook {
  runbook: Runbook;
  /** SHA-256 of the source text: which definition a run followed. */
  sha256: string;
}

function describe(problems: RunbookProblem[], source: string): string {
  return problems
    .map(
      (p) =>
        `${source}${p.line !== null ? `:${p.line}${p.column !== null ? `:${p.column}` : ''}` : ''}: ${p.field ? `${p.field}: ` : ''}${p.message}`,
    )
    .join('\n');
}

/** Where a path of the document sits: the deepest node that exists along it. */
function locate(
  doc: ReturnType<typeof parseDocument>,
  lines: LineCounter,
  path: ReadonlyArray<PropertyKey>,
): { line: number; column: number } | null {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as Array<string | number>, true) as YamlNode | undefined;
    const offset = node && typeof node === 'object' && 'range' in node && node.range ? node.range[0] : undefined;
    if (offset !== undefined) {
      const pos = lines.linePos(offset);
      return { line: pos.line, column: pos.col };
    }
  }
  return null;
}

function fieldName(path: ReadonlyArray<PropertyKey>, data: unknown): string {
  const parts: string[] = [];
  let cursor: unknown = data;
  for (const key of path) {
    if (typeof key === 'number') {
      const item = Array.isArray(cursor) ? (cursor[key] as { id?: unknown } | undefined) : undefined;
      parts.push(item && typeof item.id === 'string' ? `[${item.id}]` : `[${key}]`);
      cursor = item;
    } else {
      parts.push(parts.length ? `.${String(key)}` : String(key));
      cursor = cursor && typeof cursor === 'object' ? (cursor as Record<string, unknown>)[String(key)] : undefined;
    }
  }
  return parts.join('');
}

/** Cross-field checks the schema cannot express: unique ids, template references, known parameters. */
function semanticProblems(rb: Runbook): Array<{ path: Array<string | number>; message: string }> {
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  const inputs = new Set(rb.inputs.map((i) => i.id));
  if (inputs.size !== rb.inputs.length) out.push({ path: ['inputs'], message: 'two inputs have the same id' });
  const seen = new Set<string>();
  rb.steps.forEach((step, i) => {
    if (seen.has(step.id)) out.push({ path: ['steps', i, 'id'], message: `the step id ${step.id} is used twice` });
    const check = (value: unknown, path: Array<string | number>): void => {
      for (const ref of templateRefs(value)) {
        const [root, name] = ref.split('.');
        if (root === 'inputs' && !inputs.has(name ?? ''))
          out.push({ path, message: `{{ ${ref} }} names an input the runbook does not declare` });
        else if (root === 'steps' && !seen.has(name ?? ''))
          out.push({ path, message: `{{ ${ref} }} names a step that does not come before this one` });
        else if (!['inputs', 'steps', 'run', 'runbook', 'objectives'].includes(root ?? ''))
          out.push({
            path,
            message: `{{ ${ref} }}: a template starts with inputs., steps., run., runbook. or objectives.`,
          });
      }
    };
    if (step.kind === 'action') {
      const shape = (ACTIONS[step.action].params as unknown as { shape?: Record<string, z.ZodType> }).shape ?? {};
      for (const [k, v] of Object.entries(step.with)) {
        check(v, ['steps', i, 'with', k]);
        const field = shape[k];
        if (!field)
          out.push({
            path: ['steps', i, 'with', k],
            message: `${step.action} has no parameter ${k} (it takes: ${Object.keys(shape).join(', ')})`,
          });
        else if (templateRefs(v).length === 0) {
          const r = field.safeParse(v);
          if (!r.success)
            out.push({ path: ['steps', i, 'with', k], message: r.error.issues[0]?.message ?? 'invalid value' });
        }
      }
      for (const [k, field] of Object.entries(shape)) {
        if (!(k in step.with) && !field.safeParse(undefined).success)
          out.push({ path: ['steps', i, 'with'], message: `${step.action} needs the parameter ${k}` });
      }
    }
    if (step.kind === 'gate') {
      check(step.set, ['steps', i, 'set']);
      check(step.expect, ['steps', i, 'expect']);
    }
    if (step.kind === 'communicate') check(step.template, ['steps', i, 'template']);
    check(step.guidance, ['steps', i, 'guidance']);
    check(step.when, ['steps', i, 'when']);
    check(step.unless, ['steps', i, 'unless']);
    seen.add(step.id);
  });
  return out;
}

/**
 * An action's parameters that do not fit once the step's templates are filled in, said readably:
 * `field: what is wrong` for each issue (zod's own message is a JSON array, and its first line is `[`).
 */
export function describeParamError(e: unknown): string {
  if (e instanceof z.ZodError) {
    return e.issues
      .map((issue) => {
        const field = issue.path.length ? issue.path.map(String).join('.') : 'the parameters';
        const message = /received undefined$/.test(issue.message) ? 'required, but missing' : issue.message;
        return `${field}: ${message}`;
      })
      .join('; ');
  }
  return e instanceof Error ? (e.message.split('\n')[0] ?? e.message) : String(e);
}

/**
 * Limits on runbook YAML (docs/runbooks.md, "Limits"): the yaml parser recurses on nested flow collections (100,000 `[`
 * exhaust the process's memory) and expands aliases on conversion, so both are bounded before anything is built.
 */
export const RUNBOOK_LIMITS = { bytes: 1024 * 1024, flowDepth: 64, indentColumns: 256, aliases: 100 } as const;

/** The deepest nesting of flow collections (`[`, `{`) outside quotes and comments, counted without recursion; stops past `limit`. */
function flowDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  // A quote opens a string only where a scalar starts (so an apostrophe in plain text cannot hide what follows it).
  const startsScalar = (i: number): boolean => {
    let j = i - 1;
    while (j >= 0 && (text[j] === ' ' || text[j] === '\t')) j--;
    return j < 0 || ':-[{,?\n'.includes(text[j]!);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ((c === '"' || c === "'") && !startsScalar(i)) continue;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === "'") {
      for (i++; i < text.length; i++) if (text[i] === "'" && text[++i] !== "'") break;
      i--;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '[' || c === '{') {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return max;
}

/** Why the text is over a limit, or null. */
function overLimit(text: string): string | null {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > RUNBOOK_LIMITS.bytes)
    return `the runbook is ${bytes} bytes, over the ${RUNBOOK_LIMITS.bytes >> 20} MiB a runbook may have`;
  if (flowDepth(text, RUNBOOK_LIMITS.flowDepth) > RUNBOOK_LIMITS.flowDepth)
    return `lists or maps in [ ] or { } nest deeper than ${RUNBOOK_LIMITS.flowDepth} levels`;
  const deep = text.split('\n').findIndex((l) => /^ */.exec(l)![0].length > RUNBOOK_LIMITS.indentColumns);
  if (deep >= 0) return `line ${deep + 1} is indented more than ${RUNBOOK_LIMITS.indentColumns} columns`;
  return null;
}

/** Parse and validate a runbook; every problem comes back at once, each with its line and field. */
export function parseRunbook(text: string, source = 'runbook'): ParsedRunbook {
  const limit = overLimit(text);
  if (limit)
    throw new RunbookInvalidError(`${source}: ${limit}.`, [{ line: null, column: null, field: '', message: limit }]);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const problems: RunbookProblem[] = [];
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    problems.push({
      line: pos?.line ?? null,
      column: pos?.col ?? null,
      field: '',
      message: e.message.split('\n')[0] ?? e.message,
    });
  }
  if (problems.length)
    throw new RunbookInvalidError(`The runbook is not valid YAML:\n${describe(problems, source)}`, problems);
  if (!isMap(doc.contents)) {
    throw new RunbookInvalidError(`${source}:1: a runbook is a YAML mapping (id, title, steps…)`, [
      { line: 1, column: 1, field: '', message: 'a runbook is a YAML mapping' },
    ]);
  }
  let data: unknown;
  try {
    // Aliases are expanded here: an alias bomb (a billion laughs) is refused past RUNBOOK_LIMITS.aliases.
    data = doc.toJS({ maxAliasCount: RUNBOOK_LIMITS.aliases });
  } catch (e) {
    const message = `too many aliases (* references) or an alias to itself: ${e instanceof Error ? e.message : String(e)}`;
    throw new RunbookInvalidError(`${source}: ${message}.`, [{ line: null, column: null, field: '', message }]);
  }
  const parsed = RunbookSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const where = locate(doc, lines, issue.path);
      const message = /received undefined$/.test(issue.message) ? 'required, but missing' : issue.message;
      problems.push({
        line: where?.line ?? null,
        column: where?.column ?? null,
        field: fieldName(issue.path, data),
        message,
      });
    }
  } else {
    for (const p of semanticProblems(parsed.data)) {
      const where = locate(doc, lines, p.path);
      problems.push({
        line: where?.line ?? null,
        column: where?.column ?? null,
        field: fieldName(p.path, data),
        message: p.message,
      });
    }
  }
  if (problems.length) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new RunbookInvalidError(
      `The runbook has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${describe(problems, source)}`,
      problems,
    );
  }
  return { runbook: parsed.data!, sha256: createHash('sha256').update(text).digest('hex') };
}
