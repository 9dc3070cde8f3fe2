import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRunAs, runPgTool } from '../../electron/engine/postgres/scratch-cluster';
import { json, lifeboat, lifeboatAsync } from '../helpers/cli';
import { query, type ScratchCluster } from '../helpers/postgres';
import { nextSecond } from '../helpers/clock';
import { keyedMedium } from '../helpers/keyed-medium';
import { tempDir } from '../helpers/temp';
import { chownForPostgres, startArchivingPostgres, switchAndArchive, walPushCommand } from '../helpers/wal-archiving';

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let identity: string;
let recipient: string;
let signKey: string;
const times: Record<'t1' | 't2' | 'target' | 't3', string> = { t1: '', t2: '', target: '', t3: '' };

async function insert(tag: string): Promise<string> {
  const [row] = await query<{ at: Date }>(pg.url(), 'INSERT INTO marks (tag) VALUES ($1) RETURNING at', [tag]);
  return row!.at.toISOString();
}

function walFiles(root: string): string[] {
  const out: string[] = [];
  const base = join(root, 'wal', 'shop');
  for (const t of readdirSync(base)) for (const f of readdirSync(join(base, t))) out.push(join(base, t, f));
  return out.sort();
}

/** The archived segments themselves (not their signature sidecars). */
function segmentFiles(root: string): string[] {
  return walFiles(root).filter((f) => /\/[0-9A-F]{24}\.[0-9a-f]{64}\.zst(\.age)?$/.test(f));
}

beforeAll(async () => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  ({ medium, identity, recipient, signKey } = keyedMedium(env, dir.path, { label: 'pitr', trust: true }));
  // PostgreSQL's archiver runs as the server's user: it must be able to write the archive.
  chownForPostgres(dir.path);
  pg = await startArchivingPostgres(dir.path, walPushCommand({ system: 'shop', medium, recipient, signKey }));
  await query(pg.url(), 'CREATE TABLE marks (tag text PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())');
  const base = lifeboat(
    env,
    'backup',
    'pg-base',
    '--system',
    'shop',
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
  expect(base.status, base.stderr).toBe(0);
  // Each event in a second of its own: stamps read to the second still order them.
  await nextSecond();
  times.t1 = await insert('t1');
  await switchAndArchive(pg);
  await nextSecond();
  times.t2 = await insert('t2');
  await switchAndArchive(pg);
  await nextSecond();
  times.target = new Date().toISOString();
  await nextSecond();
  times.t3 = await insert('t3');
  await switchAndArchive(pg);
}, 240_000);

afterAll(async () => {
  await pg?.destroy();
  dir?.cleanup();
});

describe('the WAL archive', () => {
  it('stores segments compressed, encrypted, named with their hash, each with its signature sidecar', () => {
    const files = walFiles(medium).map((f) => f.split('/').pop()!);
    expect(files.some((f) => /^[0-9A-F]{24}\.[0-9a-f]{64}\.zst\.age$/.test(f))).toBe(true);
    expect(files.some((f) => /\.backup\.[0-9a-f]{64}\.zst\.age$/.test(f))).toBe(true);
    const stored = files.filter((f) => !f.endsWith('.sig'));
    expect(stored.every((f) => files.includes(`${f}.sig`))).toBe(true);
  });

  it('accepts a retry of the same content and refuses a different one under the same name', () => {
    const name = walFiles(medium)
      .map((f) => f.split('/').pop()!)
      .find((f) => /^[0-9A-F]{24}\./.test(f))!
      .slice(0, 24);
    const fetched = join(dir.path, name);
    const got = lifeboat(env, 'wal-fetch', name, fetched, '--system', 'shop', '--from', medium, '--identity', identity);
    expect(got.status, got.stderr).toBe(0);
    expect(
      lifeboat(
        env,
        'wal-push',
        fetched,
        '--system',
        'shop',
        '--to',
        medium,
        '--recipient',
        recipient,
        '--sign-key',
        signKey,
      ).status,
    ).toBe(0);
    const other = join(dir.path, 'other', name);
    mkdirSync(join(dir.path, 'other'), { recursive: true });
    const bytes = readFileSync(fetched);
    bytes[100]! ^= 0xff;
    writeFileSync(other, bytes);
    const refused = lifeboat(
      env,
      'wal-push',
      other,
      '--system',
      'shop',
      '--to',
      medium,
      '--recipient',
      recipient,
      '--sign-key',
      signKey,
    );
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('different content');
  });

  it('wal-fetch exits non-zero, quietly, for a file the archive does not hold', () => {
    const r = lifeboat(
      env,
      'wal-fetch',
      '0000000100000099000000FF',
      join(dir.path, 'x'),
      '--system',
      'shop',
      '--from',
      medium,
      '--identity',
      identity,
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
  });
});

describe('verifying the chain', () => {
  it('lifeboat verify --wal decodes, hash- and signature-checks every archived file and finds no gap', () => {
    const r = lifeboat(env, 'verify', medium, '--wal', 'shop', '--identity', identity, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const c = json<{ ok: boolean; files: number; corrupt: unknown[]; unsigned: unknown[]; gaps: unknown[] }>(r);
    expect(c.ok).toBe(true);
    expect(c.unsigned).toEqual([]);
    expect(c.files).toBeGreaterThanOrEqual(4);
  });
});

describe('the catalog', () => {
  it('knows the WAL archive of the system after a scan, offline', () => {
    expect(lifeboat(env, 'scan', medium).status).toBe(0);
    const systems = json<
      Array<{ system: string; wal: Array<{ files: number; gaps: number; lastSegment: string; timelines: number[] }> }>
    >(lifeboat(env, 'systems', '--json'));
    const wal = systems.find((s) => s.system === 'shop')!.wal;
    expect(wal).toHaveLength(1);
    expect(wal[0]!.files).toBeGreaterThanOrEqual(4);
    expect(wal[0]!.gaps).toBe(0);
    expect(wal[0]!.timelines).toEqual([1]);
    expect(wal[0]!.lastSegment).toMatch(/^[0-9A-F]{24}$/);
  });
});

describe('planning', () => {
  it('shows the base backup, the timeline and a window that ends at the last commit (read with pg_waldump)', () => {
    const r = lifeboat(
      env,
      'pitr',
      'plan',
      '--system',
      'shop',
      '--from',
      medium,
      '--identity',
      identity,
      '--target-time',
      times.target,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const plan = json<{
      bases: unknown[];
      windows: Array<{ to: string; toBasis: string }>;
      gaps: unknown[];
      target: { inside: boolean; segments: string[] };
    }>(r);
    expect(plan.bases).toHaveLength(1);
    expect(plan.gaps).toEqual([]);
    expect(plan.windows[0]!.toBasis).toBe('commit record (pg_waldump)');
    expect(Date.parse(plan.windows[0]!.to)).toBeGreaterThanOrEqual(Date.parse(times.t3) - 1000);
    expect(plan.target.inside).toBe(true);
  });

  it('a target after the last archived transaction is outside the window', () => {
    const r = lifeboat(
      env,
      'pitr',
      'plan',
      '--system',
      'shop',
      '--from',
      medium,
      '--identity',
      identity,
      '--target-time',
      new Date(Date.now() + 3_600_000).toISOString(),
      '--json',
    );
    expect(r.status).toBe(1);
    expect(json<{ target: { inside: boolean; warnings: string[] } }>(r).target.warnings.join(' ')).toContain(
      'after the last recoverable transaction',
    );
  });
});

describe('restore to a point in time', () => {
  it('recovers t1 and t2, not t3, and reports the last replayed transaction', async () => {
    // A space in the data directory: pg_ctl hands -o to a shell, so the socket folder must be quoted.
    const data = join(dir.path, 'restored cluster');
    // The WAL spool (and with it restore_command) under a folder that needs shell, %-placeholder and conf-string quoting.
    const spoolParent = join(dir.path, "tmp it's 100%f");
    mkdirSync(spoolParent);
    const r = await lifeboatAsync(
      { ...env, TMPDIR: spoolParent },
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      medium,
      '--target-time',
      times.target,
      '--data-dir',
      data,
      '--identity',
      identity,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    // The spool held decrypted WAL: gone once replay is over.
    expect(readdirSync(spoolParent).filter((n) => n.startsWith('lifeboat-wal-spool-'))).toEqual([]);
    // The server replayed through it: the quote doubled for the conf file, the % for restore_command's placeholders.
    expect(readFileSync(join(data, 'postgresql.auto.conf'), 'utf8')).toContain(
      `tmp it''\\\\''''s 100%%f/lifeboat-wal-spool-`,
    );
    const res = json<{ port: number; replayedTo: string; running: boolean; timeline: number; stopCommand: string }>(r);
    expect(res.running).toBe(true);
    // The command printed for the operator names pg_ctl by its path and the folder as one shell word (as the postgres user when root).
    expect(res.stopCommand).toBe(
      `${postgresRunAs() ? 'runuser -u postgres -- ' : ''}${join(pg.binDir, 'pg_ctl')} -D '${data}' stop`,
    );
    try {
      const rows = await query<{ tag: string }>(
        `postgres://postgres@127.0.0.1:${res.port}/postgres`,
        'SELECT tag FROM marks ORDER BY tag',
      );
      expect(rows.map((x) => x.tag)).toEqual(['t1', 't2']);
      expect(Date.parse(res.replayedTo)).toBeGreaterThanOrEqual(Date.parse(times.t2) - 1);
      expect(Date.parse(res.replayedTo)).toBeLessThan(Date.parse(times.t3));
      expect(res.timeline).toBe(2);
    } finally {
      await runPgTool(join(pg.binDir, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], { runAs: postgresRunAs() });
    }
    // The promotion started timeline 2: archive its history file and the planner shows the fork.
    const history = join(data, 'pg_wal', '00000002.history');
    expect(existsSync(history)).toBe(true);
    expect(
      lifeboat(
        env,
        'wal-push',
        history,
        '--system',
        'shop',
        '--to',
        medium,
        '--recipient',
        recipient,
        '--sign-key',
        signKey,
      ).status,
    ).toBe(0);
    const plan = json<{ timelines: Array<{ timeline: number; parent: number | null }>; warnings: string[] }>(
      lifeboat(env, 'pitr', 'plan', '--system', 'shop', '--from', medium, '--identity', identity, '--json'),
    );
    expect(plan.timelines.find((t) => t.timeline === 2)?.parent).toBe(1);
    expect(plan.warnings.join(' ')).toContain('2 timelines');
  });

  it('refuses a non-empty data directory and a wrong identity', async () => {
    const busy = join(dir.path, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'PG_VERSION'), '15');
    const r = await lifeboatAsync(
      env,
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      medium,
      '--target-time',
      times.target,
      '--data-dir',
      busy,
      '--identity',
      identity,
      '--json',
    );
    expect(r.status).toBe(1);
    expect(json<{ error: { message: string } }>(r).error.message).toContain('not empty');
    const other = join(dir.path, 'other.age');
    lifeboat(env, 'keys', 'age-new', '--out', other);
    const w = await lifeboatAsync(
      env,
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      medium,
      '--target-time',
      times.target,
      '--data-dir',
      join(dir.path, 'wrong-key'),
      '--identity',
      other,
      '--json',
    );
    expect(w.status).not.toBe(0);
    expect(json<{ error: { code: string } }>(w).error.code).toBe('DECRYPTION_FAILED');
  });

  it('a target at the end of a base backup with no WAL after it is inside the window and restores (recovery_target immediate)', async () => {
    // The base backup alone on another medium: no archive there, so its window is the one point of its end.
    const copy = join(dir.path, 'base-only');
    mkdirSync(copy);
    cpSync(join(medium, 'lifeboat-medium.json'), join(copy, 'lifeboat-medium.json'));
    cpSync(join(medium, 'sets'), join(copy, 'sets'), { recursive: true });
    const baseId = readdirSync(join(copy, 'sets', 'shop')).find((n) => n.endsWith('-pg-base'))!;
    const end = (
      JSON.parse(readFileSync(join(copy, 'sets', 'shop', baseId, 'manifest.json'), 'utf8')) as {
        source: { backup_finished_at: string };
      }
    ).source.backup_finished_at;
    const plan = json<{
      windows: Array<{ from: string; to: string }>;
      target: { inside: boolean; stop: string; warnings: string[] };
    }>(
      lifeboat(
        env,
        'pitr',
        'plan',
        '--system',
        'shop',
        '--from',
        copy,
        '--identity',
        identity,
        '--target-time',
        end,
        '--json',
      ),
    );
    expect(plan.windows).toMatchObject([{ from: end, to: end }]);
    expect(plan.target).toMatchObject({ inside: true, stop: 'immediate' });
    expect(plan.target.warnings.join(' ')).toMatch(/end of the base backup .* with no WAL after it/);
    const data = join(dir.path, 'base-end');
    const r = await lifeboatAsync(
      env,
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      copy,
      '--target-time',
      end,
      '--data-dir',
      data,
      '--identity',
      identity,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(join(data, 'postgresql.auto.conf'), 'utf8')).toContain("recovery_target = 'immediate'");
    try {
      // The base backup was taken after the table was made and before t1.
      const rows = await query<{ tag: string }>(
        `postgres://postgres@127.0.0.1:${json<{ port: number }>(r).port}/postgres`,
        'SELECT tag FROM marks',
      );
      expect(rows).toEqual([]);
    } finally {
      await runPgTool(join(pg.binDir, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], { runAs: postgresRunAs() });
    }
  });

  it('refuses a base backup of another PostgreSQL major version', async () => {
    const copy = join(dir.path, 'major-copy');
    cpSync(medium, copy, { recursive: true });
    const setsDir = join(copy, 'sets', 'shop');
    for (const setId of readdirSync(setsDir)) {
      const manifest = join(setsDir, setId, 'manifest.json');
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as { kind: string; source: Record<string, unknown> };
      if (m.kind !== 'pg-base') continue;
      m.source.server_major = 14;
      writeFileSync(manifest, JSON.stringify(m));
    }
    const r = await lifeboatAsync(
      env,
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      copy,
      '--target-time',
      times.target,
      '--data-dir',
      join(dir.path, 'major-restore'),
      '--identity',
      identity,
      '--json',
    );
    expect(r.status).toBe(2);
    const err = json<{ error: { code: string; message: string } }>(r).error;
    expect(err.code).toBe('TOOL_VERSION_MISMATCH');
    expect(err.message).toContain('PostgreSQL 14');
    expect(existsSync(join(dir.path, 'major-restore'))).toBe(false);
  });

  it('a missing middle segment shows as a gap and targets past it are refused', async () => {
    const copy = join(dir.path, 'gap-copy');
    cpSync(medium, copy, { recursive: true });
    const segs = segmentFiles(copy);
    const { rmSync } = await import('node:fs');
    rmSync(segs[1]!);
    rmSync(`${segs[1]!}.sig`);
    const plan = json<{ gaps: Array<{ from: string }>; warnings: string[] }>(
      lifeboat(env, 'pitr', 'plan', '--system', 'shop', '--from', copy, '--identity', identity, '--json'),
    );
    expect(plan.gaps).toHaveLength(1);
    expect(plan.warnings.join(' ')).toContain('WAL gap');
    const chain = lifeboat(env, 'verify', copy, '--wal', 'shop', '--identity', identity, '--json');
    expect(chain.status).toBe(1);
    expect(json<{ gaps: unknown[]; corrupt: unknown[] }>(chain).gaps).toHaveLength(1);
    const r = await lifeboatAsync(
      env,
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      copy,
      '--target-time',
      times.target,
      '--data-dir',
      join(dir.path, 'gap-restore'),
      '--identity',
      identity,
      '--json',
    );
    expect(r.status).toBe(1);
    expect(json<{ error: { message: string } }>(r).error.message).toContain('outside the recoverable window');
  });

  it('a corrupted segment is refused by wal-fetch and stops the restore (the server is stopped before use)', async () => {
    const copy = join(dir.path, 'corrupt-copy');
    cpSync(medium, copy, { recursive: true });
    const seg = segmentFiles(copy)[1]!;
    const name = seg.split('/').pop()!.slice(0, 24);
    // Re-store a different content under the segment's name and hash: only the hash check catches it.
    mkdirSync(join(dir.path, 'forge'), { recursive: true });
    const fetched = join(dir.path, 'forge', name);
    expect(
      lifeboat(env, 'wal-fetch', name, fetched, '--system', 'shop', '--from', copy, '--identity', identity).status,
    ).toBe(0);
    const bytes = readFileSync(fetched);
    bytes[5000]! ^= 0x01;
    const { rmSync } = await import('node:fs');
    rmSync(seg);
    const staging = join(dir.path, 'staging-medium');
    cpSync(copy, staging, { recursive: true });
    writeFileSync(fetched, bytes);
    expect(
      lifeboat(env, 'wal-push', fetched, '--system', 'shop', '--to', staging, '--recipient', recipient).status,
    ).toBe(0);
    const forged = walFiles(staging).find((f) => f.split('/').pop()!.startsWith(name))!;
    cpSync(forged, seg.replace(/\.[0-9a-f]{64}\./, `.${seg.match(/\.([0-9a-f]{64})\./)![1]}.`));
    // Beside the original's signature, the swapped bytes are refused by the signature check…
    const signed = lifeboat(
      env,
      'wal-fetch',
      name,
      join(dir.path, 'never'),
      '--system',
      'shop',
      '--from',
      copy,
      '--identity',
      identity,
    );
    expect(signed.status).toBe(1);
    expect(signed.stderr).toContain(`${name} was refused`);
    // …and unsigned (its sidecar removed, accepted explicitly), by the plaintext hash.
    rmSync(`${seg}.sig`);
    const r = lifeboat(
      env,
      'wal-fetch',
      name,
      join(dir.path, 'never'),
      '--system',
      'shop',
      '--from',
      copy,
      '--identity',
      identity,
      '--allow-unsigned-wal',
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('corrupted');
    expect(existsSync(join(dir.path, 'never'))).toBe(false);
    const chain = lifeboat(
      env,
      'verify',
      copy,
      '--wal',
      'shop',
      '--identity',
      identity,
      '--allow-unsigned-wal',
      '--json',
    );
    expect(chain.status).toBe(1);
    expect(json<{ corrupt: Array<{ name: string }> }>(chain).corrupt.map((c) => c.name)).toEqual([name]);
    const restore = await lifeboatAsync(
      env,
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      copy,
      '--target-time',
      times.target,
      '--data-dir',
      join(dir.path, 'corrupt-restore'),
      '--identity',
      identity,
      '--allow-unsigned-wal',
      '--json',
    );
    expect(restore.status).toBe(1);
    const err = json<{ error: { code: string; message: string } }>(restore).error;
    expect(err.code).toBe('CHECKSUM_MISMATCH');
    expect(err.message).toContain('The restore stopped');
  });

  it('a segment added to the archive (unsigned) is refused before anything is extracted; a replaced one stops the restore', async () => {
    const copy = join(dir.path, 'added-copy');
    cpSync(medium, copy, { recursive: true });
    const segs = segmentFiles(copy);
    const last = segs[segs.length - 1]!.split('/').pop()!.slice(0, 24);
    const next = `${last.slice(0, 16)}${(Number.parseInt(last.slice(16), 16) + 1).toString(16).toUpperCase().padStart(8, '0')}`;
    mkdirSync(join(dir.path, 'forge-added'), { recursive: true });
    const forged = join(dir.path, 'forge-added', next);
    writeFileSync(forged, Buffer.alloc(16 * 1024 * 1024));
    // Pushed by someone with write access to the medium and the public recipient, but not the signing key.
    expect(lifeboat(env, 'wal-push', forged, '--system', 'shop', '--to', copy, '--recipient', recipient).status).toBe(
      0,
    );
    const plan = lifeboat(
      env,
      'pitr',
      'plan',
      '--system',
      'shop',
      '--from',
      copy,
      '--identity',
      identity,
      '--target-time',
      times.target,
      '--json',
    );
    expect(plan.status).toBe(1);
    const p = json<{ signatures: { unsigned: number }; target: { refused: Array<{ name: string; state: string }> } }>(
      plan,
    );
    expect(p.signatures.unsigned).toBe(1);
    expect(p.target.refused).toEqual([expect.objectContaining({ name: next, state: 'unsigned' })]);
    const data = join(dir.path, 'added-restore');
    const r = await lifeboatAsync(
      env,
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      copy,
      '--target-time',
      times.target,
      '--data-dir',
      data,
      '--identity',
      identity,
      '--json',
    );
    expect(r.status).toBe(1);
    const err = json<{ error: { code: string; message: string } }>(r).error;
    expect(err.code).toBe('UNTRUSTED_SIGNER');
    expect(err.message).toContain(`${next} is unsigned`);
    expect(err.message).toContain('Nothing was restored');
    expect(existsSync(data)).toBe(false);
  });
});

/** The first regular file under base/ with content in a tar: its name and where its data starts. */
function firstDataFile(tar: Buffer): { name: string; offset: number; size: number } {
  for (let pos = 0; pos + 512 <= tar.length;) {
    const h = tar.subarray(pos, pos + 512);
    if (h.every((b) => b === 0)) break;
    const cstr = (a: number, n: number): string =>
      h
        .subarray(a, a + n)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const name = [cstr(345, 155), cstr(0, 100)].filter(Boolean).join('/');
    const size = Number.parseInt(cstr(124, 12).trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    if ((type === '0' || type === '\0') && name.startsWith('base/') && size > 8192)
      return { name, offset: pos + 512, size };
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('no data file in the tar');
}

describe("the base backup against PostgreSQL's own backup_manifest", () => {
  const setDir = (root: string): string => {
    const sets = join(root, 'sets', 'shop');
    return join(
      sets,
      readdirSync(sets).find(
        (d) => JSON.parse(readFileSync(join(sets, d, 'manifest.json'), 'utf8')).kind === 'pg-base',
      )!,
    );
  };

  it('deep verification checks every file of base.tar against it', () => {
    const r = lifeboat(env, 'verify', setDir(medium), '--level', 'deep', '--identity', identity, '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const res = json<{ results: Array<{ verdict: string; artifacts?: unknown }> }>(r);
    expect(JSON.stringify(res.results)).toContain("match PostgreSQL's backup_manifest (SHA256)");
  });

  it('a data file changed inside base.tar, re-encoded with matching outer hashes and re-signed, fails deep verification, PITR extraction and pg_verifybackup, naming the file', async () => {
    const { execFileSync } = await import('node:child_process');
    const { sha256sums } = await import('../../electron/engine/format/manifest');
    const { loadSigningKey, signManifest } = await import('../../electron/engine/crypto/signing');
    const copy = join(dir.path, 'forged-base');
    cpSync(medium, copy, { recursive: true });
    const set = setDir(copy);
    const m = JSON.parse(readFileSync(join(set, 'manifest.json'), 'utf8')) as {
      artifacts: Array<{ path: string; bytes: number; sha256: string; plain_sha256: string }>;
    };
    const art = m.artifacts[0]!;
    const tar = execFileSync('zstd', ['-d', '-c'], {
      input: execFileSync('age', ['-d', '-i', identity, join(set, art.path)], { maxBuffer: 2 ** 31 }),
      maxBuffer: 2 ** 31,
    });
    // By hand, the legitimate base passes pg_verifybackup (the docs' recipe; WAL is inside pg_wal).
    const good = join(dir.path, 'by-hand-good');
    mkdirSync(good);
    execFileSync('tar', ['-xf', '-', '-C', good], { input: tar, maxBuffer: 2 ** 31 });
    expect(execFileSync(join(pg.binDir, 'pg_verifybackup'), [good], { encoding: 'utf8' })).toContain(
      'backup successfully verified',
    );
    const victim = firstDataFile(tar);
    tar[victim.offset + 4000]! ^= 0x5a;
    const stored = execFileSync('age', ['-r', recipient], {
      input: execFileSync('zstd', ['-q', '-c'], { input: tar, maxBuffer: 2 ** 31 }),
      maxBuffer: 2 ** 31,
    });
    writeFileSync(join(set, art.path), stored);
    const { createHash } = await import('node:crypto');
    art.bytes = stored.length;
    art.sha256 = createHash('sha256').update(stored).digest('hex');
    art.plain_sha256 = createHash('sha256').update(tar).digest('hex');
    const manifestText = Buffer.from(JSON.stringify(m));
    writeFileSync(join(set, 'manifest.json'), manifestText);
    writeFileSync(join(set, 'SHA256SUMS'), sha256sums(m as never));
    // Signed by the pinned key: the outer checks all pass.
    writeFileSync(join(set, 'manifest.json.sig'), signManifest(manifestText, loadSigningKey(readFileSync(signKey))));
    const v = lifeboat(env, 'verify', set, '--level', 'deep', '--identity', identity, '--json');
    expect(v.status).toBe(1);
    const result = json<{ results: Array<{ verdict: string; detail: string }> }>(v).results[0]!;
    expect(result.verdict).toBe('corrupted');
    expect(result.detail).toContain(`${victim.name}: SHA256 checksum`);
    const data = join(dir.path, 'forged-restore');
    const restore = await lifeboatAsync(
      env,
      'restore',
      'pg-pitr',
      '--system',
      'shop',
      '--from',
      copy,
      '--target-time',
      times.target,
      '--data-dir',
      data,
      '--identity',
      identity,
      '--json',
    );
    expect(restore.status).toBe(1);
    const err = json<{ error: { code: string; message: string } }>(restore).error;
    expect(err.code).toBe('CHECKSUM_MISMATCH');
    expect(err.message).toContain(`differs from PostgreSQL's own backup_manifest: ${victim.name}`);
    // Nothing of the refused base is left in the data directory (no backup_label to start a server on).
    expect(readdirSync(data)).toEqual([]);
    const bad = join(dir.path, 'by-hand-bad');
    mkdirSync(bad);
    execFileSync('tar', ['-xf', '-', '-C', bad], { input: tar, maxBuffer: 2 ** 31 });
    const pv = spawnSync(join(pg.binDir, 'pg_verifybackup'), [bad], { encoding: 'utf8' });
    expect(pv.status).not.toBe(0);
    expect(pv.stderr).toContain(victim.name);
  }, 120_000);

  it("CRC-32C, PostgreSQL's default manifest checksum, is computed as PostgreSQL does (a plain pg_basebackup tar)", async () => {
    const { execFileSync } = await import('node:child_process');
    const { backupManifestConsumer } = await import('../../electron/engine/verify/consumers');
    const tar = execFileSync(
      join(pg.binDir, 'pg_basebackup'),
      ['--format=tar', '--pgdata=-', '--wal-method=fetch', '--checkpoint=fast', `--dbname=${pg.url()}`],
      { maxBuffer: 2 ** 31 },
    );
    expect(tar.toString('latin1')).toContain('"Checksum-Algorithm": "CRC32C"');
    const c = backupManifestConsumer();
    await new Promise<void>((resolve, reject) => c.sink.end(tar, () => resolve()).once('error', reject));
    const ok = await c.outcome();
    expect(ok.verdict, ok.detail ?? '').toBe('ok');
    expect(ok.detail).toContain('(CRC32C)');
    const victim = firstDataFile(tar);
    tar[victim.offset + 100]! ^= 0x01;
    const c2 = backupManifestConsumer();
    await new Promise<void>((resolve, reject) => c2.sink.end(tar, () => resolve()).once('error', reject));
    const bad = await c2.outcome();
    expect(bad.verdict).toBe('corrupted');
    expect(bad.detail).toContain(`${victim.name}: CRC32C checksum`);
  }, 120_000);
});

describe('the database-corruption runbook', () => {
  it('recovers to the good time by PITR when the archive covers it (drill), and skips the logical path', () => {
    expect(lifeboat(env, 'scan', medium).status).toBe(0);
    const r = lifeboat(
      env,
      'run',
      'database-corruption',
      '--drill',
      '--yes',
      '--input',
      'system=shop',
      '--input',
      `good_before=${times.target}`,
      '--identity',
      identity,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const res = json<{
      run: string;
      status: string;
      achieved: { rpo_seconds: number };
      steps: Array<{ id: string; status: string; output: Record<string, unknown> | null; skipReason: string | null }>;
    }>(r);
    const step = (id: string): (typeof res.steps)[number] => res.steps.find((s) => s.id === id)!;
    expect(step('plan').output!.available).toBe(true);
    expect(step('recover').status).toBe('done');
    expect(Date.parse(String(step('recover').output!.replayed_to))).toBeLessThan(Date.parse(times.t3));
    expect(step('validate-recovered').status).toBe('done');
    for (const id of ['select', 'verify', 'confirm-target', 'restore', 'validate']) {
      expect(step(id).status).toBe('skipped');
      expect(step(id).skipReason).toContain('does not apply');
    }
    // The scratch server and its data are gone with the drill.
    expect(existsSync(join(String(step('recover').output!.data_dir), 'PG_VERSION'))).toBe(false);
  });
});

describe('an archive written before WAL signing, in a runbook', () => {
  it('pitr.plan refuses it (so the runbook can fall back); restore.pg-pitr with allow_unsigned_wal recovers and journals what it accepted', async () => {
    const copy = join(dir.path, 'unsigned-copy');
    cpSync(medium, copy, { recursive: true });
    const { rmSync } = await import('node:fs');
    for (const f of walFiles(copy).filter((x) => x.endsWith('.sig'))) rmSync(f);
    const book = join(dir.path, 'pitr-unsigned.yaml');
    const target = times.target;
    writeFileSync(
      book,
      [
        'id: pitr-unsigned',
        'title: PITR from an archive written before WAL signing',
        'description: The operator accepts unsigned WAL explicitly.',
        'level: 2',
        'objectives: { rto: 1h, rpo: 15m }',
        'inputs:',
        '  - { id: system, type: system, label: System }',
        'steps:',
        '  - id: strict',
        '    kind: action',
        '    title: Plan with the default policy',
        '    action: pitr.plan',
        `    with: { system: "{{ inputs.system }}", target_time: "${target}", medium: "${copy}" }`,
        '  - id: recover',
        '    kind: action',
        '    title: Recover, accepting unsigned WAL',
        '    action: restore.pg-pitr',
        `    with: { system: "{{ inputs.system }}", target_time: "${target}", medium: "${copy}", allow_unsigned_wal: true }`,
        '',
      ].join('\n'),
    );
    const r = await lifeboatAsync(
      env,
      'run',
      book,
      '--drill',
      '--yes',
      '--input',
      'system=shop',
      '--identity',
      identity,
      '--json',
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const res = json<{ steps: Array<{ id: string; status: string; output: Record<string, unknown> | null }> }>(r);
    const strict = res.steps.find((x) => x.id === 'strict')!.output!;
    expect(strict.available).toBe(false);
    expect(String(strict.reason)).toMatch(/is refused \(unsigned/);
    const recover = res.steps.find((x) => x.id === 'recover')!;
    expect(recover.status).toBe('done');
    expect(recover.output!.allow_unsigned_wal).toBe(true);
    const accepted = recover.output!.unsigned_wal_accepted as Array<{ name: string; state: string }>;
    expect(accepted.length).toBeGreaterThanOrEqual(3);
    expect(accepted.every((a) => a.state === 'unsigned')).toBe(true);
    expect((recover.output!.warnings as string[]).join(' ')).toContain('--allow-unsigned-wal');
  }, 180_000);
});

describe('retention', () => {
  it('prune keeps the WAL the retained base backups need and removes the rest (dry run first)', async () => {
    const second = lifeboat(
      env,
      'backup',
      'pg-base',
      '--system',
      'shop',
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
    expect(second.status, second.stderr).toBe(0);
    // The first base was deep-verified above: the newest verified set is kept whatever the policy, so verify the second too.
    expect(lifeboat(env, 'verify', medium, '--level', 'integrity').status).toBe(0);
    await insert('t4');
    await switchAndArchive(pg);
    const dry = json<{ remove: unknown[]; wal: Array<{ system: string; remove: number; keep_from: string }> }>(
      lifeboat(
        env,
        'prune',
        '--to',
        medium,
        '--keep-last',
        '1',
        '--keep-daily',
        '0',
        '--keep-weekly',
        '0',
        '--keep-monthly',
        '0',
        '--json',
      ),
    );
    expect(dry.remove).toHaveLength(1);
    const plannedWal = dry.wal.find((w) => w.system === 'shop')!;
    expect(plannedWal.remove).toBeGreaterThan(0);
    // Archived segments only: a push in flight (or one killed with its server) leaves a
    // `.<name>.partial-<pid>` file, which is not part of the archive and not prune's to judge.
    const older = (): string[] =>
      walFiles(medium)
        .map((f) => f.split('/').pop()!)
        .filter((f) => /^[0-9A-F]{24}\./.test(f) && !f.endsWith('.sig') && f.slice(0, 24) < plannedWal.keep_from);
    expect(older()).toHaveLength(plannedWal.remove); // a dry run touches nothing
    const applied = lifeboat(
      env,
      'prune',
      '--to',
      medium,
      '--keep-last',
      '1',
      '--keep-daily',
      '0',
      '--keep-weekly',
      '0',
      '--keep-monthly',
      '0',
      '--apply',
      '--json',
    );
    expect(applied.status, applied.stderr).toBe(0);
    const left = walFiles(medium).map((f) => f.split('/').pop()!);
    expect(older()).toEqual([]);
    expect(left.some((f) => f.startsWith('00000002.history'))).toBe(true);
    expect(left.filter((f) => /^[0-9A-F]{24}\./.test(f)).every((f) => f.slice(0, 24) >= plannedWal.keep_from)).toBe(
      true,
    );
    // Sidecars went with their files: none is left without the file it signs.
    expect(left.filter((f) => f.endsWith('.sig')).every((f) => left.includes(f.slice(0, -'.sig'.length)))).toBe(true);
    // The retained base backup still has an intact window.
    const chain = json<{ ok: boolean; windows: unknown[] }>(
      lifeboat(env, 'verify', medium, '--wal', 'shop', '--identity', identity, '--json'),
    );
    expect(chain.ok).toBe(true);
    expect(chain.windows).toHaveLength(1);
  });
});
