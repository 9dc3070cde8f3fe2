import { z } from 'zod';
import { SET_KINDS } from './kinds';

export const SetFilterSchema = z
  .object({
    system: z.string().max(100).optional(),
    kind: z.enum(SET_KINDS).optional(),
    since: z.iso.datetime().optional(),
    until: z.iso.datetime().optional(),
    medium: z.string().max(200).optional(),
    verified: z.boolean().optional(),
    signed: z.boolean().optional(),
    limit: z.number().int().positive().max(1_000_000).optional(),
  })
  .strict();

export const SetRowSchema = z.object({
  key: z.string(),
  setId: z.string(),
  system: z.string(),
  kind: z.string(),
  origin: z.string(),
  tier: z.string().nullable(),
  createdAt: z.string(),
  bytes: z.number(),
  artifacts: z.number(),
  signed: z.boolean(),
  signerKeyId: z.string().nullable(),
  encrypted: z.boolean(),
  parentKey: z.string().nullable(),
  media: z.number(),
  missingFrom: z.number(),
  verified: z.boolean(),
  /** The ransomware indicator's reasons; empty when the set is not suspicious. */
  suspicious: z.array(z.string()).default([]),
});
export type SetRow = z.infer<typeof SetRowSchema>;

export const WhereSchema = z.object({
  key: z.string(),
  rows: z.array(
    z.object({
      mediumId: z.string(),
      label: z.string().nullable(),
      kind: z.string(),
      location: z.string(),
      setPath: z.string(),
      firstSeen: z.string(),
      lastSeen: z.string(),
      missingSince: z.string().nullable(),
      mediumLastSync: z.string().nullable(),
      lastVerification: z.object({ level: z.string(), verdict: z.string(), at: z.string() }).nullable(),
    }),
  ),
});

export const SystemRowSchema = z.object({
  system: z.string(),
  tier: z.string().nullable(),
  sets: z.number(),
  newestSet: z.object({ key: z.string(), createdAt: z.string() }).nullable(),
  newestVerifiedSet: z.object({ key: z.string(), createdAt: z.string() }).nullable(),
  rpoMinutes: z.number().nullable(),
  ageMinutes: z.number().nullable(),
  status: z.enum(['ok', 'late', 'unverified', 'no-sets']),
  reason: z.string(),
  /** The WAL archive seen for the system (point-in-time recovery), newest scan per medium. */
  wal: z.array(
    z.object({
      mediumId: z.string(),
      label: z.string().nullable(),
      files: z.number(),
      bytes: z.number(),
      lastSegment: z.string().nullable(),
      lastArchivedAt: z.string().nullable(),
      gaps: z.number(),
      timelines: z.array(z.number()),
      scannedAt: z.string(),
    }),
  ),
});

export const FileHitSchema = z.object({
  path: z.string(),
  size: z.number(),
  mtime: z.string().nullable(),
  setKey: z.string(),
  system: z.string(),
  createdAt: z.string(),
});

export const MediumRowSchema = z.object({
  id: z.string(),
  label: z.string().nullable(),
  kind: z.string(),
  location: z.string(),
  sets: z.number(),
  missingSets: z.number(),
  bytes: z.number(),
  firstSeen: z.string(),
  lastSeen: z.string().nullable(),
  lastSync: z.string().nullable(),
  lastError: z.string().nullable(),
  unreadable: z.number(),
  lastVerifiedAt: z.string().nullable(),
  failingSets: z.number(),
});

/** One set in full: what the catalog recorded from its manifest, its artifacts with their hashes, the signer, every verification. */
export const SetDetailSchema = z.object({
  set: SetRowSchema,
  finishedAt: z.string().nullable(),
  /** The manifest's facts (source database, server version, host, warnings...), as recorded. */
  facts: z.record(z.string(), z.unknown()),
  signer: z.object({ keyId: z.string(), pinned: z.boolean(), label: z.string().nullable() }).nullable(),
  artifacts: z.array(
    z.object({
      path: z.string(),
      role: z.string(),
      bytes: z.number(),
      sha256: z.string().nullable(),
      plainBytes: z.number().nullable(),
      plainSha256: z.string().nullable(),
      encodings: z.string(),
    }),
  ),
  verifications: z.array(
    z.object({
      mediumId: z.string(),
      level: z.string(),
      verdict: z.string(),
      at: z.string(),
      durationMs: z.number(),
      detail: z.string().nullable(),
    }),
  ),
});
export type SetDetail = z.infer<typeof SetDetailSchema>;

/** The PITR planner's answer for a system (see electron/engine/pitr/plan.ts). */
export const PitrPlanSchema = z.object({
  system: z.string(),
  medium: z.string(),
  bases: z.array(
    z.object({
      setId: z.string(),
      setPath: z.string(),
      timeline: z.number(),
      startLsn: z.string(),
      stopLsn: z.string(),
      startedAt: z.string(),
      finishedAt: z.string(),
      serverMajor: z.number(),
      segmentBytes: z.number(),
      bytes: z.number(),
    }),
  ),
  timelines: z.array(
    z.object({
      timeline: z.number(),
      parent: z.number().nullable(),
      switchLsn: z.string().nullable(),
      segments: z.number(),
      first: z.string().nullable(),
      last: z.string().nullable(),
    }),
  ),
  gaps: z.array(z.object({ timeline: z.number(), from: z.string(), to: z.string() })),
  windows: z.array(
    z.object({
      base: z.string(),
      timeline: z.number(),
      from: z.string(),
      to: z.string().nullable(),
      toBasis: z.string(),
      lastSegment: z.string(),
      segments: z.number(),
    }),
  ),
  idle: z.array(z.object({ after: z.string(), before: z.string(), minutes: z.number() })),
  target: z.unknown().nullable(),
  warnings: z.array(z.string()),
});
export type PitrPlanView = z.infer<typeof PitrPlanSchema>;
