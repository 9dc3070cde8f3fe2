import { z } from 'zod';
import { VERIFY_LEVELS } from '../../../../shared/domain/verify';
import { cleanCandidate, judgeSystem } from '../../catalog/trends';
import { indicatorThresholds } from '../../settings/settings';
import { trustedKeys } from '../../catalog/trust';
import { LifeboatError } from '../../errors';
import { evidenceOf, factsOfDescription, judgeTrust, signatureFacts, type Trust } from '../../foreign/trust';
import { ledgerOf } from '../../catalog/ledger';
import { setCandidates } from '../../catalog/lookups';
import { levelRank } from '../../verify/verify';
import { openSetCopy } from '../../restore/set-access';
import { defineAction } from './types';

const Iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'a date and time (ISO 8601)');

/**
 * catalog.select-set: the newest set of a system meeting the conditions — verified at a level,
 * trusted by the one trust rule (foreign/trust.ts) with `signed`: a Lifeboat set signed by a pinned
 * key (the signature is checked now, not taken from the scan), a foreign set verified successfully
 * before (its named state; never "signed", never failed as unsigned), created
 * before a time. Every newer set passed over is listed with the reason: in the ransomware case
 * that list is the evidence for "the last clean copy before the compromise". Unless `suspicious:
 * true`, the ransomware indicator's verdicts count too (catalog/trends.ts): the first set of the
 * newest run of suspicious sets and every set after it are passed over, so the proposal is the
 * last set before it, and `clean_candidate` says why.
 */
export const selectSet = defineAction({
  params: z
    .object({
      system: z.string().min(1),
      kind: z.string().min(1).default('pg-logical'),
      verified: z.union([z.boolean(), z.enum(VERIFY_LEVELS)]).default(false),
      signed: z.boolean().default(false),
      before: Iso.optional(),
      /** Also take sets the ransomware indicator flagged, and those after them (default: passed over). */
      suspicious: z.boolean().default(false),
    })
    .strict(),
  describe: (p) =>
    `choose the newest ${p.kind} set of ${p.system}${p.verified ? `, verified${typeof p.verified === 'string' ? ` at ${p.verified}` : ''}` : ''}${p.signed ? ', signed by a pinned key (a foreign set: verified before)' : ''}${p.before ? `, created before ${p.before}` : ''}`,
  async run(p, ctx) {
    const { catalog } = ctx.deps;
    const minLevel = p.verified === true ? 'integrity' : p.verified === false ? null : p.verified;
    const rows = setCandidates(catalog, p.system, p.kind);
    if (rows.length === 0) {
      throw new LifeboatError(
        'NOT_FOUND',
        `The catalog holds no ${p.kind} set of ${p.system} on any medium it has seen.`,
        {
          hint: 'Scan the media that hold it (lifeboat scan <medium>), or check the system name with lifeboat systems.',
        },
      );
    }
    const trusted = new Map(trustedKeys(catalog).map((k) => [k.keyId, k]));
    const ledger = ledgerOf(catalog);
    const before = p.before ? Date.parse(p.before) : null;
    // Judged again with the thresholds the settings hold now (an operator may just have tuned them).
    const flagged = p.suspicious
      ? null
      : cleanCandidate(judgeSystem(catalog, p.system, indicatorThresholds(ctx.deps.settings, p.system)), [p.kind]);
    const flaggedFrom = flagged ? Date.parse(flagged.firstSuspicious.createdAt) : null;
    if (flagged) ctx.log('warn', flagged.why);
    const passedOver: Array<{ key: string; createdAt: string; reason: string }> = [];
    for (const c of rows) {
      ctx.signal.throwIfAborted();
      const reasons: string[] = [];
      if (before !== null && Date.parse(c.createdAt) >= before) reasons.push(`made at or after ${p.before}`);
      if (flagged && flaggedFrom !== null && Date.parse(c.createdAt) >= flaggedFrom)
        reasons.push(
          c.key === flagged.firstSuspicious.key
            ? `flagged suspicious by the ransomware indicator: ${flagged.firstSuspicious.reasons.join('; ')}`
            : `made at or after ${flagged.firstSuspicious.setId}, the first suspicious set`,
        );
      if (minLevel && (!c.verifiedLevel || levelRank(c.verifiedLevel as never) < levelRank(minLevel)))
        reasons.push(
          c.verifiedLevel ? `verified only at ${c.verifiedLevel}` : 'never verified (or its last verification failed)',
        );
      // The one trust rule (foreign/trust.ts): `signed` asks for a set a restore may read without an override.
      let trust: Trust | null = null;
      if (c.origin !== 'lifeboat') {
        trust = judgeTrust({
          origin: c.origin,
          evidence: evidenceOf(factsOfDescription(c.facts)),
          firstVerified: ledger.firstGood(c.key),
        });
        if (p.signed && trust.restore !== 'allowed') reasons.push(trust.why ?? trust.text);
      } else if (p.signed && !c.signer) reasons.push('unsigned');
      else if (p.signed && c.signer && !trusted.has(c.signer))
        reasons.push(`signed by ${c.signer}, a key that is not pinned`);
      if (reasons.length === 0 && p.signed && c.origin === 'lifeboat') {
        // The scan only read the signer's key id: check the signature itself on a reachable copy.
        const copy = await openSetCopy(catalog, c.key, ctx.deps.openMedium);
        const sig = await copy.medium.readOptional(`${copy.setPath}/manifest.json.sig`);
        trust = judgeTrust({
          origin: 'lifeboat',
          signature: signatureFacts(sig, copy.manifestBytes, [...trusted.values()]),
        });
        if (trust.state !== 'signed')
          reasons.push(trust.state === 'bad-signature' ? 'its signature does not verify' : trust.text);
      }
      if (reasons.length) {
        passedOver.push({ key: c.key, createdAt: c.createdAt, reason: reasons.join('; ') });
        continue;
      }
      ctx.log(
        'info',
        `selected ${c.key} (${c.createdAt})${passedOver.length ? `; passed over ${passedOver.length} newer set(s)` : ''}`,
      );
      return {
        key: c.key,
        set_id: c.setId,
        system: p.system,
        kind: c.kind,
        created_at: c.createdAt,
        bytes: c.bytes,
        signer: c.signer,
        verified_level: c.verifiedLevel,
        trust: trust?.text ?? null,
        candidates: rows.length,
        passed_over: passedOver,
        clean_candidate: flagged ? flagged.why : null,
      };
    }
    throw new LifeboatError(
      'NOT_FOUND',
      `No ${p.kind} set of ${p.system} meets the conditions (${rows.length} considered).`,
      {
        hint: passedOver
          .slice(0, 5)
          .map((x) => `${x.key}: ${x.reason}`)
          .join('; '),
      },
    );
  },
});
