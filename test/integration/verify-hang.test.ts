import { spawn } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, lifeboat } from '../helpers/cli';
import { query, startPostgres, type ScratchCluster } from '../helpers/postgres';
import { loadSampleData } from '../helpers/sample-data';
import { keyedMedium } from '../helpers/keyed-medium';
import { tempDir } from '../helpers/temp';

// No verdict may leave a process behind: every tamper case, at every level, must end within a
// bound, and nothing the run started (pg_restore, zstd, age, a scratch PostgreSQL) may outlive it.

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let pristine: string;
let identity: string;
let otherIdentity: string;
/** The runs' TMPDIR: a scratch cluster started by a run lives under it, so its processes can be told apart. */
let runTmp: string;
const sets = { pg: '', pg2: '', files: '', big: '' };
const LEVELS = ['inventory', 'integrity', 'authenticity', 'deep', 'restore'];
const BOUND_MS = 30_000;
/** How long a run's signalled children may take to go after it exits before they count as left behind. */
const LEAK_GRACE_MS = 300;

/** Processes of process group `pgid`, or whose command line mentions `marker` (a scratch server detaches with setsid). */
function leftovers(pgid: number, marker: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (fields[0] === 'Z') continue;
      if (Number(fields[2]) === pgid || cmdline.includes(marker)) found.push(`${entry}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  left: string[];
}

/** Run the CLI in its own process group; kill the group if it outlives the bound (the test then fails on `ms`). */
function run(args: string[], onStart?: (pid: number) => void): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env, TMPDIR: runTmp },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid!;
  onStart?.(pid);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => process.kill(-pid, 'SIGKILL'), BOUND_MS);
  return new Promise((resolve) => {
    child.on('close', (status) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      // Children that were signalled get up to LEAK_GRACE_MS to go (looked at every 20 ms, not waited
      // out when none is left); what remains after that is a leak.
      const graceUntil = Date.now() + LEAK_GRACE_MS;
      const look = (): void => {
        const left = leftovers(pid, runTmp);
        if (left.length > 0 && Date.now() < graceUntil) {
          setTimeout(look, 20);
          return;
        }
        for (const l of left) {
          try {
            process.kill(Number(l.split(':')[0]), 'SIGKILL');
          } catch {
            // already gone
          }
        }
        resolve({ status, stdout, stderr, ms, left });
      };
      look();
    });
  });
}

beforeAll(async () => {
  dir = tempDir();
  runTmp = join(dir.path, 'run-tmp');
  mkdirSync(runTmp);
  // As root, scratch servers run as `postgres`, which must reach their folder under it.
  chmodSync(dir.path, 0o755);
  pg = await startPostgres();
  await loadSampleData(pg.url());
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  const keyed = keyedMedium(env, dir.path, { medium: 'pristine', label: 'usb' });
  ({ medium: pristine, identity } = keyed);
  otherIdentity = join(dir.path, 'other.age');
  expect(lifeboat(env, 'keys', 'age-new', '--out', otherIdentity).status).toBe(0);
  const backup = (...args: string[]): string => keyed.backup(args).path;
  sets.pg = backup('pg', '--system', 'shop', '--db', pg.url());
  // No wait for the next second: a set made in the same second gets the next suffix (set-writer.ts), and created_at has milliseconds.
  sets.pg2 = backup('pg', '--system', 'shop', '--db', pg.url());
  const src = join(dir.path, 'src');
  mkdirSync(join(src, 'docs'), { recursive: true });
  writeFileSync(join(src, 'docs', 'a.txt'), 'alpha'.repeat(10_000));
  writeFileSync(join(src, 'docs', 'b.txt'), 'beta');
  sets.files = backup('files', '--system', 'docs', '--path', src);
  // Large enough that a deep check is still streaming when it is cancelled.
  await query(pg.url(), 'CREATE DATABASE big');
  await query(
    pg.url('big'),
    'CREATE TABLE t AS SELECT g, md5(g::text) AS a, md5((g + 1)::text) AS b FROM generate_series(1, 1500000) g',
  );
  sets.big = backup('pg', '--system', 'big', '--db', pg.url('big'));
}, 300_000);
afterAll(async () => {
  await pg.destroy();
  dir.cleanup();
});

let copies = 0;
function tampered(fn: (root: string) => void): string {
  const root = join(dir.path, `copy-${++copies}`);
  cpSync(pristine, root, { recursive: true, verbatimSymlinks: true });
  fn(root);
  return root;
}
function flipBit(path: string, at: number): void {
  const b = readFileSync(path);
  const i = at < 0 ? b.length + at : at;
  b[Math.max(0, Math.min(i, b.length - 1))]! ^= 0x01;
  writeFileSync(path, b);
}
const size = (p: string): number => readFileSync(p).length;
function editManifest(root: string, set: string, edit: (m: Record<string, unknown>) => void): void {
  const p = join(root, set, 'manifest.json');
  const m = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  edit(m);
  writeFileSync(p, JSON.stringify(m));
}
const dump = (r: string): string => join(r, sets.pg, 'db.dump.zst.age');

const CASES: Array<[string, () => keyof typeof sets, (root: string) => void]> = [
  ['untouched pg set', () => 'pg', () => undefined],
  ['untouched files set', () => 'files', () => undefined],
  ['a bit flipped in the dump (age header)', () => 'pg', (r) => flipBit(dump(r), 100)],
  ['a bit flipped in the dump (middle)', () => 'pg', (r) => flipBit(dump(r), Math.floor(size(dump(r)) / 2))],
  ['a bit flipped in the dump (last chunk)', () => 'pg', (r) => flipBit(dump(r), -40)],
  ['a bit flipped in the file tar', () => 'files', (r) => flipBit(join(r, sets.files, 'files.tar.zst.age'), -40)],
  ['a bit flipped in the file index', () => 'files', (r) => flipBit(join(r, sets.files, 'index.jsonl.zst.age'), -20)],
  ['the dump truncated', () => 'pg', (r) => truncateSync(dump(r), 1000)],
  ['the dump with bytes appended', () => 'pg', (r) => appendFileSync(dump(r), 'extra')],
  ['the dump emptied', () => 'pg', (r) => truncateSync(dump(r), 0)],
  ['the dump swapped with another set’s', () => 'pg', (r) => cpSync(join(r, sets.pg2, 'db.dump.zst.age'), dump(r))],
  [
    'a manifest hash edited',
    () => 'pg',
    (r) =>
      editManifest(r, sets.pg, (m) => ((m.artifacts as Array<Record<string, unknown>>)[0]!.sha256 = 'f'.repeat(64))),
  ],
  [
    'the signature replaced',
    () => 'pg',
    (r) => cpSync(join(r, sets.pg2, 'manifest.json.sig'), join(r, sets.pg, 'manifest.json.sig')),
  ],
  ['the signature removed', () => 'pg', (r) => rmSync(join(r, sets.pg, 'manifest.json.sig'))],
  ['SHA256SUMS deleted', () => 'pg', (r) => rmSync(join(r, sets.pg, 'SHA256SUMS'))],
  [
    'a manifest size edited',
    () => 'pg',
    (r) => editManifest(r, sets.pg, (m) => ((m.artifacts as Array<Record<string, unknown>>)[0]!.bytes = 12345)),
  ],
  [
    '../ inside the manifest',
    () => 'pg',
    (r) =>
      editManifest(
        r,
        sets.pg,
        (m) => ((m.artifacts as Array<Record<string, unknown>>)[0]!.path = '../../../etc/shadow'),
      ),
  ],
  [
    'a manifest listing an artifact twice',
    () => 'pg',
    (r) =>
      editManifest(r, sets.pg, (m) => (m.artifacts = [...(m.artifacts as unknown[]), ...(m.artifacts as unknown[])])),
  ],
  [
    'SHA256SUMS edited',
    () => 'pg',
    (r) => writeFileSync(join(r, sets.pg, 'SHA256SUMS'), `${'0'.repeat(64)}  db.dump.zst.age\n`),
  ],
  [
    'the dump replaced by a symlink',
    () => 'pg',
    (r) => {
      cpSync(dump(r), join(r, 'elsewhere.bin'));
      rmSync(dump(r));
      symlinkSync(join(r, 'elsewhere.bin'), dump(r));
    },
  ],
];

describe('every tamper case at every level ends in time with no process left', () => {
  it.each(CASES)(
    '%s',
    async (name, which, fn) => {
      const root = tampered(fn);
      for (const level of LEVELS) {
        const r = await run(['verify', join(root, sets[which()]), '--level', level, '--identity', identity, '--json']);
        expect(r.ms, `${level}: ${r.stderr}`).toBeLessThan(BOUND_MS);
        expect([0, 1], `${level}: ${r.stderr}`).toContain(r.status);
        const results = json<{ results: Array<{ verdict: string; detail: string | null }> }>(r).results;
        expect(results).toHaveLength(1);
        // Untouched sets pass at every level (the restore level included): the bound is met by doing the work, not by skipping it.
        if (name.startsWith('untouched')) expect(results[0], level).toMatchObject({ verdict: 'ok' });
        expect(r.left, level).toEqual([]);
      }
    },
    LEVELS.length * BOUND_MS + 30_000,
  );
});

describe('decryption failures end in time too', () => {
  // The set is encrypted: the levels that read stored bytes only pass, those that must decrypt
  // (deep, restore) cannot check the content without the key. That is no verdict, 'not-checked'
  // (exit 2, never recorded against the set), and it comes at once, naming the missing key.
  const DECRYPTING = new Set(['deep', 'restore']);
  it.each([
    [
      'a wrong identity',
      () => [`--identity`, otherIdentity],
      /no identity given for key [0-9a-f]{16} \(given: [0-9a-f]{16}\)/,
    ],
    ['no identity', () => [], /no identity given for key [0-9a-f]{16}$/],
  ])(
    '%s, at every level',
    async (_name, ids, missing) => {
      for (const level of LEVELS) {
        const r = await run(['verify', join(pristine, sets.pg), '--level', level, ...ids(), '--json']);
        expect(r.ms, `${level}: ${r.stderr}`).toBeLessThan(BOUND_MS);
        const out = json<{ not_checked: number; results: Array<{ verdict: string; detail: string | null }> }>(r);
        expect(out.results, level).toHaveLength(1);
        if (DECRYPTING.has(level)) {
          expect(r.status, `${level}: ${r.stderr}`).toBe(2);
          expect(out.not_checked, level).toBe(1);
          expect(out.results[0]!.verdict, level).toBe('not-checked');
          expect(out.results[0]!.detail, level).toMatch(missing);
        } else {
          expect(r.status, `${level}: ${r.stderr}`).toBe(0);
          expect(out.results[0], level).toMatchObject({ verdict: 'ok', detail: null });
        }
        expect(r.left, level).toEqual([]);
      }
    },
    LEVELS.length * BOUND_MS + 30_000,
  );
});

describe('a cancelled deep check leaves no pg_restore behind', () => {
  it(
    'SIGTERM while pg_restore --list is being fed: the run stops, its children with it',
    async () => {
      let pgid = 0;
      let sawPgRestore = false;
      let poll: NodeJS.Timeout | undefined;
      const running = run(
        ['verify', join(pristine, sets.big), '--level', 'deep', '--identity', identity, '--json'],
        (pid) => {
          pgid = pid;
          poll = setInterval(() => {
            if (leftovers(pgid, runTmp).some((p) => /pg_restore/.test(p))) {
              sawPgRestore = true;
              clearInterval(poll);
              process.kill(pgid, 'SIGTERM');
            }
          }, 10);
        },
      );
      const r = await running;
      clearInterval(poll);
      // The check must have been caught mid-way for this test to mean anything.
      expect(sawPgRestore, r.stderr).toBe(true);
      expect(r.ms).toBeLessThan(BOUND_MS);
      expect(r.status).not.toBe(0);
      expect(r.left).toEqual([]);
    },
    BOUND_MS + 30_000,
  );
});
