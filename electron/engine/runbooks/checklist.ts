import type { Runbook, Step } from './format';
import { formatDuration } from '../../../shared/format';

/**
 * A blank checklist of a runbook, to print before a run (issue 21, item 8): every step in order with boxes to tick,
 * lines for names, times and sign-offs, and the messages to send with their placeholders. Paper works when the
 * console does not; the run's own report is the record, this is the form. Self-contained HTML (no scripts, fonts or
 * images) with a print stylesheet, or plain text for a terminal.
 */

const esc = (v: string): string =>
  v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Source {
  source: string;
  sha256: string;
}

/** What a step asks of the person holding the paper, in one line. */
function stepKind(step: Step): string {
  switch (step.kind) {
    case 'manual':
      return step.signoff?.required ? `by hand; sign-off: ${step.signoff.role}` : 'by hand';
    case 'action':
      return `Lifeboat does it (${step.action}); note the result`;
    case 'gate':
      if (step.gate === 'confirm') return `gate: type the confirmation (${step.expect ?? ''})`;
      if (step.gate === 'second-person') return `gate: a second person signs (${step.role ?? 'not the operator'})`;
      return `gate: the set must be verified (${step.level ?? 'integrity'} level or above)`;
    case 'communicate':
      return `message to ${step.audience}: send it, note who sent it and how`;
  }
}

/** The lines to fill in for a step, beyond its checklist. */
function blanks(step: Step): string[] {
  const out = ['Started at ____:____', 'Done at ____:____', 'By ______________________'];
  if (step.kind === 'manual' && step.signoff?.required)
    out.push(`Signed (${step.signoff.role}) ______________________`);
  if (step.kind === 'gate' && step.gate === 'second-person')
    out.push(`Second person (${step.role ?? 'not the operator'}) ______________________`);
  if (step.kind === 'communicate')
    out.push('Sent by ______________________', 'Sent via (e-mail, phone, chat) ______________');
  if (step.kind === 'action') out.push('Result / evidence ________________________________________');
  return out;
}

function condition(step: Step): string | null {
  if (step.when) return `Only when ${step.when.replace(/[{}]/g, '').trim()}`;
  if (step.unless) return `Skip when ${step.unless.replace(/[{}]/g, '').trim()}`;
  return null;
}

export function renderChecklistHtml(rb: Runbook, src: Source): string {
  const inputs = rb.inputs
    .map(
      (i) =>
        `<tr><th>${esc(i.label)}</th><td class="blank">${i.default ? `<span class="muted">default: ${esc(i.default)}</span>` : ''}</td></tr>`,
    )
    .join('');
  const steps = rb.steps
    .map((s, n) => {
      const when = condition(s);
      const items =
        s.kind === 'manual'
          ? s.checklist.map((c) => `<li><span class="box" aria-hidden="true"></span>${esc(c)}</li>`).join('')
          : '';
      const message = s.kind === 'communicate' ? `<pre>${esc(s.template.trimEnd())}</pre>` : '';
      return `<section class="step">
<h2><span class="box" aria-hidden="true"></span>${n + 1}. ${esc(s.title)}</h2>
<p class="muted">${esc(s.id)} · ${esc(stepKind(s))}${s.expected ? ` · planned ${esc(formatDuration(s.expected))}` : ''}${when ? ` · ${esc(when)}` : ''}</p>
${s.guidance ? `<p class="guidance">${esc(s.guidance.trim()).replace(/\n/g, '<br>')}</p>` : ''}
${items ? `<ul class="check">${items}</ul>` : ''}${message}
<ul class="blanks">${blanks(s)
        .map((b) => `<li>${esc(b)}</li>`)
        .join('')}</ul>
</section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Checklist — ${esc(rb.title)}</title>
<style>
body{font:13px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111;margin:24px;max-width:900px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:0 0 2px}.muted{color:#555}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{width:40%;font-weight:500}td.blank{height:22px}
.step{border:1px solid #999;border-radius:4px;padding:8px 10px;margin:10px 0;break-inside:avoid}
.box{display:inline-block;width:14px;height:14px;border:1.5px solid #111;margin-right:8px;vertical-align:-2px}
ul{margin:6px 0;padding-left:4px;list-style:none}ul.blanks li{margin:6px 0;color:#333}
pre{white-space:pre-wrap;border:1px dashed #999;padding:6px;font:12px ui-monospace,monospace}
@media print{body{margin:0;max-width:none}.noprint{display:none}a{color:inherit}}
</style></head><body>
<h1>${esc(rb.title)} — blank checklist</h1>
<p class="muted">Runbook ${esc(rb.id)} (${esc(src.source)}, sha256 ${esc(src.sha256.slice(0, 16))}…) · incident level ${rb.level} · runbook objectives RTO ${esc(formatDuration(rb.objectives.rto))}, RPO ${esc(formatDuration(rb.objectives.rpo))} (the system's tier overrides them when it has one)</p>
<p>${esc(rb.description)}</p>
<table>
<tr><th>Drill or live</th><td class="blank">☐ drill &nbsp; ☐ live</td></tr>
<tr><th>Operator</th><td class="blank"></td></tr>
<tr><th>Incident declared at (date, time, zone)</th><td class="blank"></td></tr>
<tr><th>Lifeboat run id (if run in the console)</th><td class="blank"></td></tr>
${inputs}
</table>
${steps}
<section class="step"><h2>Close</h2><ul class="blanks"><li>Finished at ____:____ &nbsp; RTO achieved ________ &nbsp; RPO achieved ________</li><li>Steps skipped (who, approved by, why) ________________________________________</li><li>Signed ______________________</li></ul></section>
</body></html>
`;
}

export function renderChecklistText(rb: Runbook, src: Source): string {
  const lines = [
    `${rb.title} — blank checklist`,
    `runbook ${rb.id} (${src.source}, sha256 ${src.sha256.slice(0, 16)}…); RTO ${formatDuration(rb.objectives.rto)}, RPO ${formatDuration(rb.objectives.rpo)}`,
    '',
    '[ ] drill  [ ] live     Operator: ____________________   Incident at: ____________________',
    ...rb.inputs.map((i) => `${i.label}: ____________________${i.default ? ` (default: ${i.default})` : ''}`),
    '',
  ];
  rb.steps.forEach((s, n) => {
    const when = condition(s);
    lines.push(`[ ] ${n + 1}. ${s.title}`, `    ${stepKind(s)}${when ? ` — ${when}` : ''}`);
    if (s.kind === 'manual') for (const c of s.checklist) lines.push(`    [ ] ${c}`);
    if (s.kind === 'communicate')
      lines.push(
        ...s.template
          .trimEnd()
          .split('\n')
          .map((l) => `    | ${l}`),
      );
    lines.push(...blanks(s).map((b) => `    ${b}`), '');
  });
  return `${lines.join('\n')}\n`;
}
