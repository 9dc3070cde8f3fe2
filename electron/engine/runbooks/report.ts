import { writeFileSync } from 'node:fs';
import { formatDuration, formatLocalTime } from '../../../shared/format';
import type { Catalog } from '../catalog/catalog';
import type { Settings } from '../settings/settings';
import { LIFEBOAT_VERSION } from '../version';
import { readJournal, verifyJournal } from './journal';
import { achievedOf, recovered, runSummary } from './clocks';
import type { RunRecord } from './types';

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v.toString();
  if (v === null || v === undefined) return '';
  return JSON.stringify(v);
}

const esc = (v: unknown): string =>
  text(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function dur(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined ? '—' : formatDuration(seconds);
}

/** A time for people (local, with the zone), or a dash. */
const at = (iso: string | null | undefined): string => (iso ? formatLocalTime(iso) : '—');

/** The headline a report opens with: the outcome in words an auditor cannot misread. */
function headline(status: string, exceptions: number): { text: string; cls: string } {
  if (status === 'succeeded') return { text: 'Succeeded: every step was done.', cls: 'ok' };
  if (status === 'completed-with-exceptions')
    return {
      text: `Completed with exceptions: ${exceptions} step${exceptions === 1 ? ' was' : 's were'} skipped by a person (see below). Not a clean pass.`,
      cls: 'warn',
    };
  if (status === 'cancelled') return { text: 'Cancelled: the run was ended before its last step.', cls: 'bad' };
  if (status === 'failed') return { text: 'Failed: a step failed and the run stopped there.', cls: 'bad' };
  return { text: `Not finished (${status}).`, cls: 'warn' };
}

function verdictClass(ok: boolean | null): string {
  return ok === null ? 'na' : ok ? 'ok' : 'bad';
}

/** Evidence worth showing for a step's output, in a few readable lines. */
function evidence(output: Record<string, unknown> | null): string {
  if (!output) return '';
  const rows: string[] = [];
  const add = (k: string, v: unknown): void => {
    if (v === null || v === undefined) return;
    if (typeof v === 'number' && !Number.isInteger(v)) v = Math.round(v * 10) / 10;
    rows.push(`<tr><th>${esc(k)}</th><td>${esc(typeof v === 'object' ? JSON.stringify(v) : v)}</td></tr>`);
  };
  for (const [k, v] of Object.entries(output)) {
    if (k === 'artifacts' && Array.isArray(v)) {
      for (const a of v as Array<{ path: string; verdict: string; sha256: string | null }>)
        add(`artifact ${a.path}`, `${a.verdict} · sha256 ${a.sha256 ?? '—'}`);
      continue;
    }
    if (k === 'checks' && Array.isArray(v)) {
      for (const c of v as Array<{ sql: string; expect: string; got: string | null; ok: boolean }>)
        add(c.ok ? 'check ok' : 'check FAILED', `${c.sql} → ${c.got ?? '—'} (expected ${c.expect})`);
      continue;
    }
    if (k === 'passed_over' && Array.isArray(v)) {
      for (const x of v as Array<{ key: string; reason: string }>) add('passed over', `${x.key}: ${x.reason}`);
      continue;
    }
    if (k === 'message') continue;
    add(k, v);
  }
  return `<table class="ev">${rows.join('')}</table>`;
}

/**
 * The recovery report: self-contained, printable HTML (no external fonts, scripts or images):
 * the runbook, inputs, each step with who/when/how long and its evidence, sign-offs, RTO/RPO
 * achieved against the objectives, the forecast against the actual time, and the journal's head
 * hash with the result of checking the chain.
 */
export function renderReport(
  catalog: Catalog,
  run: RunRecord,
  o: { settings?: Settings | null; now?: Date } = {},
): string {
  const now = o.now ?? new Date();
  const rb = run.state.runbook;
  // Judged by the system's tier (the runbook's objectives only when it has none): the same numbers as Overview.
  const summary = runSummary(catalog, o.settings ?? null, run);
  const head = headline(run.status, summary.exceptions.length);
  const journal = verifyJournal(catalog, run.id, run.state.journal);
  const events = readJournal(catalog, run.id);
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now.getTime();
  const elapsed = (end - Date.parse(run.incidentAt)) / 1000;
  const achieved = achievedOf(run);
  const newestSet = achieved.restored_point ?? summary.restoredPoint;
  const rpo = summary.rpoAchievedSeconds;
  const rtoOk = run.finishedAt && recovered(run) ? elapsed <= summary.rtoSeconds : null;
  const rpoOk = rpo === null ? null : rpo <= summary.rpoSeconds;
  const f = run.state.forecast;
  const stepRows = rb.steps
    .map((s, i) => {
      const st = run.state.steps[s.id]!;
      const took = st.startedAt && st.finishedAt ? (Date.parse(st.finishedAt) - Date.parse(st.startedAt)) / 1000 : null;
      const expected = s.expected ?? f?.parts.find((p) => p.step === s.id)?.seconds ?? null;
      const who = st.signoff
        ? `${esc(st.by)}${st.signoff !== st.by ? ` (signed: ${esc(st.signoff)})` : ''}`
        : esc(st.by ?? '');
      const details: string[] = [];
      if (s.kind === 'manual' && s.checklist.length)
        details.push(
          `<ul class="check">${s.checklist.map((c, j) => `<li>${st.ticks.includes(j) ? '☑' : '☐'} ${esc(c)}</li>`).join('')}</ul>`,
        );
      if (st.skipReason)
        details.push(
          `<p class="warn">Skipped by ${esc(st.by)}${st.skipApprovedBy ? `, approved by ${esc(st.skipApprovedBy)}` : ''}: ${esc(st.skipReason)}</p>`,
        );
      if (s.kind === 'communicate' && st.output?.sent_by)
        details.push(
          `<p>Sent by ${esc(st.output.sent_by)} via ${esc(st.output.sent_via)} at ${esc(at(text(st.output.sent_at)))}.</p>`,
        );
      if (st.error) details.push(`<p class="bad">${esc(st.error.code)}: ${esc(st.error.message)}</p>`);
      if (st.condition) details.push(`<p class="warn">Target left: ${esc(st.condition)}</p>`);
      if (s.kind === 'communicate' && st.output?.message) details.push(`<pre>${esc(st.output.message)}</pre>`);
      if (s.kind === 'action') details.push(evidence(st.output));
      if (st.confirmation) details.push(`<p>Confirmed by typing “${esc(st.confirmation)}”.</p>`);
      return `<tr class="st-${esc(st.status)}"><td>${i + 1}</td><td><b>${esc(s.title)}</b><br><span class="muted">${esc(s.id)} · ${esc(s.kind === 'action' ? s.action : s.kind === 'gate' ? `gate: ${s.gate}` : s.kind)}</span>${details.join('')}</td><td>${esc(st.status)}</td><td>${who}</td><td>${esc(at(st.startedAt))}</td><td>${dur(took)}</td><td>${dur(expected)}</td></tr>`;
    })
    .join('');
  const signoffs = rb.steps
    .filter((s) => run.state.steps[s.id]?.signoff)
    .map(
      (s) =>
        `<li>${esc(s.title)}: <b>${esc(run.state.steps[s.id]!.signoff)}</b> at ${esc(at(run.state.steps[s.id]!.finishedAt))}${s.kind === 'manual' && s.signoff ? ` (${esc(s.signoff.role)})` : ''}</li>`,
    )
    .join('');
  const autoAnswered = events.filter((e) => e.data.auto === true).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Recovery report — ${esc(rb.title)} — ${esc(run.id)}</title>
<style>
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;margin:24px;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 8px;border-bottom:1px solid #ccd;padding-bottom:3px}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #d5d8de;padding:4px 6px;vertical-align:top;text-align:left;overflow-wrap:anywhere}
th{background:#f3f4f6}.muted{color:#667}.ok{color:#116329;font-weight:600}.bad{color:#b42318;font-weight:600}.warn{color:#9a6700}.na{color:#667}
.headline{font-size:15px;padding:8px 12px;border:1px solid #ccd;border-radius:4px}
table.summary{width:auto}table.summary td,table.summary th{padding:4px 12px}
.banner{padding:8px 12px;border-radius:4px;margin:10px 0;font-weight:600}.drill{background:#fff4d6;border:1px solid #e3b341}.live{background:#fde8e8;border:1px solid #d45}
table.ev{margin-top:6px;font-size:12px}table.ev th{width:170px;font-weight:500}pre{white-space:pre-wrap;background:#f6f8fa;padding:6px;border:1px solid #e1e4e8}
ul.check{margin:4px 0;padding-left:18px;list-style:none}code{font-family:ui-monospace,monospace;word-break:break-all}
@media print{body{margin:0}.banner{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
</style></head><body>
<h1>${esc(rb.title)}</h1>
<div class="muted">Run <code>${esc(run.id)}</code> · runbook <code>${esc(rb.id)}</code> (${esc(run.state.runbookSource)}, sha256 <code>${esc(run.state.runbookSha256.slice(0, 16))}…</code>) · incident level ${rb.level} · Lifeboat ${esc(LIFEBOAT_VERSION)}</div>
<div class="banner ${run.drill ? 'drill' : 'live'}">${run.drill ? 'DRILL — restores went only into scratch targets Lifeboat created and removed.' : 'LIVE RUN — this run acted on real targets.'}${autoAnswered ? ` ${autoAnswered} step answer(s) were given automatically (--yes, drill only).` : ''}</div>
<p class="headline ${head.cls}" data-status="${esc(run.status)}">${esc(head.text)}</p>
<h2>Summary</h2>
<table class="summary">
<tr><th></th><th>Objective (${esc(summary.objectivesFrom)})</th><th>Achieved</th></tr>
<tr><th>RTO (incident → end)</th><td>${dur(summary.rtoSeconds)}</td><td class="${verdictClass(summary.rtoOk)}">${summary.rtoAchievedSeconds === null ? 'not finished' : dur(summary.rtoAchievedSeconds)}${summary.rtoOk === false ? ' — over the objective' : ''}</td></tr>
<tr><th>RPO (incident − restored point)</th><td>${dur(summary.rpoSeconds)}</td><td class="${verdictClass(summary.rpoOk)}">${summary.rpoAchievedSeconds === null ? 'no set restored or selected' : dur(summary.rpoAchievedSeconds)}${summary.rpoOk === false ? ' — over the objective' : ''}</td></tr>
<tr><th>Measured restore time</th><td>${dur(summary.rtoSeconds)} (RTO)</td><td class="${verdictClass(summary.restoreOk)}">${summary.restoreSeconds === null ? 'no restore ran' : dur(summary.restoreSeconds)}</td></tr>
</table>
${summary.exceptions.length ? `<h3>Exceptions</h3><ul class="exceptions">${summary.exceptions.map((x) => `<li><b>${esc(x.title)}</b> skipped by ${esc(x.by)}${x.approvedBy ? `, approved by ${esc(x.approvedBy)}` : ''}: ${esc(x.reason)}</li>`).join('')}</ul>` : ''}
<p>${esc(rb.description)}</p>
<h2>Outcome</h2>
<table>
<tr><th>Status</th><td class="${head.cls}">${esc(run.status)}</td><th>Operator</th><td>${esc(run.operator)}</td></tr>
<tr><th>Incident declared</th><td>${esc(at(run.incidentAt))}</td><th>Run started / finished</th><td>${esc(at(run.startedAt))} / ${esc(run.finishedAt ? at(run.finishedAt) : 'not finished')}</td></tr>
<tr><th>RTO objective</th><td>${dur(summary.rtoSeconds)}</td><th>Achieved (incident → end)</th><td class="${verdictClass(rtoOk)}">${run.finishedAt ? dur(elapsed) : `${dur(elapsed)} so far`}${rtoOk === false ? ' — over the objective' : ''}</td></tr>
<tr><th>RPO objective</th><td>${dur(summary.rpoSeconds)}</td><th>Achieved (incident − restored set's time)</th><td class="${verdictClass(rpoOk)}">${rpo === null ? 'no set restored or selected' : `${dur(rpo)} (set of ${esc(at(newestSet))})`}</td></tr>
<tr><th>Forecast</th><td>${f?.seconds !== null && f?.seconds !== undefined ? dur(f.seconds) : 'not enough measurements'}</td><th>Actual (run start → end)</th><td>${dur(((run.finishedAt ? Date.parse(run.finishedAt) : now.getTime()) - Date.parse(run.startedAt)) / 1000)}</td></tr>
</table>
${f ? `<details><summary>How the forecast was made</summary><ul>${f.parts.map((p) => `<li>${esc(p.step)}: ${dur(p.seconds)} — ${esc(p.basis)}</li>`).join('')}</ul></details>` : ''}
<h2>Inputs</h2>
<table>${
    Object.entries(run.inputs)
      .map(
        ([k, v]) =>
          `<tr><th>${esc(rb.inputs.find((i) => i.id === k)?.label ?? k)}</th><td><code>${esc(v)}</code></td></tr>`,
      )
      .join('') || '<tr><td>none</td></tr>'
  }</table>
<h2>Steps</h2>
<table><tr><th>#</th><th>Step and evidence</th><th>Status</th><th>Who</th><th>Started</th><th>Took</th><th>Planned</th></tr>${stepRows}</table>
<h2>Sign-offs</h2>
${signoffs ? `<ul>${signoffs}</ul>` : '<p class="muted">No sign-offs.</p>'}
<h2>Journal</h2>
<p>${journal.events} events; head hash <code>${esc(journal.headHash)}</code>. Chain check: <span class="${journal.ok ? 'ok' : 'bad'}">${journal.ok ? 'intact' : `BROKEN — ${esc(journal.problems.join('; '))}`}</span>. Re-check with <code>lifeboat journal verify ${esc(run.id)}</code>.</p>
<table><tr><th>#</th><th>When</th><th>Who</th><th>What</th></tr>${events.map((e) => `<tr><td>${e.seq}</td><td>${esc(at(e.at))}</td><td>${esc(e.actor)}</td><td>${esc(e.type)}${typeof e.data.step === 'string' ? ` · ${esc(e.data.step)}` : ''}</td></tr>`).join('')}</table>
<p class="muted">Generated ${esc(at(now.toISOString()))} by Lifeboat ${esc(LIFEBOAT_VERSION)}.</p>
</body></html>
`;
}

/** Reports written during the run are rewritten once it has ended, so the file shows the outcome and the final journal head. */
export function rewriteRunReports(catalog: Catalog, run: RunRecord, settings: Settings): void {
  const html = renderReport(catalog, run, { settings });
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
