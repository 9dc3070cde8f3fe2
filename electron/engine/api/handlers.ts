import type { ChannelArgs, ChannelName, ChannelOutput } from '../../../shared/ipc/contract';
import type { Engine } from '../engine';
import { createKeysJobsHandlers } from './keys-jobs-handlers';
import { LifeboatError } from '../errors';
import { trustedKeys } from '../catalog/trust';
import { findFiles, listMedia, listSets, listSystems, setDetail, whereIs } from '../catalog/queries';
import { systemTrends } from '../catalog/trends';
import { toolStatus } from '../tools/tools';
import { pgClientVersions } from '../postgres/pg-tools';
import { judgeVerify, runVerify } from '../verify/run';
import { identitiesFor } from '../crypto/keychain-identities';
import { planPitr } from '../pitr/plan';
import { pitrMedium } from '../catalog/pitr-medium';
import { pgbrKeysFor } from '../foreign/secrets';
import { LIFEBOAT_VERSION } from '../version';
import { renderChecklistHtml } from '../runbooks/checklist';
import { listRunbooks, loadRunbook } from '../runbooks/library';
import { RunService } from '../runbooks/service';
import { createSettingsHandlers } from './settings-handlers';
import { indicatorThresholds } from '../settings/settings';
import { createOverviewMediaHandlers } from './overview-media-handlers';

export type Handlers = {
  [K in ChannelName]: (input: ChannelArgs<K>) => Promise<ChannelOutput<K>>;
};

/**
 * The engine's implementation of the IPC contract. The Electron main process and the web
 * bridge both serve exactly these handlers, through `dispatch`.
 */
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

    listSets: async (filter) => listSets(engine.catalog, filter),

    whereIsSet: async ({ set }) => {
      const found = whereIs(engine.catalog, set);
      if (!found)
        throw new LifeboatError('NOT_FOUND', `No set ${set} in the catalog.`, { hint: 'Scan more media to find it.' });
      return found;
    },

    listSystems: async () => listSystems(engine.catalog, engine.settings()),
    getTrends: async ({ system }: ChannelArgs<'getTrends'>) =>
      systemTrends(engine.catalog, system, (name) => indicatorThresholds(engine.settings(), name)),

    findFiles: async ({ glob, system }) => findFiles(engine.catalog, glob, system),

    listMedia: async () => listMedia(engine.catalog),

    getSetDetail: async ({ set }) => {
      const detail = setDetail(engine.catalog, set);
      if (!detail)
        throw new LifeboatError('NOT_FOUND', `No set ${set} in the catalog.`, { hint: 'Scan more media to find it.' });
      return detail;
    },

    planPitr: async ({ system, targetTime }) => {
      const medium = await pitrMedium(engine.catalog, system, undefined, engine.openMedium);
      if (!medium)
        throw new LifeboatError('NOT_FOUND', `No reachable medium holds base backups of ${system}.`, {
          hint: 'Plug in (or scan) a medium with its pg-base sets and WAL archive.',
        });
      return planPitr(medium, system, {
        targetTime,
        identities: await identitiesFor(engine.credentials, []),
        trust: { trusted: trustedKeys(engine.catalog), allowUnsigned: false },
        pgBinDir: engine.settings().pgBinDir || undefined,
        // An encrypted pgBackRest repository plans with the keychain's passphrase, as the CLI and runbooks do.
        pgbrKeys: await pgbrKeysFor(system, { keychain: engine.credentials }),
      });
    },

    // The desktop app replaces these two with Electron's dialogs and printToPDF (electron/main/desktop-handlers.ts).
    pickFolder: async () => ({ available: false, path: null }),
    exportReportPdf: async () => ({ available: false, path: null }),

    startVerify: async (input) => {
      const identities = await identitiesFor(engine.credentials, input.identityFiles, input.useKeychain !== false);
      const deps = {
        catalog: engine.catalog,
        settings: engine.settings(),
        dataDir: engine.paths.dataDir,
        openMedium: engine.openMedium,
      };
      // requireKeys: a deep check of sets no given key opens is refused before it reads a byte, naming the key.
      const req = {
        target: input.target,
        level: input.level,
        identities,
        onlyNew: input.onlyNew,
        olderThanDays: input.olderThanDays,
        jobs: input.jobs,
        requireKeys: true,
        // Said plainly when the keychain holds keys the operator chose not to use: "the keychain holds none" was untrue.
        noKeysBecause:
          input.useKeychain === false
            ? 'no identity file was given, and the keychain’s identities were not used (“Use the keychain” is unticked)'
            : undefined,
      };
      const { snapshot } = engine.jobs.start(
        { kind: 'verify', title: `Verify ${input.target} (${input.level})`, judge: judgeVerify },
        (ctx) => runVerify(deps, req, ctx),
      );
      return snapshot;
    },

    listRunbooks: async () => listRunbooks(engine.paths.dataDir),

    listRuns: async () => runs.list(),

    getRun: async ({ id }) => runs.view(id),

    startRun: async (input) => runs.start(input),

    advanceRun: async ({ id, identityFiles }) => runs.advance(id, identityFiles),

    respondStep: async ({ id, step, ticks, signoff, confirmation, sentVia, operator }) =>
      runs.respond(id, step, { ticks, signoff, confirmation, sentVia }, operator),

    skipStep: async ({ id, step, reason, operator, secondPerson }) =>
      runs.skip(id, step, reason, operator, secondPerson),

    // Restores and runs (issue 21, U2).
    tickStep: async ({ id, step, item, ticked, operator }) => runs.tick(id, step, item, ticked, operator),

    getRunbookChecklist: async ({ runbook }) => {
      const parsed = loadRunbook(engine.paths.dataDir, runbook);
      return {
        html: renderChecklistHtml(parsed.runbook, { source: parsed.source, sha256: parsed.sha256 }),
        title: parsed.runbook.title,
      };
    },

    cancelRun: async ({ id, reason, operator }) => runs.cancel(id, reason, operator),

    getRunReport: async ({ id }) => runs.report(id),

    // Keys made in the app and WAL checks (issue 21, U1).
    ...createKeysJobsHandlers(engine),
    ...createSettingsHandlers(engine),
    // Overview, Media and Settings (issue 21, U3), with startScan (media found inside a folder, paths checked).
    ...createOverviewMediaHandlers(engine),
  };
}
