import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * The signed WAL archive, through the CLI with WAL-named files (no server needed: the archive
 * only looks at names and bytes). The attacker of issue 17 item 8 can write to the medium and
 * knows the public age recipient, but not the signing key.
 */
const SEG = (n: number): string => `00000001000000000000${n.toString(16).toUpperCase().padStart(4, '0')}`;

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let identity: string;
let recipient: string;
let signKey: string;
let medium: string;

function segment(n: number, tag: string): string {
  mkdirSync(join(dir.path, 'pg_wal', tag), { recursive: true });
  const path = join(dir.path, 'pg_wal', tag, SEG(n));
  const bytes = Buffer.alloc(256 * 1024);
  bytes.write(`segment ${n} ${tag}`);
  writeFileSync(path, bytes);
  return path;
}

function archived(root: string): string[] {
  const base = join(root, 'wal', 'shop', '00000001');
  return readdirSync(base).sort();
}

function fetchOne(from: string, n: number, ...extra: string[]): ReturnType<typeof lifeboat> {
  const out = join(dir.path, 'fetched', `${n}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(dir.path, 'fetched'), { recursive: true });
  return lifeboat(env, 'wal-fetch', SEG(n), out, '--system', 'shop', '--from', from, '--identity', identity, ...extra);
}

beforeAll(() => {
  dir = tempDir();
  env = { LIFEBOAT_HOME: join(dir.path, 'home') };
  identity = join(dir.path, 'id.age');
  signKey = join(dir.path, 'sign.pem');
  medium = join(dir.path, 'medium');
  recipient = lifeboat(env, 'keys', 'age-new', '--out', identity).stdout.trim();
  expect(lifeboat(env, 'keys', 'signing-new', '--out', signKey).status).toBe(0);
  expect(lifeboat(env, 'keys', 'trust', `${signKey}.pub`).status).toBe(0);
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'wal').status).toBe(0);
  for (let n = 1; n <= 3; n++) {
    const r = lifeboat(
      env,
      'wal-push',
      segment(n, 'a'),
      '--system',
      'shop',
      '--to',
      medium,
      '--recipient',
      recipient,
      '--sign-key',
      signKey,
    );
    expect(r.status, r.stderr).toBe(0);
  }
}, 60_000);

afterAll(() => dir?.cleanup());

describe('wal-push --sign-key', () => {
  it('writes a sidecar per file that openssl verifies by hand and that binds name, hashes and sizes', () => {
    const files = archived(medium);
    expect(files.filter((f) => f.endsWith('.sig'))).toHaveLength(3);
    const stored = files.find((f) => f.startsWith(SEG(2)) && f.endsWith('.zst.age'))!;
    const sidecar = readFileSync(join(medium, 'wal', 'shop', '00000001', `${stored}.sig`), 'utf8').split('\n');
    const facts = JSON.parse(sidecar[0]!) as Record<string, unknown>;
    const storedBytes = readFileSync(join(medium, 'wal', 'shop', '00000001', stored));
    expect(facts).toMatchObject({
      format: 'lifeboat-wal-signature/1',
      system: 'shop',
      name: SEG(2),
      plain_bytes: 256 * 1024,
      stored_bytes: storedBytes.length,
    });
    expect(stored).toContain(String(facts.plain_sha256));
    expect(sidecar[1]).toMatch(/^lifeboat-signature\/1 ed25519 [0-9a-f]{16}$/);
    // The recipe of docs/restore-by-hand.md, as written there.
    const sigDir = join(dir.path, 'by-hand');
    mkdirSync(sigDir, { recursive: true });
    writeFileSync(join(sigDir, 'facts'), `${sidecar[0]}\n`);
    writeFileSync(join(sigDir, 'sig'), Buffer.from(sidecar[2]!, 'base64'));
    const out = execFileSync(
      'openssl',
      [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        `${signKey}.pub`,
        '-rawin',
        '-in',
        join(sigDir, 'facts'),
        '-sigfile',
        join(sigDir, 'sig'),
      ],
      { encoding: 'utf8' },
    );
    expect(out).toContain('Signature Verified Successfully');
    const sha = execFileSync('sha256sum', [join(medium, 'wal', 'shop', '00000001', stored)], {
      encoding: 'utf8',
    }).split(' ')[0];
    expect(sha).toBe(facts.stored_sha256);
  });

  it('a retry of a file archived without a signature signs it (our own encoding replaces it first)', () => {
    const m = join(dir.path, 'retry-medium');
    expect(lifeboat(env, 'medium', 'init', m, '--label', 'retry').status).toBe(0);
    const seg = segment(1, 'retry');
    expect(lifeboat(env, 'wal-push', seg, '--system', 'shop', '--to', m, '--recipient', recipient).status).toBe(0);
    expect(archived(m).some((f) => f.endsWith('.sig'))).toBe(false);
    expect(fetchOne(m, 1).status).toBe(1);
    const again = lifeboat(
      env,
      'wal-push',
      seg,
      '--system',
      'shop',
      '--to',
      m,
      '--recipient',
      recipient,
      '--sign-key',
      signKey,
    );
    expect(again.status, again.stderr).toBe(0);
    expect(archived(m).filter((f) => f.endsWith('.sig'))).toHaveLength(1);
    const got = fetchOne(m, 1);
    expect(got.status, got.stderr).toBe(0);
    // Archived unencrypted before, signed and encrypted now: one stored file per name remains.
    const seg2 = segment(2, 'retry');
    expect(lifeboat(env, 'wal-push', seg2, '--system', 'shop', '--to', m).status).toBe(0);
    expect(
      lifeboat(env, 'wal-push', seg2, '--system', 'shop', '--to', m, '--recipient', recipient, '--sign-key', signKey)
        .status,
    ).toBe(0);
    expect(archived(m).filter((f) => f.startsWith(SEG(2)))).toEqual([
      expect.stringMatching(/\.zst\.age$/),
      expect.stringMatching(/\.zst\.age\.sig$/),
    ]);
    expect(fetchOne(m, 2).status).toBe(0);
  });
});

describe('readers check the signature against the pinned keys', () => {
  it('a signed archive is fetched and verified', () => {
    const r = fetchOne(medium, 2);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const v = lifeboat(env, 'verify', medium, '--wal', 'shop', '--identity', identity, '--json');
    const c = json<{ files: number; corrupt: unknown[]; unsigned: unknown[] }>(v);
    expect(c.files).toBe(3);
    expect(c.corrupt).toEqual([]);
    expect(c.unsigned).toEqual([]);
  });

  it('a segment replaced by another content encrypted to the public recipient, with a valid name and hash, is refused', () => {
    const copy = join(dir.path, 'replaced');
    cpSync(medium, copy, { recursive: true });
    // The attacker archives their own segment 2 elsewhere (no signing key), then swaps it in.
    const staging = join(dir.path, 'attacker');
    expect(lifeboat(env, 'medium', 'init', staging, '--label', 'attacker').status).toBe(0);
    expect(
      lifeboat(env, 'wal-push', segment(2, 'evil'), '--system', 'shop', '--to', staging, '--recipient', recipient)
        .status,
    ).toBe(0);
    const evil = archived(staging).find((f) => f.startsWith(SEG(2)))!;
    const tl = join(copy, 'wal', 'shop', '00000001');
    const original = archived(copy).find((f) => f.startsWith(SEG(2)) && !f.endsWith('.sig'))!;
    rmSync(join(tl, original));
    cpSync(join(staging, 'wal', 'shop', '00000001', evil), join(tl, evil));
    // …and, to look signed, renames the old sidecar beside it.
    renameSync(join(tl, `${original}.sig`), join(tl, `${evil}.sig`));
    const r = fetchOne(copy, 2);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${SEG(2)} was refused`);
    expect(r.stderr).toContain('signed plaintext hash differs');
    // Not even --allow-unsigned-wal accepts a signature that does not match its file.
    expect(fetchOne(copy, 2, '--allow-unsigned-wal').status).toBe(1);
    const v = json<{ ok: boolean; corrupt: Array<{ name: string; reason: string }> }>(
      lifeboat(env, 'verify', copy, '--wal', 'shop', '--identity', identity, '--json'),
    );
    expect(v.ok).toBe(false);
    expect(v.corrupt.map((c) => c.name)).toEqual([SEG(2)]);
    // Without the stale sidecar it is simply unsigned: refused.
    rmSync(join(tl, `${evil}.sig`));
    const u = fetchOne(copy, 2);
    expect(u.status).toBe(1);
    expect(u.stderr).toContain('unsigned');
  });

  it('a stored file swapped for another encryption of the same plaintext (same size class) fails the stored hash', () => {
    const copy = join(dir.path, 'reencrypted');
    cpSync(medium, copy, { recursive: true });
    const tl = join(copy, 'wal', 'shop', '00000001');
    const name = archived(copy).find((f) => f.startsWith(SEG(3)) && !f.endsWith('.sig'))!;
    // Decrypt and re-encrypt to the public recipient: same plaintext, same name, new bytes.
    const plain = execFileSync('age', ['-d', '-i', identity, join(tl, name)]);
    const again = execFileSync('age', ['-r', recipient], { input: plain });
    writeFileSync(join(tl, name), again);
    const r = fetchOne(copy, 3);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('refused');
  });

  it('an added segment is refused; a second file under an existing name is refused', () => {
    const copy = join(dir.path, 'added');
    cpSync(medium, copy, { recursive: true });
    expect(
      lifeboat(env, 'wal-push', segment(4, 'evil'), '--system', 'shop', '--to', copy, '--recipient', recipient).status,
    ).toBe(0);
    const r = fetchOne(copy, 4);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${SEG(4)} is unsigned`);
    const v = json<{ ok: boolean; unsigned: Array<{ name: string; state: string }> }>(
      lifeboat(env, 'verify', copy, '--wal', 'shop', '--identity', identity, '--json'),
    );
    expect(v.ok).toBe(false);
    expect(v.unsigned).toEqual([expect.objectContaining({ name: SEG(4), state: 'unsigned' })]);
    // A second stored file for segment 1 (another plaintext hash in its name).
    const staging = join(dir.path, 'attacker2');
    expect(lifeboat(env, 'medium', 'init', staging, '--label', 'attacker2').status).toBe(0);
    expect(
      lifeboat(env, 'wal-push', segment(1, 'evil'), '--system', 'shop', '--to', staging, '--recipient', recipient)
        .status,
    ).toBe(0);
    const evil = archived(staging).find((f) => f.startsWith(SEG(1)))!;
    cpSync(join(staging, 'wal', 'shop', '00000001', evil), join(copy, 'wal', 'shop', '00000001', evil));
    const d = fetchOne(copy, 1, '--allow-unsigned-wal');
    expect(d.status).toBe(1);
    expect(d.stderr).toContain('2 different files named');
  });

  it('a signature by a key that is not pinned is refused', () => {
    const other = join(dir.path, 'other.pem');
    expect(lifeboat(env, 'keys', 'signing-new', '--out', other).status).toBe(0);
    const m = join(dir.path, 'untrusted-medium');
    expect(lifeboat(env, 'medium', 'init', m, '--label', 'untrusted').status).toBe(0);
    expect(
      lifeboat(
        env,
        'wal-push',
        segment(1, 'a'),
        '--system',
        'shop',
        '--to',
        m,
        '--recipient',
        recipient,
        '--sign-key',
        other,
      ).status,
    ).toBe(0);
    const r = fetchOne(m, 1);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not pinned');
    // --trust-key names the signer for a restore_command on a machine without the catalog.
    expect(fetchOne(m, 1, '--trust-key', `${other}.pub`).status).toBe(0);
  });

  it('an archive written without signatures is reported unsigned and refused, then accepted with --allow-unsigned-wal', () => {
    const m = join(dir.path, 'old-archive');
    expect(lifeboat(env, 'medium', 'init', m, '--label', 'old').status).toBe(0);
    for (let n = 1; n <= 2; n++)
      expect(
        lifeboat(env, 'wal-push', segment(n, 'a'), '--system', 'shop', '--to', m, '--recipient', recipient).status,
      ).toBe(0);
    const refused = fetchOne(m, 1);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('--allow-unsigned-wal');
    const v = lifeboat(env, 'verify', m, '--wal', 'shop', '--identity', identity, '--json');
    expect(v.status).toBe(1);
    expect(json<{ unsigned: Array<{ state: string }> }>(v).unsigned.map((u) => u.state)).toEqual([
      'unsigned',
      'unsigned',
    ]);
    const accepted = fetchOne(m, 1, '--allow-unsigned-wal');
    expect(accepted.status, accepted.stderr).toBe(0);
    expect(accepted.stderr).toContain('accepted with --allow-unsigned-wal (unsigned');
    const va = lifeboat(env, 'verify', m, '--wal', 'shop', '--identity', identity, '--allow-unsigned-wal');
    expect(va.stdout).toContain(`WARN  ${SEG(1)}: unsigned`);
    const plan = json<{ signatures: { signed: number; unsigned: number }; warnings: string[] }>(
      lifeboat(env, 'pitr', 'plan', '--system', 'shop', '--from', m, '--json'),
    );
    expect(plan.signatures).toMatchObject({ signed: 0, unsigned: 2 });
    expect(plan.warnings.join(' ')).toContain('2 of 2 archived WAL files are unsigned');
  });

  it('the by-hand recipe of docs/restore-by-hand.md accepts the signed archive and stops on a file that is not the signed one', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'restore-by-hand.md'), 'utf8');
    const loop = /^for f in wal\/"\$SYSTEM"\/.*?^done$/ms.exec(doc)![0];
    const run = (root: string, tag: string): ReturnType<typeof spawnSync> => {
      const spool = join(dir.path, `hand-spool-${tag}`);
      const work = join(dir.path, `hand-work-${tag}`);
      mkdirSync(spool, { recursive: true });
      mkdirSync(work, { recursive: true });
      // The loop verbatim; only its output folder moves, and section 0's variables are set.
      const script = loop.replaceAll('/srv/wal-spool', spool);
      return spawnSync('sh', ['-c', script], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, IDENTITY: identity, SIGNER_PUB: `${signKey}.pub`, SYSTEM: 'shop', WORK: work },
      });
    };
    const ok = run(medium, 'good');
    expect(ok.status, `${String(ok.stdout)}${String(ok.stderr)}`).toBe(0);
    expect(readFileSync(join(dir.path, 'hand-spool-good', SEG(2)))).toEqual(
      readFileSync(join(dir.path, 'pg_wal', 'a', SEG(2))),
    );
    const copy = join(dir.path, 'hand-reencrypted');
    cpSync(medium, copy, { recursive: true });
    const tl = join(copy, 'wal', 'shop', '00000001');
    const name = archived(copy).find((f) => f.startsWith(SEG(1)) && !f.endsWith('.sig'))!;
    writeFileSync(
      join(tl, name),
      execFileSync('age', ['-r', recipient], { input: execFileSync('age', ['-d', '-i', identity, join(tl, name)]) }),
    );
    const bad = run(copy, 'bad');
    expect(bad.status).toBe(1);
    expect(String(bad.stdout)).toContain(`NOT THE SIGNED FILE: wal/shop/00000001/${name}`);
  });

  it('the background archiver (--async, the fast path script) signs too', () => {
    const m = join(dir.path, 'async-medium');
    expect(lifeboat(env, 'medium', 'init', m, '--label', 'async').status).toBe(0);
    const wal = join(dir.path, 'pg_wal', 'async');
    mkdirSync(join(wal, 'archive_status'), { recursive: true });
    const seg = segment(1, 'async');
    writeFileSync(join(wal, 'archive_status', `${SEG(1)}.ready`), '');
    const r = lifeboat(
      env,
      'wal-push',
      seg,
      '--system',
      'shop',
      '--to',
      m,
      '--recipient',
      recipient,
      '--sign-key',
      signKey,
      '--async',
      '--spool',
      join(dir.path, 'spool'),
    );
    expect(r.status, r.stderr).toBe(0);
    expect(archived(m).filter((f) => f.endsWith('.sig'))).toHaveLength(1);
    expect(fetchOne(m, 1).status).toBe(0);
    expect(existsSync(BIN)).toBe(true);
  });
});
