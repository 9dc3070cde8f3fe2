import { z } from 'zod';
import { AppInfoSchema, OverviewSchema, ToolStatusSchema } from '../domain/app';
import {
  FileHitSchema,
  MediumRowSchema,
  PitrPlanSchema,
  SetDetailSchema,
  SetFilterSchema,
  SetRowSchema,
  SystemRowSchema,
  WhereSchema,
} from '../domain/catalog';
import { JobSnapshotSchema } from '../domain/jobs';
import { LibraryEntrySchema, RunSummarySchema, RunViewSchema } from '../domain/runs';
import {
  AzureMediumSettingsSchema,
  CredentialsViewSchema,
  S3MediumSettingsSchema,
  SettingsViewSchema,
  ValidationSchema,
  VerificationRowSchema,
} from '../domain/settings';
import { RecoverabilitySchema } from '../domain/recoverability';
import { SystemTrendSchema } from '../domain/trends';
import { VERIFY_LEVELS } from '../domain/verify';
import { CHANNEL_NAMES, JOB_EVENT_CHANNEL, ipcChannel, type ChannelName } from './channels';

const Empty = z.object({}).strict();
const JobId = z.object({ id: z.string().min(1).max(100) }).strict();
const RunId = z.object({ id: z.string().min(1).max(100) }).strict();
/** The name part of a keychain reference (age:<name>, signing:<name>). */
const KEY_NAME = /^[A-Za-z0-9._-]{1,120}$/;
const KEY_NAME_WHAT = 'letters, digits, dots, dashes and underscores (up to 120)';

interface ChannelDef {
  /** One line for the reviewer and the surface snapshot. */
  doc: string;
  input: z.ZodType;
  output: z.ZodType;
}

/**
 * The IPC contract, declared once. Main registers one handler per entry and validates every
 * input and output against these schemas; the preload exposes one function per entry; the
 * web bridge serves the same entries. A test keeps the three in step and snapshots the surface.
 */
export const contract = {
  getAppInfo: {
    doc: 'Version, data directory and runtime of the engine serving this window.',
    input: Empty,
    output: AppInfoSchema,
  },
  getOverview: {
    doc: 'Catalog counts and keychain status for the Overview screen.',
    input: Empty,
    output: OverviewSchema,
  },
  getToolStatus: {
    doc: 'External tools Lifeboat drives (pg_dump, pg_restore, tar...) with their paths and versions.',
    input: Empty,
    output: z.array(ToolStatusSchema),
  },
  startSelfCheck: {
    doc: 'Start a job that checks the catalog integrity, the keychain and the tools.',
    input: Empty,
    output: JobSnapshotSchema,
  },
  listJobs: {
    doc: 'Snapshots of every job of this engine, newest first.',
    input: Empty,
    output: z.array(JobSnapshotSchema),
  },
  getJob: {
    doc: 'The current snapshot of one job.',
    input: JobId,
    output: JobSnapshotSchema,
  },
  cancelJob: {
    doc: 'Ask a running job to stop; it settles as cancelled.',
    input: JobId,
    output: z.object({ cancelled: z.boolean() }),
  },
  // Keys, jobs and WAL checks (issue 21, U1).
  createAgeIdentity: {
    doc: 'Generate an age identity and store it in the keychain as age:<name>; answers its recipient (age1…), never the secret.',
    input: z.object({ name: z.string().regex(KEY_NAME, KEY_NAME_WHAT) }).strict(),
    output: z.object({ account: z.string(), keyId: z.string(), recipient: z.string() }),
  },
  createSigningKey: {
    doc: 'Generate an Ed25519 signing key, store it in the keychain as signing:<name> and (by default) pin its public key here.',
    input: z
      .object({
        name: z.string().regex(KEY_NAME, KEY_NAME_WHAT),
        label: z.string().max(200).optional(),
        trust: z.boolean().default(true),
      })
      .strict(),
    output: z.object({ account: z.string(), keyId: z.string(), publicKeyPem: z.string(), pinned: z.boolean() }),
  },
  exportKey: {
    doc: 'Write a keychain key to a new file (mode 600) the engine creates, for escrow or a backup server; the secret never crosses IPC.',
    input: z
      .object({ account: z.string().regex(/^(age|signing):[A-Za-z0-9._-]{1,120}$/), path: z.string().min(1).max(4096) })
      .strict(),
    output: z.object({ path: z.string(), publicPath: z.string().nullable() }),
  },
  startVerifyWal: {
    doc: "Start a job checking a system's WAL archive on a medium (contiguity, hashes, signatures), as `lifeboat verify --wal`.",
    input: z
      .object({
        location: z.string().min(1).max(4096),
        system: z.string().min(1).max(100),
        allowUnsigned: z.boolean().default(false),
        identityFiles: z.array(z.string().max(4096)).max(10).default([]),
      })
      .strict(),
    output: JobSnapshotSchema,
  },
  startScan: {
    doc: 'Start a job that scans a medium (folder path, s3://bucket/prefix or azure://container/prefix) into the catalog.',
    input: z.object({ location: z.string().min(1).max(4096) }).strict(),
    output: JobSnapshotSchema,
  },
  listSets: {
    doc: 'Backup sets from the offline catalog, newest first, filtered.',
    input: SetFilterSchema,
    output: z.array(SetRowSchema),
  },
  whereIsSet: {
    doc: 'Every medium holding a set (by key or set id), last seen, verified there or not.',
    input: z.object({ set: z.string().min(1).max(300) }).strict(),
    output: WhereSchema,
  },
  listSystems: {
    doc: 'Per system: newest set, newest verified set, age against the RPO.',
    input: Empty,
    output: z.array(SystemRowSchema),
  },
  findFiles: {
    doc: 'A glob over every indexed file path of file sets, newest set first.',
    input: z.object({ glob: z.string().min(1).max(500), system: z.string().max(100).optional() }).strict(),
    output: z.array(FileHitSchema),
  },
  listMedia: {
    doc: 'Every medium the catalog knows, with set counts, bytes and last scan.',
    input: Empty,
    output: z.array(MediumRowSchema),
  },
  startVerify: {
    doc: 'Start a job verifying a medium, a set folder or a set id at a level; the result lists every set verdict.',
    input: z
      .object({
        target: z.string().min(1).max(4096),
        level: z.enum(VERIFY_LEVELS),
        /** Paths of age identity files (the files stay where they are; their content never crosses IPC). */
        identityFiles: z.array(z.string().max(4096)).max(10).default([]),
        onlyNew: z.boolean().default(false),
        olderThanDays: z.number().nonnegative().nullable().default(null),
        jobs: z.number().int().min(1).max(64).default(2),
        /** Also use every age identity in the keychain (unless false): a saved key is used without being chosen. */
        useKeychain: z.boolean().optional(),
      })
      .strict(),
    output: JobSnapshotSchema,
  },
  listRunbooks: {
    doc: "The runbook library: built-ins and the operator's folder, with inputs (invalid files listed with why).",
    input: Empty,
    output: z.array(LibraryEntrySchema),
  },
  listRuns: {
    doc: 'Runs of runbooks, newest first; open ones can be resumed.',
    input: Empty,
    output: z.array(RunSummarySchema),
  },
  getRun: {
    doc: 'One run: every step with its state, what a waiting step needs, clocks, forecast, journal head.',
    input: RunId,
    output: RunViewSchema,
  },
  startRun: {
    doc: 'Start a run of a runbook with typed inputs (drill or live) and a job that advances it until a person is needed.',
    input: z
      .object({
        runbook: z.string().min(1).max(4096),
        inputs: z.record(z.string().max(60), z.string().max(4096)).default({}),
        drill: z.boolean(),
        operator: z.string().max(200).optional(),
        /** Paths of age identity files (their content never crosses IPC). */
        identityFiles: z.array(z.string().max(4096)).max(10).default([]),
        /** The operator's confirmed choice to restore sets not signed by a pinned key (journaled as run.override). */
        allowUnsigned: z.boolean().optional(),
      })
      .strict(),
    output: z.object({ run: RunViewSchema, job: JobSnapshotSchema }),
  },
  advanceRun: {
    doc: 'Continue a run (after a wait, a failure, a pause or a restart) as a job.',
    input: RunId.extend({ identityFiles: z.array(z.string().max(4096)).max(10).default([]) }).strict(),
    output: JobSnapshotSchema,
  },
  respondStep: {
    doc: "A person's answer to the waiting step (ticks, sign-off, typed confirmation), then a job that continues the run.",
    input: RunId.extend({
      step: z.string().min(1).max(100),
      ticks: z.array(z.number().int().nonnegative()).max(200).optional(),
      signoff: z.string().max(200).optional(),
      confirmation: z.string().max(4096).optional(),
      /** A communicate step: how the message was sent (who sent it is `signoff`). */
      sentVia: z.string().max(200).optional(),
      operator: z.string().max(200).optional(),
    }).strict(),
    output: JobSnapshotSchema,
  },
  skipStep: {
    doc: 'Skip a step with a reason (journaled with who did it); a live run or a sign-off needs a second named person.',
    input: RunId.extend({
      step: z.string().min(1).max(100),
      reason: z.string().min(1).max(2000),
      operator: z.string().max(200).optional(),
      secondPerson: z.string().max(200).optional(),
    }).strict(),
    output: RunViewSchema,
  },
  cancelRun: {
    doc: "End a run for good with a reason; a drill's scratch targets are removed.",
    input: RunId.extend({ reason: z.string().min(1).max(2000), operator: z.string().max(200).optional() }).strict(),
    output: RunViewSchema,
  },
  getRunReport: {
    doc: "The run's recovery report as self-contained HTML (shown in a sandboxed frame; exported or printed to PDF).",
    input: RunId,
    output: z.object({ html: z.string() }),
  },
  listCredentials: {
    doc: 'Keychain state and the credential references it holds (never a secret).',
    input: Empty,
    output: CredentialsViewSchema,
  },
  saveCredential: {
    doc: 'Store a secret in the OS keychain under a reference; the secret goes in once and never comes back out.',
    input: z
      .object({
        account: z.string().regex(/^(pg|s3|azure|age|signing):[A-Za-z0-9._-]{1,120}$/, 'a reference like pg:prod-db'),
        secret: z.string().min(1).max(65536),
        /** pg: the target URL without a password, saved in settings. */
        url: z.string().max(4096).optional(),
        /** s3: the access key id (the secret is the secret access key); azure: the storage account name (the secret is its key or a SAS token; none with a connection string). */
        accessKeyId: z.string().max(200).optional(),
        label: z.string().max(200).optional(),
      })
      .strict(),
    output: z.object({ account: z.string(), saved: z.boolean() }),
  },
  deleteCredential: {
    doc: 'Remove a secret from the keychain (and a pg target from settings).',
    input: z.object({ account: z.string().min(1).max(200) }).strict(),
    output: z.object({ deleted: z.boolean() }),
  },
  testCredential: {
    doc: 'Try a stored credential: connect to the PostgreSQL target, parse the age identity or signing key; says what worked.',
    input: z.object({ account: z.string().min(1).max(200) }).strict(),
    output: z.object({ ok: z.boolean(), detail: z.string() }),
  },
  getSettings: {
    doc: 'Operator name, PostgreSQL tools directory (with the detected version), objectives per tier, data directory, pinned keys.',
    input: Empty,
    output: SettingsViewSchema,
  },
  saveSettings: {
    doc: 'Change the operator name, the PostgreSQL tools directory or the objectives per tier.',
    input: z
      .object({
        operatorName: z.string().max(200).optional(),
        pgBinDir: z.string().max(4096).optional(),
        tiers: SettingsViewSchema.shape.tiers.optional(),
      })
      .strict(),
    output: SettingsViewSchema,
  },
  trustSigningKey: {
    doc: 'Pin a signing public key (PEM); only sets signed by a pinned key pass authenticity.',
    input: z.object({ publicKeyPem: z.string().min(1).max(10000), label: z.string().max(200).optional() }).strict(),
    output: SettingsViewSchema,
  },
  untrustSigningKey: {
    doc: 'Unpin a signing key by its id.',
    input: z.object({ keyId: z.string().min(1).max(64) }).strict(),
    output: SettingsViewSchema,
  },
  recentVerifications: {
    doc: 'The latest set-level verification verdicts, failures first.',
    input: Empty,
    output: z.array(VerificationRowSchema),
  },
  getSetDetail: {
    doc: 'One set in full: artifacts with hashes, the signer and whether it is pinned, the manifest facts, every verification.',
    input: z.object({ set: z.string().min(1).max(300) }).strict(),
    output: SetDetailSchema,
  },
  planPitr: {
    doc: 'The PITR planner for a system on a reachable medium holding its base backups: bases, timelines, gaps, recoverable windows.',
    input: z.object({ system: z.string().min(1).max(100), targetTime: z.iso.datetime().optional() }).strict(),
    output: PitrPlanSchema,
  },
  saveS3Medium: {
    doc: 'Remember how an s3:// medium is reached (endpoint, region, keychain reference of its keys); scans and restores use it.',
    input: S3MediumSettingsSchema.strict(),
    output: SettingsViewSchema,
  },
  saveAzureMedium: {
    doc: 'Remember how an azure:// medium is reached (blob endpoint, keychain reference of its key); scans and restores use it.',
    input: AzureMediumSettingsSchema.strict(),
    output: SettingsViewSchema,
  },
  removeAzureMedium: {
    doc: 'Forget the settings of an azure:// medium (its sets stay in the catalog).',
    input: z.object({ location: z.string().min(1).max(2000) }).strict(),
    output: SettingsViewSchema,
  },
  removeS3Medium: {
    doc: 'Forget the settings of an s3:// medium (its sets stay in the catalog).',
    input: z.object({ location: z.string().min(1).max(2000) }).strict(),
    output: SettingsViewSchema,
  },
  // ---- Restores and runs (issue 21, U2) ----
  tickStep: {
    doc: 'Tick or untick one checklist item of the waiting step; kept in the run (and journaled) across reloads.',
    input: RunId.extend({
      step: z.string().min(1).max(100),
      item: z.number().int().nonnegative().max(200),
      ticked: z.boolean(),
      operator: z.string().max(200).optional(),
    }).strict(),
    output: RunViewSchema,
  },
  getRunbookChecklist: {
    doc: 'A printable blank checklist of a runbook (self-contained HTML with a print stylesheet), to fill in before a run.',
    input: z.object({ runbook: z.string().min(1).max(4096) }).strict(),
    output: z.object({ html: z.string(), title: z.string() }),
  },
  pickFolder: {
    doc: 'The OS folder picker (desktop app only; the browser bridge answers available: false and the path field is used).',
    input: z.object({ title: z.string().max(200).optional() }).strict(),
    output: z.object({ available: z.boolean(), path: z.string().nullable() }),
  },
  exportReportPdf: {
    doc: "Print a run's report to a PDF file the operator picks (desktop app only; the bridge answers available: false and the HTML is downloaded).",
    input: RunId,
    output: z.object({ available: z.boolean(), path: z.string().nullable() }),
  },
  // ---- Overview, Media and Settings (issue 21, U3) ----------------------------------------
  getRecoverability: {
    doc: 'Per system: "are we recoverable?" — RPO (newest verified set) and RTO (last measured restore) against the one set of objectives, last drill, next action, size history.',
    input: Empty,
    output: z.array(RecoverabilitySchema),
  },
  removeMedium: {
    doc: 'Remove a medium from the catalog (never its files): its presence, and the sets seen on no other medium.',
    input: z.object({ id: z.string().min(1).max(300) }).strict(),
    output: z.object({ id: z.string(), label: z.string().nullable(), location: z.string(), setsForgotten: z.number() }),
  },
  initMedium: {
    doc: 'Make a folder (absolute path), s3://bucket/prefix or azure://container/prefix a Lifeboat medium with a label, as `lifeboat medium init` does.',
    input: z.object({ location: z.string().min(1).max(4096), label: z.string().trim().min(1).max(100) }).strict(),
    output: z.object({ id: z.string(), label: z.string(), location: z.string() }),
  },
  startPrune: {
    doc: 'Retention on a medium as a job: a preview of what would go (apply: false), or the removal (apply: true), as `lifeboat prune`.',
    input: z
      .object({
        location: z.string().min(1).max(4096),
        keepLast: z.number().int().min(0).max(10000).default(0),
        keepDaily: z.number().int().min(0).max(10000).default(0),
        keepWeekly: z.number().int().min(0).max(10000).default(0),
        keepMonthly: z.number().int().min(0).max(10000).default(0),
        apply: z.boolean(),
      })
      .strict(),
    output: JobSnapshotSchema,
  },
  verifyJournals: {
    doc: "Recompute the hash chain of every run's journal (`lifeboat journal verify`): intact or what was edited, deleted or added.",
    input: Empty,
    output: z.array(
      z.object({
        runId: z.string(),
        title: z.string(),
        drill: z.boolean(),
        status: z.string(),
        startedAt: z.string(),
        ok: z.boolean(),
        events: z.number(),
        problems: z.array(z.string()),
      }),
    ),
  },
  startRebuild: {
    doc: 'Rebuild the catalog from every known medium (`lifeboat scan --rebuild`): a copy is kept, keys, runs, journals and the ledger stay.',
    input: Empty,
    output: JobSnapshotSchema,
  },
  saveSystemSettings: {
    doc: "A system's tier and validation queries (restore tests and drills read them).",
    input: z
      .object({
        system: z.string().min(1).max(100),
        tier: z.enum(['critical', 'important', 'standard']).nullable(),
        validations: z.array(ValidationSchema).max(50),
      })
      .strict(),
    output: SettingsViewSchema,
  },
  getTrends: {
    doc: "Per system (or one): each Lifeboat set's size, duration, compression ratio, incompressible share and changed files, the ransomware indicator's verdict, and the clean candidate (`lifeboat systems --trend`).",
    input: z.object({ system: z.string().min(1).max(100).optional() }).strict(),
    output: z.array(SystemTrendSchema),
  },
} as const satisfies Record<ChannelName, ChannelDef>;

export type Contract = typeof contract;
/** What a caller sends: fields with a default may be left out (zod's input type). */
export type ChannelInput<K extends ChannelName> = z.input<Contract[K]['input']>;
/** What a handler receives: the input after validation, defaults filled in. */
export type ChannelArgs<K extends ChannelName> = z.output<Contract[K]['input']>;
export type ChannelOutput<K extends ChannelName> = z.infer<Contract[K]['output']>;

export { CHANNEL_NAMES, JOB_EVENT_CHANNEL, ipcChannel, type ChannelName };
