import { existsSync } from 'node:fs';
import { formatDuration } from '../../../shared/format';
import {
  factsFromCatalog,
  factsFromMedia,
  judgeSystem,
  parseCheckDuration,
  pluginLine,
  summarize,
  checkSamples,
  type CheckResult,
  type SystemFacts,
} from '../../engine/monitor/check';
import { toWireError, LifeboatError } from '../../engine/errors';
import { assertSystemName } from '../../engine/format/names';
import { loadSettings, type Settings } from '../../engine/settings/settings';
import { dataPaths, resolveDataDir } from '../../engine/settings/paths';
import { openMedium } from '../../engine/storage/open-medium';
import { withCliEngine } from '../engine';
import { writeMetrics } from '../metrics';
import { runFacts } from '../notify';
import { printJson, type CliIo } from '../output';
import type { CheckOptions } from './check';

/** The RPO of a system for the replica check: its tier from the catalog when there is one, else from Settings. */
async function rpoOf(system: string, settings: Settings): Promise<number | null> {
  if (existsSync(dataPaths(resolveDataDir()).catalog)) {
    const { objectivesFor } = await import('../../engine/catalog/objectives');
    return withCliEngine((engine) =>
      Promise.resolve(objectivesFor(engine.catalog, engine.settings(), system).rpoSeconds),
    );
  }
  const tier = settings.systems[system]?.tier;
  return tier ? settings.tiers[tier].rpoMinutes * 60 : null;
}

async function runCheck(opts: CheckOptions, now: Date): Promise<CheckResult> {
  const systems = opts.system ?? [];
  for (const s of systems) assertSystemName(s);
  const maxAge = opts.maxAge !== undefined ? parseCheckDuration(opts.maxAge, '--max-age') : null;
  const verifiedWithin =
    opts.verifiedWithin !== undefined ? parseCheckDuration(opts.verifiedWithin, '--verified-within') : null;
  const maxLag = opts.maxLag !== undefined ? parseCheckDuration(opts.maxLag, '--max-lag') : null;
  if ((opts.maxLag !== undefined || opts.credential !== undefined) && !opts.replica)
    throw new LifeboatError(
      'BAD_INPUT',
      `${opts.maxLag !== undefined ? '--max-lag' : '--credential'} goes with --replica postgres://… (the standby to check).`,
    );
  const settings = loadSettings(dataPaths(resolveDataDir()).settings);

  if (opts.replica) {
    if (opts.from?.length || opts.verifiedWithin || opts.maxAge)
      throw new LifeboatError(
        'BAD_INPUT',
        '--replica checks a standby only: leave out --from, --max-age and --verified-within.',
        {
          hint: 'Run a second check for the backups.',
        },
      );
    if (systems.length > 1)
      throw new LifeboatError('BAD_INPUT', '--replica takes one --system (whose RPO is the default --max-lag).');
    const { parsePgUrl } = await import('../../engine/postgres/connection');
    const { replicaFacts, judgeReplica } = await import('../../engine/monitor/replica');
    let password: string | null = null;
    if (opts.credential) {
      const { KeytarCredentialStore } = await import('../../engine/credentials/credential-store');
      password = await new KeytarCredentialStore().get(opts.credential);
      if (password === null)
        throw new LifeboatError('CREDENTIAL_UNAVAILABLE', `No secret is stored for ${opts.credential}.`);
    }
    const target = parsePgUrl(opts.replica, password);
    const limit = maxLag ?? (systems[0] ? await rpoOf(systems[0], settings) : null);
    const facts = await replicaFacts(target);
    return summarize([], judgeReplica(facts, limit), [], now);
  }

  const thresholds = { maxAgeSeconds: maxAge, verifiedWithinSeconds: verifiedWithin };
  let facts: SystemFacts[];
  let problems: string[] = [];
  if (opts.from?.length) {
    if (verifiedWithin !== null)
      throw new LifeboatError(
        'BAD_INPUT',
        '--verified-within needs the catalog (verifications are recorded there), not --from.',
        { hint: 'Run it where the sets are verified (lifeboat verify records them), without --from.' },
      );
    ({ facts, problems } = await factsFromMedia(opts.from, (l) => openMedium(l), settings, systems));
  } else {
    facts = await withCliEngine((engine) =>
      Promise.resolve(factsFromCatalog(engine.catalog, engine.settings(), systems, now)),
    );
  }
  return summarize(
    facts.map((f) => judgeSystem(f, thresholds, now)),
    null,
    problems,
    now,
  );
}

/** Never throws: whatever stops the check is its UNKNOWN answer, with the reason on the same line. */
export async function checkCommand(io: CliIo, opts: CheckOptions): Promise<void> {
  const now = new Date();
  let result: CheckResult;
  let hint: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  try {
    const limit = parseCheckDuration(opts.timeout ?? '50s', '--timeout');
    // A silent S3 endpoint or server is retried for minutes: the check answers UNKNOWN in time instead of being
    // killed by the monitoring system's timeout (Nagios then says CRITICAL). The CLI's bin ends the process.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new LifeboatError('STORAGE_UNREACHABLE', `the check did not finish within ${formatDuration(limit)}.`, {
              hint: 'A medium or server is not answering (an S3 endpoint, a network mount, the standby); run the check by hand to see which.',
            }),
          ),
        limit * 1000,
      );
    });
    result = await Promise.race([runCheck(opts, now), deadline]);
  } catch (e) {
    const error = toWireError(e);
    hint = error.hint ?? null;
    result = summarize([], null, [error.message], now);
  } finally {
    clearTimeout(timer);
  }
  if (opts.metricsFile) await writeMetrics(io, opts.metricsFile, { set: checkSamples(result) });
  // The notification of a check that is not OK says what the plugin line says.
  runFacts.summary = pluginLine(result);
  if (opts.json) printJson(io, { ...result, hint });
  else {
    io.stdout.write(`${pluginLine(result)}\n`);
    // Long output (the plugin format's further lines): every system, worst first as judged.
    for (const s of result.systems) io.stdout.write(`${s.status} ${s.text}\n`);
    if (hint) io.stdout.write(`${hint}\n`);
  }
  process.exitCode = result.exitCode;
}
