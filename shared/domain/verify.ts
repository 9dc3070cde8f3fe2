import { z } from 'zod';

import type { ErrorCode } from '../errors';

import { VERIFY_LEVELS } from './verify-levels';

export { VERIFY_LEVELS, type VerifyLevel } from './verify-levels';

export const VERDICTS = [
  'ok',
  'missing',
  'size-mismatch',
  'corrupted',
  'unsigned',
  'untrusted-signer',
  'bad-signature',
  'undecryptable',
  'unreadable-dump',
  'unsafe-path',
  'restore-failed',
  'not-checked',
] as const;
export type Verdict = (typeof VERDICTS)[number];

/** What each verdict means, in the operator's words (CLI, UI, reports). */
export const VERDICT_TEXT: Record<Verdict, string> = {
  ok: 'passed',
  missing: 'a file of the set is missing',
  'size-mismatch': 'a file has the wrong size (truncated or extended)',
  corrupted: 'bytes do not match their recorded hash',
  unsigned: 'the set carries no signature',
  'untrusted-signer': 'signed by a key that is not pinned on this machine',
  'bad-signature': 'the signature does not match the manifest (edited or swapped)',
  undecryptable: 'cannot be decrypted with the given identities',
  'unreadable-dump': 'the dump cannot be read (incomplete, or refused by its own tool)',
  'unsafe-path': 'a path would escape its folder (.., absolute path or outside link)',
  'restore-failed': 'the test restore or its validation queries failed',
  // Not a fact about the set: the check could not be made here (cancelled, no matching key, a tool
  // missing or too old). Never recorded in the ledger, so no state or badge ever follows from it.
  'not-checked': 'not checked',
};

/**
 * The error code a failed verdict carries where it stops an action (a runbook's verify step, a
 * restore's deep check): the code the rest of Lifeboat gives the same fact, so a set signed by a
 * key that is not pinned is UNTRUSTED_SIGNER there as in a restore's refusal, never a checksum
 * mismatch. `ok` and `not-checked` stop nothing as facts about the set (not-checked is a precondition).
 */
export const VERDICT_ERROR: Record<Exclude<Verdict, 'ok'>, ErrorCode> = {
  missing: 'NOT_FOUND',
  'size-mismatch': 'CHECKSUM_MISMATCH',
  corrupted: 'CHECKSUM_MISMATCH',
  unsigned: 'UNTRUSTED_SIGNER',
  'untrusted-signer': 'UNTRUSTED_SIGNER',
  'bad-signature': 'SIGNATURE_INVALID',
  undecryptable: 'DECRYPTION_FAILED',
  'unreadable-dump': 'FORMAT_INVALID',
  'unsafe-path': 'UNSAFE_PATH',
  'restore-failed': 'DB_RESTORE_FAILED',
  'not-checked': 'PRECONDITION_FAILED',
};

/** True for verdicts that say something about the set (a pass or a failure), false for `not-checked`. */
export const isFact = (v: Verdict): boolean => v !== 'not-checked';

export const ArtifactResultSchema = z.object({
  path: z.string(),
  verdict: z.enum(VERDICTS),
  detail: z.string().nullable(),
  bytes: z.number(),
  sha256: z.string().nullable(),
  startedAt: z.string(),
  durationMs: z.number(),
});
export type ArtifactResult = z.infer<typeof ArtifactResultSchema>;

export const SetResultSchema = z.object({
  key: z.string(),
  system: z.string(),
  setId: z.string(),
  origin: z.string(),
  mediumId: z.string(),
  location: z.string(),
  setPath: z.string(),
  level: z.enum(VERIFY_LEVELS),
  verdict: z.enum(VERDICTS),
  detail: z.string().nullable(),
  artifacts: z.array(ArtifactResultSchema),
  startedAt: z.string(),
  durationMs: z.number(),
  bytes: z.number(),
  restore: z
    .object({
      durationMs: z.number(),
      database: z.string(),
      checks: z.array(z.object({ sql: z.string(), expect: z.string(), got: z.string().nullable(), ok: z.boolean() })),
    })
    .nullable(),
  /**
   * The named trust state at the authenticity level (foreign/trust.ts): "signed by … (pinned)", "unsigned", or for a
   * foreign set "foreign: trusted on first verification <date>" — a foreign state is never a failure. Null below authenticity.
   */
  trust: z.string().nullable().optional(),
});
export type SetResult = z.infer<typeof SetResultSchema>;
