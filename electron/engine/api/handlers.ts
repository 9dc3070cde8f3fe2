import type { ChannelInput, ChannelName, ChannelOutput } from '../../../shared/ipc/contract';
import type { Engine } from '../engine';
import { LifeboatError } from '../errors';
import { rememberMedium } from '../catalog/known-media';
import { trustedKeys } from '../catalog/trust';
import { findFiles, listMedia, listSets, listSystems, setDetail, whereIs } from '../catalog/queries';
import { scanMedium } from '../catalog/scan';
import { foreignSecrets } from '../foreign/secrets';
import { toolStatus } from '../tools/tools';
import { pgClientVersions } from '../postgres/pg-tools';
import { runVerify } from '../verify/run';
import { parseIdentityFile, readIdentityFiles, type AgeIdentity } from '../crypto/age';
import { planPitr } from '../pitr/plan';
import { pitrMedium } from '../runbooks/actions/pitr';
import { LIFEBOAT_VERSION } from '../version';
import { listRunbooks } from '../runbooks/library';
import { RunService } from '../runbooks/service';
import { createSettingsHandlers } from './settings-handlers';

export type Handlers = {
  [K in ChannelName]: (input: ChannelInput<K>) => Promise<ChannelOutput<K>>;
};

/**
 * The engine's implementation of the IPC contract. The Electron main process and the web
 * bridge both serve exactly these handlers, through `dispatch`.
 */
/** The age identities kept in the keychain (to read commit times from encrypted WAL); none when it is locked. */
async function keychainIdentities(engine: Engine): Promise<AgeIdentity[]> {
  const out: AgeIdentity[] = [];
  if ((await engine.credentials.status()).state !== 'available') return out;
  for (const account of (await engine.credentials.accounts()).filter((a) => a.startsWith('age:'))) {
    const secret = await engine.credentials.get(account);
    if (secret) out.push(...parseIdentityFile(secret));
  }
  return out;
}

export function createHandlers(engine: Engine): Handlers {
  const runs = new RunService(engine);
  return {
    getAppInfo: async () => ({
      name: 'Lifeboat' as const,
      version: LIFEBOAT_VERSION,
      dataDir: engine.paths.dataDir,
      catalogPath: engine.paths.catalog,
      platform: process.platform,
      arch: process.arch,
      nodeVersion: process.versions.node,
      electronVersion: engine.electronVersion,
      frontDoor: engine.frontDoor === 'app' ? ('app' as const) : ('bridge' as const),
    }),

    getOverview: async () => ({
      catalog: engine.catalog.counts(),
      catalogSchemaVersion: engine.catalog.schemaVersion(),
      keychain: await engine.credentials.status(),
    }),

    getToolStatus: async () => toolStatus(engine.settings().pgBinDir),

    startSelfCheck: async () => {
      const { snapshot } = engine.jobs.start({ kind: 'self-check', title: 'Self-check' }, async (ctx) => {
        ctx.progress({ itemsTotal: 3, itemsDone: 0 });
        ctx.step('catalog integrity');
        const catalogIntegrity = engine.catalog.integrityCheck();
        ctx.log(catalogIntegrity === 'ok' ? 'info' : 'error', `catalog integrity: ${catalogIntegrity}`);
        ctx.progress({ itemsDone: 1 });
        if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
        ctx.step('keychain');
        const keychain = await engine.credentials.status();
        ctx.log(keychain.state === 'available' ? 'info' : 'warn', `keychain: ${keychain.state} (${keychain.backend})`);
        ctx.progress({ itemsDone: 2 });
        if (ctx.signal.aborted) throw new LifeboatError('CANCELLED', 'Cancelled.');
        ctx.step('external tools');
        const tools = await toolStatus(engine.settings().pgBinDir);
        for (const t of tools) ctx.log(t.problem ? 'warn' : 'info', t.problem ?? `${t.name}: ${t.version ?? '?'}`);
        // Every installed copy of the client tools: a dump needs a pg_restore at least as new as its pg_dump.
        const postgres = await pgClientVersions(engine.settings().pgBinDir || undefined);
        ctx.progress({ itemsDone: 3 });
        return { catalogIntegrity, keychain, tools, postgres };
      });
      return snapshot;
    },

    listJobs: async () => engine.jobs.list(),

    getJob: async ({ id }) => {
      const snapshot = engine.jobs.get(id);
      if (!snapshot) throw new LifeboatError('NOT_FOUND', `No job with id ${id}.`);
      return snapshot;
    },

    cancelJob: async ({ id }) => ({ cancelled: engine.jobs.cancel(id) }),

    startScan: async ({ location }) => {
      const medium = await engine.openMedium(location);
      const { snapshot } = engine.jobs.start({ kind: 'scan', title: `Scan of ${medium.location}` }, async (ctx) => {
        // Other tools' passphrases from the keychain (lifeboat credentials add …): the app has no files to name.
        const summary = await scanMedium(engine.catalog, medium, ctx, { secrets: foreignSecrets({ keychain: engine.credentials }) });
        rememberMedium(engine.paths.dataDir, medium.location);
        return summary;
      });
      return snapshot;
    },

    listSets: async (filter) => listSets(engine.catalog, filter),

    whereIsSet: async ({ set }) => {
      const found = whereIs(engine.catalog, set);
      if (!found) throw new LifeboatError('NOT_FOUND', `No set ${set} in the catalog.`, { hint: 'Scan more media to find it.' });
      return found;
    },

    listSystems: async () => listSystems(engine.catalog, engine.settings()),

    findFiles: async ({ glob, system }) => findFiles(engine.catalog, glob, system),

    listMedia: async () => listMedia(engine.catalog),

    getSetDetail: async ({ set }) => {
      const detail = setDetail(engine.catalog, set);
      if (!detail) throw new LifeboatError('NOT_FOUND', `No set ${set} in the catalog.`, { hint: 'Scan more media to find it.' });
      return detail;
    },

    planPitr: async ({ system, targetTime }) => {
      const medium = await pitrMedium(engine.catalog, system, undefined, engine.openMedium);
      if (!medium) throw new LifeboatError('NOT_FOUND', `No reachable medium holds base backups of ${system}.`, { hint: 'Plug in (or scan) a medium with its pg-base sets and WAL archive.' });
      return planPitr(medium, system, { targetTime, identities: await keychainIdentities(engine), trust: { trusted: trustedKeys(engine.catalog), allowUnsigned: false }, pgBinDir: engine.settings().pgBinDir || undefined });
    },

    // The desktop app replaces these two with Electron's dialogs and printToPDF (electron/main/desktop-handlers.ts).
    pickFolder: async () => ({ available: false, path: null }),
    exportReportPdf: async () => ({ available: false, path: null }),

    startVerify: async (input) => {
      const identities = readIdentityFiles(input.identityFiles);
      const { snapshot } = engine.jobs.start({ kind: 'verify', title: `Verify ${input.target} (${input.level})` }, (ctx) =>
        runVerify({ catalog: engine.catalog, settings: engine.settings(), dataDir: engine.paths.dataDir, openMedium: engine.openMedium }, { target: input.target, level: input.level, identities, onlyNew: input.onlyNew, olderThanDays: input.olderThanDays, jobs: input.jobs }, ctx),
      );
      return snapshot;
    },

    listRunbooks: async () => listRunbooks(engine.paths.dataDir),

    listRuns: async () => runs.list(),

    getRun: async ({ id }) => runs.view(id),

    startRun: async (input) => runs.start(input),

    advanceRun: async ({ id, identityFiles }) => runs.advance(id, identityFiles),

    respondStep: async ({ id, step, ticks, signoff, confirmation, operator }) => runs.respond(id, step, { ticks, signoff, confirmation }, operator),

    skipStep: async ({ id, step, reason, operator }) => runs.skip(id, step, reason, operator),

    cancelRun: async ({ id, reason, operator }) => runs.cancel(id, reason, operator),

    getRunReport: async ({ id }) => runs.report(id),

    ...createSettingsHandlers(engine),
  };
}
