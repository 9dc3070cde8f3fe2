import { LifeboatError } from '../errors';

/**
 * Templates in runbooks: `{{ inputs.system }}`, `{{ steps.select.output.key }}`,
 * `{{ run.operator }}`. A value that is exactly one template keeps the referenced value's type
 * (a number stays a number); otherwise the references are written into the text. A whole-value
 * reference to an optional input that was not given is dropped, so the parameter takes its default.
 */
const REF = /\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}$/;

/** Every reference in a value (strings, arrays and objects are searched). */
export function templateRefs(value: unknown): string[] {
  if (typeof value === 'string') return [...value.matchAll(REF)].map((m) => m[1]!);
  if (Array.isArray(value)) return value.flatMap(templateRefs);
  if (value && typeof value === 'object') return Object.values(value).flatMap(templateRefs);
  return [];
}

function lookup(context: Record<string, unknown>, ref: string): unknown {
  let cursor: unknown = context;
  for (const part of ref.split('.')) {
    if (cursor === null || typeof cursor !== 'object' || !(part in cursor)) return undefined;
    cursor = (cursor as Record<string, unknown>)[part];
  }
  return cursor;
}

function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** Fill a value's templates from the run's context; an unknown reference is an error naming it. */
export function render(value: unknown, context: Record<string, unknown>, where: string): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    const get = (ref: string): unknown => {
      const v = lookup(context, ref);
      if (v === undefined) {
        throw new LifeboatError('PRECONDITION_FAILED', `${where}: {{ ${ref} }} has no value in this run.`, {
          hint: ref.startsWith('steps.')
            ? 'The step it names was skipped or has not produced that output.'
            : 'Give the input when starting the run.',
        });
      }
      return v;
    };
    // An optional input left empty leaves the parameter out (the action's default applies).
    if (whole)
      return whole[1]!.startsWith('inputs.') && lookup(context, whole[1]!) === undefined ? undefined : get(whole[1]!);
    return value.replace(REF, (_m, ref: string) => asText(get(ref)));
  }
  // An optional input left empty drops out of a list too (paths: ["{{ inputs.path }}"] is then no path: the whole set).
  if (Array.isArray(value)) return value.map((v) => render(v, context, where)).filter((v) => v !== undefined);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).flatMap(([k, v]) => {
        const r = render(v, context, where);
        return r === undefined ? [] : [[k, r]];
      }),
    );
  }
  return value;
}
