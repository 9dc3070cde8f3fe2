/**
 * A strict reader of the Prometheus text exposition format (0.0.4) for the tests: every line must be a
 * `# HELP name text`, a `# TYPE name counter|gauge|…` (before the metric's samples, once), or a sample
 * `name{label="value",…} number`; anything else throws, naming the line. promtool is not on this machine.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(\\{(.*)\\})?\\s(\\S+)(\\s-?\\d+)?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

export function parsePrometheusText(text: string): PromSample[] {
  if (!text.endsWith('\n')) throw new Error('the file does not end with a newline');
  const typed = new Map<string, string>();
  const seen = new Set<string>();
  const out: PromSample[] = [];
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, i) => {
      const at = `line ${i + 1} (${JSON.stringify(line)})`;
      if (line.startsWith('#')) {
        const m = new RegExp(`^# (HELP|TYPE) (${NAME}) (.+)$`).exec(line);
        if (!m) throw new Error(`${at}: a comment that is neither HELP nor TYPE`);
        if (m[1] === 'TYPE') {
          if (!TYPES.includes(m[3]!)) throw new Error(`${at}: unknown type`);
          if (typed.has(m[2]!) || seen.has(m[2]!)) throw new Error(`${at}: TYPE after the samples or twice`);
          typed.set(m[2]!, m[3]!);
        }
        return;
      }
      const m = SAMPLE.exec(line);
      if (!m) throw new Error(`${at}: not a sample line`);
      const labels: Record<string, string> = {};
      let rest = m[3] ?? '';
      while (rest.length) {
        const l = LABEL.exec(rest);
        if (!l) throw new Error(`${at}: bad labels at ${JSON.stringify(rest)}`);
        if (l[1]! in labels) throw new Error(`${at}: label ${l[1]} twice`);
        labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
        rest = rest.slice(l[0].length);
        if (l[3] === ',' && rest.length === 0) break;
      }
      const v = m[4]!;
      if (!/^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|NaN|[+-]Inf)$/.test(v)) throw new Error(`${at}: not a number`);
      const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
      if (typed.get(m[1]!) === 'counter' && !(value >= 0)) throw new Error(`${at}: a counter below 0`);
      seen.add(m[1]!);
      out.push({ name: m[1]!, labels, value });
    });
  const keys = out.map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`);
  if (new Set(keys).size !== keys.length) throw new Error('a sample appears twice');
  return out;
}

/** The one sample of `name` whose labels include `labels`; throws when there is none or several. */
export function sampleValue(samples: PromSample[], name: string, labels: Record<string, string> = {}): number {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length !== 1) throw new Error(`${hits.length} samples of ${name}${JSON.stringify(labels)}`);
  return hits[0]!.value;
}
