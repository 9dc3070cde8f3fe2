import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, lifeboat, lifeboatAsync } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { tempDir } from '../helpers/temp';

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let signKey: string;
let setId: string;

const ROWS = 1_500_000;
const admin = (): string => pg.url().replace(/\/[^/]*$/, '/postgres');
const dbUrl = (name: string): string => pg.url().replace(/\/[^/]*$/, `/${name}`);

/** Processes whose command line holds every one of `parts` (read from /proc: the real process table). */
function processesWith(...parts: string[]): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${name}/status`, 'utf8'))) continue;
    } catch {
      continue;
    }
    const argv = cmd.split('\0');
    if (parts.every((p) => argv.some((a) => a.includes(p)))) out.push(Number(name));
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Start `lifeboat restore pg` into `database`, wait until pg_restore writes into it, check the
 * decoded dump's mode, then kill -9 the Node process. Returns the run id.
 */
/** The pg_restore process groups of the last restore killed. */
let killedGroups: string[] = [];

async function killMidRestore(database: string): Promise<string> {
  const child = spawn(
    process.execPath,
    [BIN, 'restore', 'pg', setId, '--target', admin(), '--database', database, '--identity', identity, '--jobs', '2'],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.resume();
  const deadline = Date.now() + 60_000;
  let runId: string | null = null;
  while (Date.now() < deadline) {
    runId ??= /run ([0-9A-Z]{26})/.exec(stderr)?.[1] ?? null;
    if (runId && processesWith('pg_restore', '-d', database).length > 0) break;
    if (child.exitCode !== null) throw new Error(`the restore ended before it could be killed: ${stderr}`);
    await sleep(20);
  }
  expect(runId, stderr).not.toBeNull();
  expect(processesWith('pg_restore', database).length).toBeGreaterThan(0);
  const work = join(env.LIFEBOAT_HOME!, 'runs', runId!);
  const dumps = readdirSync(work).filter((n) => n.endsWith('.dump'));
  expect(dumps.length).toBe(1);
  expect(statSync(join(work, dumps[0]!)).mode & 0o777).toBe(0o600);
  expect(statSync(work).mode & 0o777).toBe(0o700);
  // Let pg_restore get into the data.
  await sleep(300);
  // Its process group (the watchdog is told its pgid): other tests' watchdogs on the machine are not ours.
  killedGroups = processesWith('pg_restore', '-d', database).map(String);
  process.kill(child.pid!, 'SIGKILL');
  await new Promise((r) => child.once('close', r));
  return runId!;
}

beforeAll(async () => {
  dir = tempDir();
  pg = await startPostgres();
  await query(
    pg.url(),
    `CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h, repeat('x', 60) AS pad FROM generate_series(1, ${ROWS}) g`,
  );
  await query(pg.url(), 'CREATE INDEX big_h ON big (h); CREATE INDEX big_pad ON big (pad, h)');
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  medium = join(dir.path, 'medium');
  identity = join(dir.path, 'id.age');
  signKey = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'drive').status).toBe(0);
  const recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
  const r = lifeboat(
    env,
    'backup',
    'pg',
    '--system',
    'big',
    '--db',
    pg.url(),
    '--to',
    medium,
    '--recipient',
    recipient,
    '--sign-key',
    signKey,
    '--json',
  );
  expect(r.status, r.stderr).toBe(0);
  setId = json<{ set_id: string }>(r).set_id;
}, 300_000);

afterAll(async () => {
  await pg?.destroy();
  dir?.cleanup();
});

describe('kill -9 of lifeboat restore pg', () => {
  it('leaves no pg_restore behind; the run resumes (dropping and redoing the partial database) and its decoded dump goes', async () => {
    const runId = await killMidRestore('crashed');
    // The kernel (PR_SET_PDEATHSIG) and the group watchdog end pg_restore and its workers at once.
    const until = Date.now() + 5_000;
    while (processesWith('pg_restore', 'crashed').length > 0 && Date.now() < until) await sleep(50);
    expect(processesWith('pg_restore', 'crashed')).toEqual([]);
    expect(killedGroups.length).toBeGreaterThan(0);
    expect(killedGroups.flatMap((g) => processesWith('lifeboat-watchdog', g))).toEqual([]);

    const resumed = await lifeboatAsync(env, 'run', '--resume', runId, '--identity', identity, '--json');
    expect(resumed.status, resumed.stdout + resumed.stderr).toBe(0);
    const res = json<{ status: string; steps: Array<{ id: string; attempts: number }> }>(resumed);
    expect(res.status).toBe('succeeded');
    expect(res.steps.find((s) => s.id === 'restore')!.attempts).toBe(2);
    expect(await query(dbUrl('crashed'), 'SELECT count(*)::int AS n FROM big')).toEqual([{ n: ROWS }]);
    expect(existsSync(join(env.LIFEBOAT_HOME!, 'runs', runId))).toBe(false);
  }, 240_000);

  it('a killed run can be cancelled instead: the decoded dump goes, and the journal says what the target was left with', async () => {
    const runId = await killMidRestore('crashed_too');
    const until = Date.now() + 5_000;
    while (processesWith('pg_restore', 'crashed_too').length > 0 && Date.now() < until) await sleep(50);
    expect(processesWith('pg_restore', 'crashed_too')).toEqual([]);
    const c = lifeboat(env, 'run', '--cancel', runId, '--reason', 'test: not needed any more');
    expect(c.status, c.stdout + c.stderr).toBe(0);
    expect(existsSync(join(env.LIFEBOAT_HOME!, 'runs', runId))).toBe(false);
  }, 240_000);
});
