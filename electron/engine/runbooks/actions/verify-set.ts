import { z } from 'zod';
import { VERDICT_ERROR, VERDICT_TEXT, VERIFY_LEVELS } from '../../../../shared/domain/verify';
import { LifeboatError } from '../../errors';
import { runVerify } from '../../verify/run';
import { defineAction } from './types';

/**
 * verify.set: verify one set at a level (on a reachable medium holding it); fails unless it passes.
 * With `one_pass: true` (a deep check followed by a `restore.pg-logical` of the same set with
 * `deep_check: true`, as the database-corruption runbook does), this step judges what needs no
 * read of the artifacts (manifest, SHA256SUMS, signature, presence and sizes: the authenticity
 * level) and the deep check runs with the restore, which reads and decodes the dump once and
 * records the deep verdict in the ledger (restore/deep-check.ts).
 */
export const verifySetAction = defineAction({
  params: z
    .object({
      set: z.string().min(1),
      level: z.enum(VERIFY_LEVELS).default('deep'),
      jobs: z.number().int().min(1).max(16).default(2),
      one_pass: z.boolean().default(false),
    })
    .strict()
    .refine((p) => !p.one_pass || p.level === 'deep', {
      message: 'one_pass applies to level: deep (the deep check then runs with the restore step)',
      path: ['one_pass'],
    }),
  describe: (p) =>
    p.one_pass
      ? `verify ${p.set}: manifest, signature and sizes now; the deep check runs with the restore, in one pass`
      : `verify ${p.set} at ${p.level} level`,
  async run(p, ctx) {
    const { catalog, settings, dataDir, identities, openMedium } = ctx.deps;
    const verify = (onePass: boolean): ReturnType<typeof runVerify> =>
      runVerify(
        { catalog, settings, dataDir, openMedium },
        {
          target: p.set,
          level: onePass ? 'authenticity' : p.level,
          planOnly: onePass,
          identities,
          onlyNew: false,
          olderThanDays: null,
          jobs: p.jobs,
          requireKeys: true,
        },
        { ...ctx, step: (s) => ctx.log('info', s) },
      );
    let report = await verify(p.one_pass);
    // One pass holds for Lifeboat sets (restore.pg-logical's deep_check); a foreign set is verified deep here.
    const onePass = p.one_pass && report.results[0]?.origin === 'lifeboat';
    if (p.one_pass && !onePass) report = await verify(false);
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
      ...(onePass
        ? { deep: 'deep check runs with the restore, in one pass (the restore step records its verdict)' }
        : {}),
    };
    // Not checked (no key, a tool missing): the step cannot pass, but the set is not blamed.
    if (r.verdict === 'not-checked')
      throw new LifeboatError(
        'PRECONDITION_FAILED',
        `${r.key} could not be checked at ${r.level} level here: ${r.detail ?? 'no reason given'}.`,
        { hint: 'Give the missing key or install the missing tool, and run the step again.' },
      );
    if (r.verdict !== 'ok') {
      const unpinned = r.verdict === 'untrusted-signer' || r.verdict === 'unsigned';
      throw new LifeboatError(
        VERDICT_ERROR[r.verdict],
        `${r.key} failed verification at ${r.level} level: ${VERDICT_TEXT[r.verdict]}${r.detail ? ` (${r.detail})` : ''}.`,
        {
          hint: unpinned
            ? 'If you know the signer, pin its key (lifeboat keys trust <file.pub>, or Settings → Pinned signing keys) and run the step again; else pick another set (an older one, or a copy on another medium).'
            : 'Pick another set (an older one, or a copy on another medium) and do not restore this one.',
        },
      );
    }
    return evidence;
  },
});

/** Moved to catalog/ledger.ts; runner.ts still imports it from here. */
