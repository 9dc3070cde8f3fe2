import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { LifeboatError } from '../engine/errors';
import type pg from 'pg';
import { parsePgUrl, withPgClient } from '../engine/postgres/connection';
import type S3rverClass from 's3rver';
import { backupFiles } from '../engine/backup/files-backup';
import { backupPgLogical } from '../engine/backup/pg-logical';
import { setsWithCopies } from '../engine/catalog/lookups';
import { scanMedium } from '../engine/catalog/scan';
import { trustedKeys, trustKey } from '../engine/catalog/trust';
import { MemoryCredentialStore } from '../engine/credentials/credential-store';
import { generateIdentity, identityFileText, type AgeIdentity } from '../engine/crypto/age';
import { generateSigningKey, loadSigningKey } from '../engine/crypto/signing';
import { Engine } from '../engine/engine';
import { newMediumInfo } from '../engine/format/medium';
import type { JobContext } from '../engine/jobs/job-manager';
import { backupPgBase } from '../engine/backup/pg-base';
import { backupCmd } from '../engine/backup/cmd-stream';
import { shellWord } from '../../shared/shell-quote';
import { planPitr } from '../engine/pitr/plan';
import { chownTree, postgresRunAs, ScratchCluster } from '../engine/postgres/scratch-cluster';
import { loadRunbook } from '../engine/runbooks/library';
import { runObjectives } from '../engine/runbooks/clocks';
import { runEngineFor } from '../engine/runbooks/runner';
import { parseSettings, saveSettings } from '../engine/settings/settings';
import type { Medium } from '../engine/storage/medium';
import { FolderMedium } from '../engine/storage/folder-medium';
import { openMedium } from '../engine/storage/open-medium';
import { runVerify } from '../engine/verify/run';
import { fingerprint, loadSampleData, writeSampleFiles } from './sample-data';

export interface DemoOptions {
  /** Where everything goes (default: a new temp folder); removed at the end unless `keep`. */
  dir?: string;
  keep: boolean;
  /** The `lifeboat` command PostgreSQL's archive_command runs (node + bin/lifeboat.cjs). */
  cliCommand: string[];
  /** Rows of the sample database (default: 20,000 customers, 200,000 orders, 100,000 uploads). */
  scale?: { customers: number; orders: number };
  /** How long the shop keeps taking orders after the base backup, WAL archived as it goes (default 20 s; 8 s when scaled down). */
  walStretchSeconds?: number;
  say(line: string): void;
}

export interface DemoSummary {
  dir: string;
  kept: boolean;
  dataDir: string;
  media: string[];
  sets: Array<{ key: string; kind: string; bytes: number; media: number }>;
  verified: { sets: number; failed: number; bytes: number; bytesPerSecond: number | null; level: string };
  window: { base: string; from: string; to: string | null; basis: string } | null;
  walSegments: number;
  drill: {
    run: string;
    status: string;
    rtoSeconds: number | null;
    rtoObjectiveSeconds: number;
    rpoSeconds: number | null;
    rpoObjectiveSeconds: number;
    /** Where the objectives come from, as the report says it ("tier critical of shop-db"). */
    objectivesFrom: string;
    restoredTables: number | null;
    checks: Array<{ sql: string; got: string | null; expect: string; ok: boolean }>;
  };
  report: string;
  rows: Record<string, string>;
  s3: string | null;
}

const SYSTEM = 'shop-db';
const FILES_SYSTEM = 'shop-files';
const CONFIG_SYSTEM = 'shop-config';
const STREAM_SYSTEM = 'shop-stream';

function context(say: (l: string) => void): JobContext {
  return {
    signal: new AbortController().signal,
    progress: () => undefined,
    step: () => undefined,
    log: (level, m) => (level === 'warn' || level === 'error' ? say(`  ${level}: ${m}`) : undefined),
  };
}

/** One statement on a URL of the demo's own server (trust auth, no password). */
function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  return withPgClient(parsePgUrl(url), async (c) => (await c.query<T>(text)).rows);
}

/** An S3 medium on a private s3rver, when the dev dependency is installed (it is, after `npm ci`). */
async function startS3(dir: string): Promise<{ location: string; medium: Medium; stop: () => Promise<void> } | null> {
  let S3rver: typeof S3rverClass;
  try {
    S3rver = (await import('s3rver')).default;
  } catch {
    return null;
  }
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory: join(dir, 's3'),
    silent: true,
    configureBuckets: [{ name: 'dr-backups', configs: [] }],
  });
  const { port } = await server.run();
  const options = {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  const location = 's3://dr-backups/demo';
  const medium = await openMedium(location, options);
  return { location, medium, stop: () => server.close() };
}

/** The demo's folder, reachable by PostgreSQL (which runs as `postgres` when we are root). */
function demoFolder(given: string | undefined): { dir: string; runAs: ReturnType<typeof postgresRunAs> } {
  const dir = resolve(given ?? mkdtempSync(join(tmpdir(), 'lifeboat-demo-')));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const runAs = postgresRunAs();
  if (runAs) {
    for (let p = dirname(dir); p !== dirname(p); p = dirname(p)) {
      if ((statSync(p).mode & 0o001) === 0) {
        throw new LifeboatError(
          'BAD_INPUT',
          `PostgreSQL runs as the postgres user and cannot reach ${dir}: ${p} is not traversable by others.`,
          { hint: 'Choose a folder under /tmp (the default), or chmod o+x the folders above it.' },
        );
      }
    }
  }
  return { dir, runAs };
}

/** Step 1: a signing key for the servers (pinned in the catalog), an age key for the DR laptop, in `dir`/keys. */
function makeKeys(dir: string, engine: Engine) {
  const keys = join(dir, 'keys');
  mkdirSync(keys, { recursive: true, mode: 0o700 });
  const signing = generateSigningKey();
  writeFileSync(join(keys, 'signing.pem'), signing.privatePem, { mode: 0o600 });
  writeFileSync(join(keys, 'signing.pem.pub'), signing.publicPem);
  const age = generateIdentity();
  writeFileSync(join(keys, 'laptop.age'), identityFileText(age.identity), { mode: 0o600 });
  trustKey(engine.catalog, signing.publicPem, 'demo servers');
  return { signingPem: signing.privatePem, signingKey: loadSigningKey(signing.privatePem), identity: age.identity };
}

/** The cluster archives every WAL segment through `lifeboat wal-push` (signed, to the USB medium); restarted to take it. */
async function archiveIntoLifeboat(
  cluster: ScratchCluster,
  o: DemoOptions,
  a: { dir: string; runAs: ReturnType<typeof postgresRunAs>; usbPath: string; recipient: string; signingPem: string },
): Promise<void> {
  // The archiver runs as the server's OS user: it gets its own copy of the signing key it can read.
  const walKey = join(a.dir, 'wal-signing.pem');
  writeFileSync(walKey, a.signingPem, { mode: 0o600 });
  if (a.runAs) chownSync(walKey, a.runAs.uid, a.runAs.gid);
  const cmd = [...o.cliCommand, 'wal-push', '%p', '--system', SYSTEM, '--to', a.usbPath]
    .concat(['--recipient', a.recipient, '--sign-key', walKey])
    .map((arg) => (arg === '%p' ? arg : `'${arg.replace(/'/g, "'\\''")}'`))
    .join(' ');
  await sql(cluster.url(), `ALTER SYSTEM SET archive_mode = 'on'`);
  await sql(cluster.url(), `ALTER SYSTEM SET archive_command = '${cmd.replace(/'/g, "''")}'`);
  await sql(cluster.url(), `ALTER SYSTEM SET archive_timeout = '60s'`);
  await cluster.stopServer('fast');
  await cluster.startServer({ settings: { wal_level: 'replica' } });
}

async function archivedCount(cluster: ScratchCluster): Promise<number> {
  const rows = await sql<{ n: string }>(cluster.url(), 'SELECT archived_count::text AS n FROM pg_stat_archiver');
  return Number(rows[0]!.n);
}

/**
 * Business goes on after the base backup over a stretch of time, archived segment by segment through
 * `lifeboat wal-push`: the PITR window is then a real span with segments in it, not one instant.
 */
async function businessOverTime(cluster: ScratchCluster, shopUrl: string, stretchMs: number, rounds: number) {
  for (let i = 0; i < rounds; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, stretchMs / (rounds - 1)));
    await sql(shopUrl, `UPDATE orders SET status = 'paid' WHERE id % 97 = ${i}`);
    await sql(
      shopUrl,
      `INSERT INTO orders (id, customer_id, total, status, placed_at, lines)
       SELECT (SELECT max(id) FROM orders) + row_number() OVER (), id, 10 + id % 90, 'new', now(), '[]'::jsonb FROM customers WHERE id % 50 = ${i}`,
    );
    const before = await archivedCount(cluster);
    await sql(cluster.url(), 'SELECT pg_switch_wal()');
    for (let t = 0; t < 200 && (await archivedCount(cluster)) <= before; t++) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The shop database (sample data at `scale`), and the system's validations: its row counts, some paid orders. */
async function loadShop(cluster: ScratchCluster, engine: Engine, scale: DemoOptions['scale']) {
  await sql(cluster.url(), 'CREATE DATABASE shop');
  const shopUrl = cluster.url('shop');
  await withPgClient(parsePgUrl(shopUrl), (c) => loadSampleData(c, scale ?? { customers: 20_000, orders: 200_000 }));
  const counts = await sql<{ c: string; o: string }>(
    shopUrl,
    'SELECT (SELECT count(*) FROM customers)::text AS c, (SELECT count(*) FROM orders)::text AS o',
  );
  saveSettings(
    engine.paths.settings,
    parseSettings({
      operatorName: 'Demo operator',
      systems: {
        [SYSTEM]: {
          tier: 'critical',
          validations: [
            { sql: 'SELECT count(*) FROM orders', expect: `= ${counts[0]!.o}` },
            { sql: 'SELECT count(*) FROM customers', expect: `= ${counts[0]!.c}` },
            { sql: "SELECT count(*) FROM orders WHERE status = 'paid'", expect: '> 0' },
          ],
        },
      },
    }),
  );
  return { shopUrl, counts };
}

/** Step 6: the monthly drill run to its end, every question answered as `--yes` would in a drill. */
async function driveDrill(engine: Engine, identity: AgeIdentity, ctx: JobContext) {
  const runner = runEngineFor(engine, [identity]);
  const run0 = runner.start(
    loadRunbook(engine.paths.dataDir, 'monthly-drill'),
    { system: SYSTEM },
    { drill: true, operator: 'Demo operator', source: 'builtin:monthly-drill' },
  );
  let run = await runner.advance(run0.id, ctx);
  for (let guard = 0; run.status === 'waiting' && guard < 50; guard++) {
    const step = run.state.runbook.steps.find((s) => run.state.steps[s.id]?.status === 'waiting')!;
    const need = run.state.steps[step.id]!.need!;
    const answer =
      need.type === 'manual'
        ? { ticks: need.items.map((_, i) => i), signoff: 'Demo operator (drill, --yes)', auto: true }
        : need.type === 'confirm'
          ? { confirmation: need.expect, auto: true }
          : { signoff: 'drill auto-approval', auto: true };
    runner.respond(run.id, step.id, answer, 'Demo operator');
    run = await runner.advance(run.id, ctx);
  }
  return { run, achieved: runner.achieved(run) };
}

/**
 * The whole product on this machine, in one command: a scratch PostgreSQL with a realistic shop
 * database and WAL archiving into Lifeboat, sample files and config, keys, a folder medium and
 * an S3 medium, a logical set, a base backup, files and config sets, a scan, a deep verification,
 * the recoverable window, and the monthly drill run end to end with its report.
 */
export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const { dir, runAs } = demoFolder(o.dir);
  const home = join(dir, 'home');
  const say = (line: string): void => o.say(line);
  let cluster: ScratchCluster | null = null;
  let s3: Awaited<ReturnType<typeof startS3>> = null;
  let engine: Engine | null = null;
  try {
    say(`Lifeboat demo in ${dir}`);
    engine = new Engine({ dataDir: home, credentials: new MemoryCredentialStore(), frontDoor: 'cli' });
    saveSettings(
      engine.paths.settings,
      parseSettings({ operatorName: 'Demo operator', systems: { [SYSTEM]: { tier: 'critical', validations: [] } } }),
    );

    say('1. keys: a signing key for the servers, an age key for the DR laptop');
    const { signingPem, signingKey, identity } = makeKeys(dir, engine);
    const recipients = [identity.recipient];

    say('2. media: a folder (the USB drive) and an S3 bucket');
    const usbPath = join(dir, 'media', 'usb-1');
    mkdirSync(usbPath, { recursive: true });
    const usb = new FolderMedium(usbPath);
    await usb.writeInfo(newMediumInfo('usb-1'));
    if (runAs) chownTree(join(dir, 'media'), runAs);
    s3 = await startS3(dir);
    if (s3) await s3.medium.writeInfo(newMediumInfo('s3-offsite'));
    else say('   (s3rver is not installed: the S3 medium is left out)');
    const media: Medium[] = s3 ? [usb, s3.medium] : [usb];

    say('3. a scratch PostgreSQL with WAL archiving into Lifeboat, and a shop database');
    cluster = await ScratchCluster.start({ baseDir: dir, settings: { wal_level: 'replica' } });
    await archiveIntoLifeboat(cluster, o, { dir, runAs, usbPath, recipient: identity.recipient.text, signingPem });
    const { shopUrl, counts } = await loadShop(cluster, engine, o.scale);
    const sampleRoot = join(dir, 'sample');
    const sample = writeSampleFiles(sampleRoot);
    say(
      `   ${Number(counts[0]!.c).toLocaleString('en')} customers, ${Number(counts[0]!.o).toLocaleString('en')} orders; ${sample.count} sample files`,
    );

    say(`4. backups to ${media.length} media: logical, base (for PITR), files, config, a command's stream`);
    const ctx = context(say);
    const common = { media, recipients, signingKey, tier: 'critical' as const, encoderThreads: engine.encoderThreads };
    await backupPgLogical({ ...common, system: SYSTEM, dbUrl: shopUrl, format: 'custom', jobs: 2 }, ctx);
    await backupPgBase({ ...common, media: [usb], system: SYSTEM, dbUrl: cluster.url() }, ctx);
    const stretchMs = (o.walStretchSeconds ?? (o.scale ? 8 : 20)) * 1000;
    const rounds = 6;
    say(`   WAL archiving: ${rounds} rounds of orders over ${Math.round(stretchMs / 1000)} s, one segment switch each`);
    await businessOverTime(cluster, shopUrl, stretchMs, rounds);
    for (const [system, kind, path] of [
      [FILES_SYSTEM, 'files', sample.files],
      [CONFIG_SYSTEM, 'config', sample.config],
    ] as const) {
      const files = { system, kind, paths: [path], excludes: [], incremental: false, allowPlaintext: false };
      await backupFiles({ ...common, ...files, identities: [], stateDir: join(home, 'state') }, ctx);
    }
    // Any tool's output as a set (lifeboat backup cmd): here tar's, where a server would have docker save's.
    const tarLine = `tar -c -C ${shellWord(sample.config)} .`;
    await backupCmd({ ...common, system: STREAM_SYSTEM, label: 'tar-archive', command: tarLine, shell: false }, ctx);

    say('5. scan both media into the offline catalog, verify deep, plan PITR');
    for (const m of media) await scanMedium(engine.catalog, m, ctx, { identities: [identity] });
    const settings = engine.settings();
    const verified = await runVerify(
      { catalog: engine.catalog, settings, dataDir: home },
      { target: usbPath, level: 'deep', identities: [identity], onlyNew: false, olderThanDays: null, jobs: 2 },
      ctx,
    );
    const failed = verified.results.filter((r) => r.verdict !== 'ok');
    say(
      `   ${verified.results.length - failed.length} of ${verified.results.length} sets pass at deep level (${(verified.bytes / 1048576).toFixed(1)} MiB${verified.bytesPerSecond ? `, ${(verified.bytesPerSecond / 1048576).toFixed(0)} MiB/s` : ''})`,
    );
    const plan = await planPitr(usb, SYSTEM, {
      identities: [identity],
      trust: { trusted: trustedKeys(engine.catalog), allowUnsigned: false },
      pgBinDir: settings.pgBinDir || undefined,
    });
    const w = plan.windows[0] ?? null;
    if (w) say(`   recoverable window: ${w.from} → ${w.to ?? '—'} (${w.toBasis}, ${w.segments} WAL segments)`);

    say('6. the monthly restore drill, as a drill: restore into a scratch server, validate, report');
    const { run, achieved } = await driveDrill(engine, identity, ctx);
    // Judged as the report and Overview judge it: the system's tier first, the runbook's values only without one.
    const objectives = runObjectives(engine.catalog, engine.settings(), run);
    const restore = run.state.steps.restore?.output ?? null;
    const checks = (run.state.steps.validate?.output?.checks ?? []) as DemoSummary['drill']['checks'];
    const reportPath = run.state.steps.report?.output?.path;
    const report = typeof reportPath === 'string' ? reportPath : '';

    const rows = await withPgClient(parsePgUrl(shopUrl), (c) => fingerprint(c));
    const sets = setsWithCopies(engine.catalog);
    const summary: DemoSummary = {
      dir,
      kept: o.keep,
      dataDir: home,
      media: media.map((m) => m.location),
      sets,
      verified: {
        sets: verified.results.length,
        failed: failed.length,
        bytes: verified.bytes,
        bytesPerSecond: verified.bytesPerSecond,
        level: 'deep',
      },
      window: w ? { base: w.base, from: w.from, to: w.to, basis: w.toBasis } : null,
      walSegments: w?.segments ?? 0,
      drill: {
        run: run.id,
        status: run.status,
        rtoSeconds: achieved.rto_seconds,
        rtoObjectiveSeconds: objectives.rtoSeconds,
        rpoSeconds: achieved.rpo_seconds,
        rpoObjectiveSeconds: objectives.rpoSeconds,
        objectivesFrom: objectives.from,
        restoredTables: typeof restore?.tables === 'number' ? restore.tables : null,
        checks,
      },
      report,
      rows,
      s3: s3?.location ?? null,
    };
    return summary;
  } finally {
    await engine?.close();
    await cluster?.destroy().catch(() => undefined);
    await s3?.stop().catch(() => undefined);
    if (!o.keep && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}
