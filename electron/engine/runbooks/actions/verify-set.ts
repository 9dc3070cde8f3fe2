import { z } from 'zod';
import { VERDICT_TEXT, VERIFY_LEVELS } from '../../../../shared/domain/verify';
import { LifeboatError } from '../../errors';
import { runVerify } from '../../verify/run';
import { defineAction } from './types';

/** verify.set: verify one set at a level (on a reachable medium holding it); fails unless it passes. */
export const verifySetAction = defineAction({
  params: z
    .object({
      set: z.string().min(1),
      level: z.enum(VERIFY_LEVELS).default('deep'),
      jobs: z.number().int().min(1).max(16).default(2),
    })
    .strict(),
  describe: (p) => `verify ${p.set} at ${p.level} level`,
  async run(p, ctx) {
    const { catalog, settings, dataDir, identities, openMedium } = ctx.deps;
    const report = await runVerify(
      { catalog, settings, dataDir, openMedium },
      {
        target: p.set,
        level: p.level,
        identities,
        onlyNew: false,
        olderThanDays: null,
        jobs: p.jobs,
        requireKeys: true,
      },
      { ...ctx, step: (s) => ctx.log('info', s) },
    );
    const r = report.results[0];
    if (!r) throw new LifeboatError('NOT_FOUND', `${p.set} was not found on the medium when verifying.`);
    const evidence = {
      key: r.key,
      level: r.level,
      verdict: r.verdict,
      detail: r.detail,
      medium: r.location,
      bytes: report.bytes,
      duration_ms: report.durationMs,
      bytes_per_second: report.bytesPerSecond,
      artifacts: r.artifacts.map((a) => ({ path: a.path, verdict: a.verdict, sha256: a.sha256, bytes: a.bytes })),
      restore: r.restore,
    };
    // Not checked (no key, a tool missing): the step cannot pass, but the set is not blamed.
    if (r.verdict === 'not-checked')
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `${r.key} could not be checked at ${r.level} level here: ${r.detail ?? 'no reason given'}.`,
        { hint: 'Give the missing key or install the missing tool, and run the step again.' },
      );
    if (r.verdict !== 'ok') {
      throw new LifeboatError(
        'CHECKSUM_MISMATCH',
        `${r.key} failed verification at ${r.level} level: ${VERDICT_TEXT[r.verdict]}${r.detail ? ` (${r.detail})` : ''}.`,
        {
          hint: 'Pick another set (an older one, or a copy on another medium) and do not restore this one.',
        },
      );
    }
    return evidence;
  },
});

/** Moved to catalog/ledger.ts; runner.ts still imports it from here. */
