import { describe, expect, it } from 'vitest';
import {
  generateSigningKey,
  loadPublicKey,
  parseSignature,
  signManifest,
  verifySignature,
} from '../../electron/engine/crypto/signing';
import { canonicalJson } from '../../electron/engine/format/canonical-json';
import { manifestBytes, parseManifest, sha256sums, type Manifest } from '../../electron/engine/format/manifest';
import { isSafeRelativePath } from '../../electron/engine/format/names';
import { ExcludeMatcher } from '../../electron/engine/backup/glob';

const HASH = 'a'.repeat(64);
function manifest(): Manifest {
  return {
    format: 'lifeboat-set/1',
    set_id: '20261121T020000Z-pg-logical',
    system: 'customer-db',
    kind: 'pg-logical',
    tier: 'critical',
    created_at: '2026-11-21T02:00:00.000Z',
    started_at: '2026-11-21T02:00:00.000Z',
    finished_at: '2026-11-21T02:01:00.000Z',
    parent: null,
    lifeboat_version: '0.1.0',
    host: 'db1',
    source: { database: 'app', server_version_num: 150018 },
    artifacts: [
      {
        path: 'db.dump.zst.age',
        role: 'pg-dump',
        bytes: 10,
        sha256: HASH,
        encodings: ['zstd', 'age'],
        plain_bytes: 20,
        plain_sha256: HASH,
        recipients: ['0123456789abcdef'],
      },
    ],
    warnings: [],
  };
}

describe('canonical JSON', () => {
  it('sorts keys at every depth, has no whitespace, keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,1]},"b":1}');
    expect(canonicalJson({ é: 1, e: 2, Z: 3 })).toBe('{"Z":3,"e":2,"é":1}');
    expect(() => canonicalJson({ x: Number.NaN })).toThrow();
  });
});

describe('manifest v1', () => {
  it('round-trips through its canonical bytes', () => {
    const bytes = manifestBytes(manifest());
    expect(parseManifest(bytes)).toEqual(manifest());
    expect(bytes.toString()).not.toMatch(/\s/);
    expect(sha256sums(manifest())).toBe(`${HASH}  db.dump.zst.age\n`);
  });

  it.each([
    ['invalid JSON', Buffer.from('{"format": "lifeboat-set/1",'), 'FORMAT_INVALID', /not valid JSON/],
    [
      'a missing field',
      Buffer.from(JSON.stringify({ ...manifest(), system: undefined })),
      'FORMAT_INVALID',
      /at system/,
    ],
    [
      'a future format',
      Buffer.from(JSON.stringify({ ...manifest(), format: 'lifeboat-set/2' })),
      'FORMAT_UNSUPPORTED',
      /lifeboat-set\/2/,
    ],
    [
      'a .. path',
      Buffer.from(
        JSON.stringify({ ...manifest(), artifacts: [{ ...manifest().artifacts[0], path: '../../etc/passwd' }] }),
      ),
      'UNSAFE_PATH',
      /relative path/,
    ],
    [
      'an absolute path',
      Buffer.from(JSON.stringify({ ...manifest(), artifacts: [{ ...manifest().artifacts[0], path: '/etc/passwd' }] })),
      'UNSAFE_PATH',
      /relative path/,
    ],
    [
      'an artifact listed twice',
      Buffer.from(JSON.stringify({ ...manifest(), artifacts: [manifest().artifacts[0], manifest().artifacts[0]] })),
      'FORMAT_INVALID',
      /twice/,
    ],
    ['an unknown field', Buffer.from(JSON.stringify({ ...manifest(), extra: 1 })), 'FORMAT_INVALID', /invalid/],
    [
      'a null source',
      Buffer.from(JSON.stringify({ ...manifest(), source: null })),
      'FORMAT_INVALID',
      /at source: expected an object/,
    ],
    [
      'a bad hash',
      Buffer.from(JSON.stringify({ ...manifest(), artifacts: [{ ...manifest().artifacts[0], sha256: 'xyz' }] })),
      'FORMAT_INVALID',
      /SHA-256/,
    ],
  ])('rejects %s', (_name, bytes, code, message) => {
    expect(() => parseManifest(bytes)).toThrow(
      expect.objectContaining({ code, message: expect.stringMatching(message) }),
    );
  });

  it.each([
    ['db.dump', true],
    ['dir/file', true],
    ['../x', false],
    ['a/../b', false],
    ['/abs', false],
    ['a//b', false],
    ['a\\b', false],
    ['C:/x', false],
    ['./x', false],
    ['x\u0000', false],
    ['', false],
  ])('path %j safe: %s', (p, safe) => {
    expect(isSafeRelativePath(p)).toBe(safe);
  });
});

describe('Ed25519 manifest signatures', () => {
  it('verify with the right key only, and detect any edit', () => {
    const { key, publicPem } = generateSigningKey();
    const other = generateSigningKey();
    const bytes = manifestBytes(manifest());
    const sigFile = signManifest(bytes, key);
    const { keyId, signature } = parseSignature(sigFile);
    expect(keyId).toBe(key.keyId);
    expect(keyId).toBe(loadPublicKey(publicPem).keyId);
    expect(verifySignature(bytes, signature, key.publicKey)).toBe(true);
    expect(verifySignature(bytes, signature, other.key.publicKey)).toBe(false);
    const edited = manifestBytes({ ...manifest(), system: 'other-db' });
    expect(verifySignature(edited, signature, key.publicKey)).toBe(false);
    expect(() => parseSignature(Buffer.from('garbage'))).toThrow(
      expect.objectContaining({ code: 'SIGNATURE_INVALID' }),
    );
  });
});

describe('excludes', () => {
  it('matches names anywhere and paths from the root', () => {
    const m = new ExcludeMatcher(['node_modules', '*.tmp', 'logs/**/*.gz', 'cache/']);
    expect(m.excludes('a/node_modules')).toBe(true);
    expect(m.excludes('x.tmp')).toBe(true);
    expect(m.excludes('a/b/x.tmp')).toBe(true);
    expect(m.excludes('logs/2026/11/app.log.gz')).toBe(true);
    expect(m.excludes('other/logs/app.log.gz')).toBe(false);
    expect(m.excludes('cache')).toBe(true);
    expect(m.excludes('x.tmpl')).toBe(false);
  });
});
