import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
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
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSet } from '../../electron/engine/backup/set-writer';
import { parseIdentityFile } from '../../electron/engine/crypto/age';
import { generateSigningKey, loadSigningKey } from '../../electron/engine/crypto/signing';
import { TAR_END, tarHeader, tarPadding } from '../../electron/engine/format/tar-writer';
import { FolderMedium } from '../../electron/engine/storage/folder-medium';
import { json, lifeboat } from '../helpers/cli';
import { startPostgres, type ScratchCluster } from '../helpers/postgres';
import { loadSampleData } from '../helpers/sample-data';
import { tempDir } from '../helpers/temp';

let pg: ScratchCluster;
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let pristine: string;
let identity: string;
let otherIdentity: string;
let signKey: string;
const sets: Record<'pg' | 'pg2' | 'files' | 'unpinned' | 'evilDots' | 'evilAbs' | 'evilLink', string> = {
  pg: '',
  pg2: '',
  files: '',
  unpinned: '',
  evilDots: '',
  evilAbs: '',
  evilLink: '',
};

interface Report {
  ok: boolean;
  results: Array<{
    key: string;
    verdict: string;
    detail: string | null;
    artifacts: Array<{ path: string; verdict: string; detail: string | null }>;
  }>;
}

/** A hand-made tar whose entries would escape the extraction folder. */
function evilTar(entry: { name: string; type: 'file' | 'symlink'; linkname?: string }): Readable {
  const body = Buffer.from('payload');
  const parts = [tarHeader({ name: 'ok', type: 'dir', mode: 0o755, size: 0, mtimeMs: 0 })];
  if (entry.type === 'file')
    parts.push(
      tarHeader({ name: entry.name, type: 'file', mode: 0o644, size: body.length, mtimeMs: 0 }),
      body,
      tarPadding(body.length),
    );
  else
    parts.push(
      tarHeader({ name: entry.name, type: 'symlink', mode: 0o777, size: 0, mtimeMs: 0, linkname: entry.linkname }),
    );
  parts.push(TAR_END);
  return Readable.from([Buffer.concat(parts)]);
}

async function craftedSet(system: string, source: Readable): Promise<string> {
  const ids = parseIdentityFile(readFileSync(identity, 'utf8'));
  const written = await writeSet(
    {
      media: [new FolderMedium(pristine)],
      system,
      kind: 'files',
      tier: null,
      parent: null,
      recipients: [ids[0]!.recipient],
      signingKey: loadSigningKey(readFileSync(signKey)),
      startedAt: new Date(),
    },
    { signal: new AbortController().signal, step: () => undefined, log: () => undefined },
    async (add) => {
      await add({ name: 'files.tar', role: 'files-tar', source });
      return { source: {}, warnings: [] };
    },
  );
  return written.setPath;
}

beforeAll(async () => {
  dir = tempDir();
  pg = await startPostgres();
  await loadSampleData(pg.url());
  // Every artifact decoded on the decoder threads (restore/gate.ts), not only those of 32 MiB and
  // more: CI's one run of the tamper cases through them. The spawned CLIs get it with `env`, an
  // in-process engine from this fork's own environment.
  process.env.LIFEBOAT_DECODE_THREADS_MIN = '0';
  env = { LIFEBOAT_HOME: join(dir.path, 'home'), LIFEBOAT_DECODE_THREADS_MIN: '0' };
  pristine = join(dir.path, 'pristine');
  identity = join(dir.path, 'id.age');
  otherIdentity = join(dir.path, 'other.age');
  signKey = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', pristine, '--label', 'usb').status).toBe(0);
  const recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  lifeboat(env, 'keys', 'age-new', '--out', otherIdentity);
  lifeboat(env, 'keys', 'signing-new', '--out', signKey);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`, '--label', 'servers').status).toBe(0);
  const backup = (...args: string[]): string => {
    const r = lifeboat(env, 'backup', ...args, '--to', pristine, '--recipient', recipient, '--json');
    expect(r.status, r.stderr).toBe(0);
    return json<{ path: string }>(r).path;
  };
  sets.pg = backup('pg', '--system', 'shop', '--db', pg.url(), '--sign-key', signKey);
  // No wait for the next second: a set made in the same second gets the next suffix (set-writer.ts), and created_at has milliseconds.
  sets.pg2 = backup('pg', '--system', 'shop', '--db', pg.url(), '--sign-key', signKey);
  const src = join(dir.path, 'src');
  mkdirSync(join(src, 'docs'), { recursive: true });
  writeFileSync(join(src, 'docs', 'a.txt'), 'alpha');
  writeFileSync(join(src, 'docs', 'b.txt'), 'beta');
  sets.files = backup('files', '--system', 'docs', '--path', src, '--sign-key', signKey);
  const stranger = generateSigningKey();
  writeFileSync(join(dir.path, 'stranger.pem'), stranger.privatePem);
  sets.unpinned = backup('files', '--system', 'stranger', '--path', src, '--sign-key', join(dir.path, 'stranger.pem'));
  sets.evilDots = await craftedSet('evil-dots', evilTar({ name: '../../etc/cron.d/evil', type: 'file' }));
  sets.evilAbs = await craftedSet('evil-abs', evilTar({ name: '/etc/cron.d/evil', type: 'file' }));
  sets.evilLink = await craftedSet(
    'evil-link',
    evilTar({ name: 'ok/escape', type: 'symlink', linkname: '../../../../etc' }),
  );
}, 180_000);
afterAll(async () => {
  await pg.destroy();
  dir.cleanup();
});

let copies = 0;
/** A fresh copy of the pristine medium, tampered by `fn`; returns the copy's root. */
function tampered(fn: (root: string) => void): string {
  const root = join(dir.path, `copy-${++copies}`);
  cpSync(pristine, root, { recursive: true, verbatimSymlinks: true });
  fn(root);
  return root;
}

function verify(root: string, set: string, level: string, extra: string[] = []): Report & { status: number | null } {
  const r = lifeboat(env, 'verify', join(root, set), '--level', level, '--identity', identity, '--json', ...extra);
  expect([0, 1], r.stderr).toContain(r.status);
  return { ...json<Report>(r), status: r.status };
}

const artifact = (root: string, set: string, name: string): string => join(root, set, name);
function flipBit(path: string, at = 100): void {
  const b = readFileSync(path);
  b[Math.min(at, b.length - 1)]! ^= 0x01;
  writeFileSync(path, b);
}
function editManifest(root: string, set: string, edit: (m: Record<string, unknown>) => void): void {
  const p = join(root, set, 'manifest.json');
  const m = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  edit(m);
  writeFileSync(p, JSON.stringify(m));
}

describe('untouched sets pass, with no false positive', () => {
  it.each(['pg', 'files'] as const)('%s set at deep level', (which) => {
    const r = verify(pristine, sets[which], 'deep');
    expect(r.status).toBe(0);
    expect(r.results[0]!.verdict).toBe('ok');
  });
});

describe('the tamper matrix', () => {
  it.each([
    ['a bit flipped in the dump', 'pg', 'db.dump.zst.age'],
    ['a bit flipped in the file tar', 'files', 'files.tar.zst.age'],
    ['a bit flipped in the file index', 'files', 'index.jsonl.zst.age'],
  ] as const)('%s → corrupted', (_name, which, file) => {
    const root = tampered((r) => flipBit(artifact(r, sets[which], file)));
    const r = verify(root, sets[which], 'integrity');
    expect(r.status).toBe(1);
    expect(r.results[0]!.verdict).toBe('corrupted');
    expect(r.results[0]!.artifacts.find((a) => a.path === file)?.detail).toMatch(/last good check/);
  });

  it.each([
    ['truncated', (p: string) => truncateSync(p, 1000)],
    ['with bytes appended', (p: string) => appendFileSync(p, 'extra')],
    ['emptied', (p: string) => truncateSync(p, 0)],
  ])('an artifact %s → size-mismatch', (_name, fn) => {
    const root = tampered((r) => fn(artifact(r, sets.pg, 'db.dump.zst.age')));
    expect(verify(root, sets.pg, 'inventory').results[0]!.verdict).toBe('size-mismatch');
  });

  it('an artifact swapped with the one from another set → size-mismatch or corrupted', () => {
    const root = tampered((r) =>
      cpSync(artifact(r, sets.pg2, 'db.dump.zst.age'), artifact(r, sets.pg, 'db.dump.zst.age')),
    );
    expect(['size-mismatch', 'corrupted']).toContain(verify(root, sets.pg, 'integrity').results[0]!.verdict);
  });

  it.each([
    ['size', (m: Record<string, unknown>) => ((m.artifacts as Array<Record<string, unknown>>)[0]!.bytes = 12345)],
    [
      'hash',
      (m: Record<string, unknown>) => ((m.artifacts as Array<Record<string, unknown>>)[0]!.sha256 = 'f'.repeat(64)),
    ],
    ['system', (m: Record<string, unknown>) => (m.system = 'other')],
    ['time', (m: Record<string, unknown>) => (m.created_at = '2020-01-01T00:00:00.000Z')],
  ])('a manifest field edited (%s) → bad-signature', (_name, edit) => {
    const root = tampered((r) => editManifest(r, sets.pg, edit));
    const r = verify(root, sets.pg, 'authenticity');
    expect(r.status).toBe(1);
    expect(r.results[0]!.verdict).toBe('bad-signature');
  });

  it('the signature replaced with another set’s → bad-signature', () => {
    const root = tampered((r) => cpSync(join(r, sets.pg2, 'manifest.json.sig'), join(r, sets.pg, 'manifest.json.sig')));
    expect(verify(root, sets.pg, 'authenticity').results[0]!.verdict).toBe('bad-signature');
  });

  it('a set signed by an unpinned key → untrusted-signer; removing the signature → unsigned', () => {
    expect(verify(pristine, sets.unpinned, 'authenticity').results[0]!.verdict).toBe('untrusted-signer');
    const root = tampered((r) => rmSync(join(r, sets.pg, 'manifest.json.sig')));
    expect(verify(root, sets.pg, 'authenticity').results[0]!.verdict).toBe('unsigned');
    // Below the authenticity level, signatures are not asked for.
    expect(verify(root, sets.pg, 'integrity').results[0]!.verdict).toBe('ok');
  });

  it('SHA256SUMS deleted or edited → corrupted', () => {
    let root = tampered((r) => rmSync(join(r, sets.pg, 'SHA256SUMS')));
    expect(verify(root, sets.pg, 'inventory').results[0]).toMatchObject({
      verdict: 'corrupted',
      detail: expect.stringMatching(/SHA256SUMS is missing/),
    });
    root = tampered((r) => writeFileSync(join(r, sets.pg, 'SHA256SUMS'), `${'0'.repeat(64)}  db.dump.zst.age\n`));
    expect(verify(root, sets.pg, 'inventory').results[0]).toMatchObject({
      verdict: 'corrupted',
      detail: expect.stringMatching(/disagrees/),
    });
  });

  it.each([
    ['../', '../../../etc/shadow'],
    ['an absolute path', '/etc/shadow'],
  ])('%s inside the manifest → unsafe-path', (_name, path) => {
    const root = tampered((r) =>
      editManifest(r, sets.pg, (m) => ((m.artifacts as Array<Record<string, unknown>>)[0]!.path = path)),
    );
    expect(verify(root, sets.pg, 'inventory').results[0]!.verdict).toBe('unsafe-path');
  });

  it('a manifest listing an artifact twice → corrupted', () => {
    const root = tampered((r) =>
      editManifest(r, sets.pg, (m) => (m.artifacts = [...(m.artifacts as unknown[]), ...(m.artifacts as unknown[])])),
    );
    expect(verify(root, sets.pg, 'inventory').results[0]).toMatchObject({
      verdict: 'corrupted',
      detail: expect.stringMatching(/twice/),
    });
  });

  it('an artifact replaced by a symlink → unsafe-path', () => {
    const root = tampered((r) => {
      const p = artifact(r, sets.pg, 'db.dump.zst.age');
      cpSync(p, join(r, 'elsewhere.bin'));
      rmSync(p);
      symlinkSync(join(r, 'elsewhere.bin'), p);
    });
    expect(verify(root, sets.pg, 'integrity').results[0]!.verdict).toBe('unsafe-path');
  });

  it.each([
    ['../ entries', 'evilDots', /\.\./],
    ['absolute paths', 'evilAbs', /absolute path/],
  ] as const)('a tar with %s is caught at deep level (and only there)', (_name, which, reason) => {
    expect(verify(pristine, sets[which], 'integrity').results[0]!.verdict).toBe('ok');
    const r = verify(pristine, sets[which], 'deep');
    expect(r.results[0]!.verdict).toBe('unsafe-path');
    expect(r.results[0]!.detail).toMatch(reason);
  });

  it('a tar with a symlink pointing outside passes deep level, counted as information (a link is data, restored as a link)', () => {
    const r = verify(pristine, sets.evilLink, 'deep');
    expect(r.results[0]!.verdict).toBe('ok');
    expect(JSON.stringify(r.results[0])).toMatch(/1 link points outside the tree/);
  });
});

describe('decryption at deep level', () => {
  // A missing key is a fact about this machine, not the set: not checked (exit 2), never `undecryptable` (verify-verdicts.test.ts).
  it('names the missing key when no identity is given, and does not blame the set for a wrong one', () => {
    let r = lifeboat(env, 'verify', join(pristine, sets.files), '--level', 'deep', '--json');
    let report = json<Report>(r);
    expect(r.status).toBe(2);
    expect(report.results[0]!.verdict).toBe('not-checked');
    expect(report.results[0]!.detail).toMatch(/no identity given for key [0-9a-f]{16}/);
    r = lifeboat(env, 'verify', join(pristine, sets.files), '--level', 'deep', '--identity', otherIdentity, '--json');
    report = json<Report>(r);
    expect(r.status).toBe(2);
    expect(report.results[0]!.verdict).toBe('not-checked');
  });
});

describe('restore test', () => {
  it('restores a good set into a scratch PostgreSQL and runs the validation queries', () => {
    writeFileSync(
      join(dir.path, 'home', 'settings.json'),
      JSON.stringify({
        systems: {
          shop: {
            validations: [
              { sql: 'SELECT count(*) FROM customers', expect: '= 2000' },
              { sql: 'SELECT count(*) FROM orders WHERE total >= 0', expect: '> 0' },
            ],
          },
        },
      }),
    );
    const r = verify(pristine, sets.pg, 'restore');
    expect(r.status).toBe(0);
    expect(r.results[0]!.detail).toMatch(/measured RTO/);
  });

  it('a valid dump whose validation query fails → restore-failed', () => {
    writeFileSync(
      join(dir.path, 'home', 'settings.json'),
      JSON.stringify({
        systems: { shop: { validations: [{ sql: 'SELECT count(*) FROM customers', expect: '= 1' }] } },
      }),
    );
    const r = verify(pristine, sets.pg2, 'restore');
    expect(r.status).toBe(1);
    expect(r.results[0]).toMatchObject({
      verdict: 'restore-failed',
      detail: expect.stringMatching(/gave 2000, expected = 1/),
    });
    rmSync(join(dir.path, 'home', 'settings.json'));
  });
});

describe('the ledger', () => {
  it('--only-new skips what was verified; unsigned foreign sets get hash-on-first-verify', () => {
    const r = lifeboat(env, 'verify', pristine, '--only-new', '--level', 'inventory', '--json');
    expect(json<{ skipped: unknown[] }>(r).skipped.length).toBeGreaterThan(0);
    const seed = join(dir.path, 'seed');
    mkdirSync(seed);
    execFileSync('bash', [
      '-c',
      `printf -- '--\\n-- PostgreSQL database dump\\n--\\n-- PostgreSQL database dump complete\\n--\\n' | gzip > ${seed}/postgres_app_20260101_020000.sql.gz`,
    ]);
    let v = json<Report>(lifeboat(env, 'verify', seed, '--level', 'integrity', '--json'));
    expect(v.results[0]!.verdict).toBe('ok');
    expect(v.results[0]!.artifacts[0]!.detail).toMatch(/first verification: hash recorded/);
    // From the authenticity level up, a foreign set is named by the trust rule, never failed as unsigned (issue 19); deep reads the whole dump.
    v = json<Report>(lifeboat(env, 'verify', seed, '--level', 'deep', '--json'));
    expect(v.results[0]!.verdict).toBe('ok');
    expect(v.results[0]!.detail).toMatch(/^foreign: trusted on first verification/);
    expect(v.results[0]!.artifacts[0]).toMatchObject({
      verdict: 'ok',
      detail: expect.stringMatching(/plain SQL dump read whole/),
    });
    v = json<Report>(lifeboat(env, 'verify', seed, '--level', 'integrity', '--json'));
    expect(v.results[0]!.artifacts[0]!.detail).toMatch(/hash matches the one recorded/);
    execFileSync('bash', [
      '-c',
      `echo "-- PostgreSQL database dump (changed)" | gzip > ${seed}/postgres_app_20260101_020000.sql.gz`,
    ]);
    const r2 = lifeboat(env, 'verify', seed, '--level', 'integrity', '--json');
    v = json<Report>(r2);
    expect(r2.status).toBe(1);
    expect(v.results[0]!.verdict).toMatch(/corrupted|size-mismatch/);
    expect(readdirSync(seed)).toHaveLength(1);
  });
});
