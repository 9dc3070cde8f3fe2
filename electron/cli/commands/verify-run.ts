import { VERDICT_TEXT, type SetResult, type VerifyLevel } from '../../../shared/domain/verify';
import { LifeboatError } from '../../engine/errors';
import { runVerify } from '../../engine/verify/run';
import { withCliEngine } from '../engine';
import { foreignSecretsFor, type ForeignSecretOptions } from '../foreign-options';
import { readIdentities } from '../keys-io';
import { runFacts } from '../notify';
import { formatBytes, formatDuration, printJson, type CliIo } from '../output';
import { runAsJob } from '../run-job';
import { recoverability } from '../../engine/catalog/objectives';
import type { Sample } from '../../engine/monitor/metrics';

function line(r: SetResult): string {
  if (r.verdict === 'not-checked') return `SKIP  ${r.key}  not checked: ${r.detail ?? 'no reason given'}`;
  const head = `${r.verdict === 'ok' ? 'OK  ' : 'FAIL'}  ${r.key}  [${r.verdict}]`;
  return r.verdict === 'ok'
    ? `${head}${r.detail ? `  ${r.detail}` : ''}`
    : `${head}  ${VERDICT_TEXT[r.verdict]}${r.detail ? `: ${r.detail}` : ''}`;
}

export async function verifyWalCommand(
  io: CliIo,
  target: string,
  system: string,
  opts: { identity?: string[]; allowUnsignedWal?: boolean; passphraseFile?: string; json?: boolean },
): Promise<void> {
  const { verifyWalChain } = await import('../../engine/pitr/plan');
  const { pgbrKeysFor } = await import('../../engine/foreign/secrets');
  const { trustedKeys } = await import('../../engine/catalog/trust');
  const { openMedium } = await import('../../engine/storage/open-medium');
  const identities = readIdentities(opts.identity ?? []);
  const medium = await openMedium(target);
  await withCliEngine(async (engine) => {
    const keys = await pgbrKeysFor(system, { passphraseFile: opts.passphraseFile, keychain: engine.credentials });
    const r = await runAsJob(engine, io, { kind: 'verify', title: `WAL of ${system}` }, (ctx) =>
      verifyWalChain(medium, system, {
        identities,
        trust: { trusted: trustedKeys(engine.catalog), allowUnsigned: Boolean(opts.allowUnsignedWal) },
        pgBinDir: engine.settings().pgBinDir || undefined,
        pgbrKeys: keys,
        signal: ctx.signal,
        onFile: (done, total, bytes) => ctx.progress({ itemsDone: done, itemsTotal: total, bytesDone: bytes }),
      }),
    );
    runFacts.summary = `${r.files} WAL files of ${system}: ${r.ok ? 'the chain is intact' : `${r.corrupt.length} corrupt, ${r.gaps.length} gap(s), ${r.unsigned.length} not signed by a pinned key`}.`;
    if (opts.json) printJson(io, r);
    else {
      for (const c of r.corrupt) io.stdout.write(`FAIL  ${c.name}: ${c.reason}\n`);
      // Unsigned is a named state: listed (first 20) and counted, failing the check unless accepted.
      for (const u of r.unsigned.slice(0, 20))
        io.stdout.write(`${r.unsignedAccepted ? 'WARN' : 'FAIL'}  ${u.name}: ${u.state} (${u.reason})\n`);
      if (r.unsigned.length > 20)
        io.stdout.write(`      … and ${r.unsigned.length - 20} more not signed by a pinned key\n`);
      for (const g of r.gaps)
        io.stdout.write(`FAIL  gap on timeline ${g.timeline}: ${g.from}${g.from !== g.to ? `…${g.to}` : ''} missing\n`);
      for (const w of r.windows)
        io.stdout.write(`window from ${w.base}: ${w.from} → ${w.to ?? '—'} (${w.segments} contiguous segments)\n`);
      if (r.origin === 'pgbackrest')
        io.stdout.write('pgBackRest archive (foreign): every file decoded and its SHA-1 checked against its name\n');
      io.stdout.write(
        `${r.files} WAL files of ${system}, ${formatBytes(r.bytes)} decoded: ${r.ok ? 'the chain is intact' : r.files === 0 ? 'no WAL archived' : 'PROBLEMS above'}\n`,
      );
    }
    if (!r.ok) process.exitCode = 1;
  });
}

export async function verifyCommand(
  io: CliIo,
  target: string,
  opts: {
    level: VerifyLevel;
    identity?: string[];
    onlyNew?: boolean;
    olderThan?: number;
    jobs: number;
    json?: boolean;
    readDataSubset?: string;
    metricsFile?: string;
  } & ForeignSecretOptions,
): Promise<void> {
  if (!opts.metricsFile) {
    await verifyOnce(io, target, opts);
    return;
  }
  const { writeMetrics } = await import('../metrics');
  const labels = { target };
  const ended = (ok: boolean): Sample[] => [
    { name: 'lifeboat_verify_last_run_timestamp_seconds', labels, value: Math.round(Date.now() / 1000) },
    { name: 'lifeboat_verify_last_run_success', labels, value: ok ? 1 : 0 },
  ];
  let samples: Sample[];
  try {
    samples = await verifyOnce(io, target, opts);
  } catch (e) {
    await writeMetrics(io, opts.metricsFile, { set: ended(false) });
    throw e;
  }
  await writeMetrics(io, opts.metricsFile, {
    set: [...ended(process.exitCode === undefined || process.exitCode === 0), ...samples],
  });
}

async function verifyOnce(io: CliIo, target: string, opts: Parameters<typeof verifyCommand>[2]): Promise<Sample[]> {
  if (opts.readDataSubset !== undefined && !/^(\d+\/\d+|\d+(\.\d+)?%)$/.test(opts.readDataSubset))
    throw new LifeboatError('BAD_INPUT', '--read-data-subset takes n/t (e.g. 1/10) or a percentage (e.g. 5%).');
  if (opts.olderThan !== undefined && (!Number.isFinite(opts.olderThan) || opts.olderThan < 0))
    throw new LifeboatError('BAD_INPUT', '--older-than takes a number of days ≥ 0.');
  const identities = readIdentities(opts.identity ?? []);
  return withCliEngine(async (engine) => {
    const report = await runAsJob(engine, io, { kind: 'verify', title: `Verify ${target}` }, (ctx) =>
      runVerify(
        {
          catalog: engine.catalog,
          settings: engine.settings(),
          dataDir: engine.paths.dataDir,
          openMedium: engine.openMedium,
        },
        {
          target,
          level: opts.level,
          identities,
          onlyNew: Boolean(opts.onlyNew),
          olderThanDays: opts.olderThan ?? null,
          jobs: opts.jobs,
          secrets: foreignSecretsFor(engine, opts),
          resticReadDataSubset: opts.readDataSubset ?? null,
        },
        ctx,
      ),
    );
    const failed = report.results.filter((r) => r.verdict !== 'ok' && r.verdict !== 'not-checked');
    const notChecked = report.results.filter((r) => r.verdict === 'not-checked');
    const passed = report.results.filter((r) => r.verdict === 'ok');
    runFacts.summary = `${passed.length} of ${report.results.length} sets passed at ${opts.level} level${
      failed.length
        ? `; FAILED: ${failed
            .slice(0, 5)
            .map((r) => `${r.key} [${r.verdict}]`)
            .join(', ')}${failed.length > 5 ? ` and ${failed.length - 5} more` : ''}`
        : ''
    }${notChecked.length ? `; ${notChecked.length} not checked` : ''}${report.blocked.length ? `; not verified: ${report.blocked.join('; ')}` : ''}.`;
    if (opts.json) {
      printJson(io, {
        ok: failed.length === 0 && notChecked.length === 0 && report.blocked.length === 0,
        level: opts.level,
        sets: report.results.length,
        failed: failed.length,
        not_checked: notChecked.length,
        blocked: report.blocked,
        skipped: report.skipped,
        bytes: report.bytes,
        duration_ms: report.durationMs,
        bytes_per_second: report.bytesPerSecond,
        results: [...failed, ...notChecked, ...passed],
      });
    } else {
      // Failures first, in plain words; then what could not be checked here, and why.
      for (const r of [...failed, ...notChecked]) {
        io.stdout.write(`${line(r)}\n`);
        for (const a of r.artifacts.filter((x) => x.verdict !== 'ok'))
          io.stdout.write(
            `        ${a.path}: ${a.verdict === 'not-checked' ? 'not checked' : a.verdict}${a.detail ? ` — ${a.detail}` : ''}\n`,
          );
      }
      for (const r of passed) io.stdout.write(`${line(r)}\n`);
      const rate = report.bytesPerSecond ? `, ${formatBytes(report.bytesPerSecond)}/s` : '';
      const unchecked = notChecked.length ? `; ${notChecked.length} NOT CHECKED (nothing recorded for them)` : '';
      io.stdout.write(
        `${passed.length} of ${report.results.length} sets passed at ${opts.level} level${unchecked}; ${formatBytes(report.bytes)} read in ${formatDuration(report.durationMs / 1000)}${rate}${report.skipped.length ? `; ${report.skipped.length} skipped (${opts.onlyNew ? '--only-new' : '--older-than'})` : ''}\n`,
      );
    }
    // 1: a set failed (a fact about the backups). 2: no failure, but something could not be checked here (an environment reason): never 0.
    for (const b of report.blocked) if (!opts.json) io.stdout.write(`NOT VERIFIED ${b}\n`);
    if (failed.length > 0) process.exitCode = 1;
    else if (notChecked.length > 0 || report.blocked.length > 0) process.exitCode = 2;
    if (!opts.metricsFile) return [];
    const labels = { target };
    const samples: Sample[] = [
      { name: 'lifeboat_verify_sets', labels: { ...labels, result: 'ok' }, value: passed.length },
      { name: 'lifeboat_verify_sets', labels: { ...labels, result: 'failed' }, value: failed.length },
      { name: 'lifeboat_verify_sets', labels: { ...labels, result: 'not_checked' }, value: notChecked.length },
      { name: 'lifeboat_verify_bytes_read', labels, value: report.bytes },
      { name: 'lifeboat_verify_duration_seconds', labels, value: report.durationMs / 1000 },
    ];
    for (const r of recoverability(engine.catalog, engine.settings())) {
      if (r.newestVerifiedSet)
        samples.push({
          name: 'lifeboat_newest_verified_set_timestamp_seconds',
          labels: { system: r.system },
          value: Math.round(Date.parse(r.newestVerifiedSet.createdAt) / 1000),
        });
    }
    return samples;
  });
}
