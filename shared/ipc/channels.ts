/**
 * The contract's channel names, without schemas, so the sandboxed preload stays tiny.
 * `contract.ts` is checked against this list at compile time (satisfies) and by a test.
 */
export const CHANNEL_NAMES = [
  'getAppInfo',
  'getOverview',
  'getToolStatus',
  'startSelfCheck',
  'listJobs',
  'getJob',
  'cancelJob',
  // Keys, jobs and WAL checks (issue 21, U1: Credentials, Verify, Jobs panel).
  'createAgeIdentity',
  'createSigningKey',
  'exportKey',
  'startVerifyWal',
  'startScan',
  'listSets',
  'whereIsSet',
  'listSystems',
  'findFiles',
  'listMedia',
  'startVerify',
  'listRunbooks',
  'listRuns',
  'getRun',
  'startRun',
  'advanceRun',
  'respondStep',
  'skipStep',
  'cancelRun',
  'getRunReport',
  'listCredentials',
  'saveCredential',
  'deleteCredential',
  'testCredential',
  'getSettings',
  'saveSettings',
  'trustSigningKey',
  'untrustSigningKey',
  'recentVerifications',
  'getSetDetail',
  'planPitr',
  'saveS3Medium',
  'saveAzureMedium',
  'removeAzureMedium',
  'removeS3Medium',
  'pickFolder',
  'exportReportPdf',
  // Overview, Media and Settings (issue 21, U3): recoverability, media care, CLI parity, per-system settings.
  'getRecoverability',
  'removeMedium',
  'initMedium',
  'startPrune',
  'verifyJournals',
  'startRebuild',
  'saveSystemSettings',
  // Restores and runs (issue 21, U2): ticks kept across reloads, the blank checklist of a runbook.
  'tickStep',
  'getRunbookChecklist',
  // Trends and the ransomware indicator (issue 24 items 4, 5).
  'getTrends',
] as const;

export type ChannelName = (typeof CHANNEL_NAMES)[number];

/** The IPC channel string used for a contract entry. */
export function ipcChannel(name: ChannelName): string {
  return `lifeboat:${name}`;
}

/** The channel main uses to push job events to windows. */
export const JOB_EVENT_CHANNEL = 'lifeboat:job-event';
