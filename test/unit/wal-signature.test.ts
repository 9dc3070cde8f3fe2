import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../electron/engine/crypto/signing';
import { tarHeader, tarPadding, TAR_END } from '../../electron/engine/format/tar-writer';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackupManifestTap, Crc32c } from '../../electron/engine/pitr/backup-manifest';
import { backupManifestConsumer } from '../../electron/engine/verify/consumers';
import { acceptable, buildWalSidecar, checkWalSidecar } from '../../electron/engine/pitr/wal-signature';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('WAL signature sidecars', () => {
  const { key, publicPem } = generateSigningKey();
  const pinned = [{ keyId: key.keyId, label: 'servers', publicKeyPem: publicPem, addedAt: '' }];
  const facts = {
    system: 'shop',
    name: '000000010000000000000003',
    plain_bytes: 16,
    plain_sha256: sha('plain'),
    stored_bytes: 40,
    stored_sha256: sha('stored'),
  };
  const expectOf = { system: 'shop', name: facts.name, plainSha256: facts.plain_sha256, storedBytes: 40 };

  it('a sidecar by a pinned key over the same facts is signed; its first line is canonical JSON', () => {
    const sidecar = buildWalSidecar(facts, key);
    expect(sidecar.toString('utf8').split('\n')[0]).toBe(
      `{"format":"lifeboat-wal-signature/1","key_id":"${key.keyId}","name":"${facts.name}","plain_bytes":16,"plain_sha256":"${facts.plain_sha256}","stored_bytes":40,"stored_sha256":"${facts.stored_sha256}","system":"shop"}`,
    );
    const c = checkWalSidecar(sidecar, expectOf, pinned);
    expect(c.state).toBe('signed');
    expect(c.facts?.stored_sha256).toBe(facts.stored_sha256);
  });

  it('names every other state, and only unsigned/untrusted are acceptable with the flag', () => {
    const sidecar = buildWalSidecar(facts, key);
    expect(checkWalSidecar(null, expectOf, pinned).state).toBe('unsigned');
    expect(checkWalSidecar(sidecar, expectOf, []).state).toBe('untrusted-signer');
    expect(checkWalSidecar(Buffer.from('garbage\n'), expectOf, pinned).state).toBe('signature-invalid');
    // Another system, name, plaintext or size than the file beside it: a replaced or moved file.
    for (const other of [
      { system: 'other' },
      { name: '000000010000000000000004' },
      { plainSha256: sha('x') },
      { storedBytes: 41 },
    ]) {
      expect(checkWalSidecar(sidecar, { ...expectOf, ...other }, pinned).state).toBe('signature-invalid');
    }
    // A facts line edited after signing.
    const edited = Buffer.from(sidecar.toString('utf8').replace('"plain_bytes":16', '"plain_bytes":17'));
    expect(checkWalSidecar(edited, expectOf, pinned).reason).toContain('does not verify');
    const strict = { trusted: pinned, allowUnsigned: false };
    const lax = { trusted: pinned, allowUnsigned: true };
    expect(acceptable('unsigned', strict)).toBe(false);
    expect(acceptable('unsigned', lax)).toBe(true);
    expect(acceptable('untrusted-signer', lax)).toBe(true);
    expect(acceptable('signature-invalid', lax)).toBe(false);
  });
});

describe("PostgreSQL's backup_manifest", () => {
  it('CRC-32C is the Castagnoli CRC, written as PostgreSQL writes it (little-endian bytes)', () => {
    // The standard check value of CRC-32C for "123456789" is 0xE3069283.
    expect(new Crc32c().update(Buffer.from('123456789')).digestHex()).toBe('839206e3');
    const big = Buffer.alloc(100_003, 0xab);
    const whole = new Crc32c().update(big).digestHex();
    expect(
      new Crc32c().update(big.subarray(0, 7)).update(big.subarray(7, 50_001)).update(big.subarray(50_001)).digestHex(),
    ).toBe(whole);
  });

  function manifestText(files: Array<{ path: string; size: number; algo: string; sum: string }>): string {
    const body = `{ "PostgreSQL-Backup-Manifest-Version": 1,\n"Files": [\n${files.map((f) => `{ "Path": "${f.path}", "Size": ${f.size}, "Last-Modified": "2026-12-01 00:00:00 GMT", "Checksum-Algorithm": "${f.algo}", "Checksum": "${f.sum}" }`).join(',\n')} ],\n"WAL-Ranges": [\n{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }\n],\n`;
    return `${body}"Manifest-Checksum": "${sha(body)}"}\n`;
  }

  function tar(members: Array<[string, Buffer]>): Buffer {
    const parts: Buffer[] = [];
    for (const [name, data] of members)
      parts.push(
        tarHeader({ name, type: 'file', mode: 0o600, size: data.length, mtimeMs: 0 }),
        data,
        tarPadding(data.length),
      );
    parts.push(TAR_END);
    return Buffer.concat(parts);
  }

  async function check(t: Buffer, algorithms?: string[]): Promise<{ verdict: string; detail: string | null }> {
    const c = backupManifestConsumer(algorithms);
    await new Promise<void>((resolve, reject) => c.sink.once('error', reject).end(t, () => resolve()));
    return c.outcome();
  }

  const a = Buffer.from('relation data '.repeat(100));
  const b = Buffer.from('PG_VERSION 15\n');
  const crc = (x: Buffer): string => new Crc32c().update(x).digestHex();

  it('passes a tar that matches, ignoring pg_wal and the files pg_basebackup may write', async () => {
    const m = manifestText([
      { path: 'base/1/1259', size: a.length, algo: 'CRC32C', sum: crc(a) },
      { path: 'PG_VERSION', size: b.length, algo: 'SHA256', sum: sha(b) },
      { path: 'postgresql.auto.conf', size: 1, algo: 'CRC32C', sum: '00000000' },
    ]);
    const r = await check(
      tar([
        ['base/1/1259', a],
        ['PG_VERSION', b],
        ['postgresql.auto.conf', Buffer.from('changed')],
        ['pg_wal/000000010000000000000002', Buffer.alloc(1024)],
        ['backup_manifest', Buffer.from(m)],
      ]),
    );
    expect(r.verdict, r.detail ?? '').toBe('ok');
    expect(r.detail).toContain('2 files match');
  });

  it('names a changed, missing, added or resized file, and a manifest edited without its own checksum', async () => {
    const good = manifestText([
      { path: 'base/1/1259', size: a.length, algo: 'CRC32C', sum: crc(a) },
      { path: 'PG_VERSION', size: b.length, algo: 'SHA256', sum: sha(b) },
    ]);
    const changed = Buffer.from(a);
    changed[10]! ^= 1;
    expect(
      (
        await check(
          tar([
            ['base/1/1259', changed],
            ['PG_VERSION', b],
            ['backup_manifest', Buffer.from(good)],
          ]),
        )
      ).detail,
    ).toContain('base/1/1259: CRC32C checksum');
    expect(
      (
        await check(
          tar([
            ['PG_VERSION', b],
            ['backup_manifest', Buffer.from(good)],
          ]),
        )
      ).detail,
    ).toContain('base/1/1259: listed in backup_manifest, missing from the tar');
    expect(
      (
        await check(
          tar([
            ['base/1/1259', a],
            ['PG_VERSION', b],
            ['base/1/666', b],
            ['backup_manifest', Buffer.from(good)],
          ]),
        )
      ).detail,
    ).toContain('base/1/666: in the tar, not listed');
    expect(
      (
        await check(
          tar([
            ['base/1/1259', a],
            ['PG_VERSION', Buffer.from('PG_VERSION 16\n\n')],
            ['backup_manifest', Buffer.from(good)],
          ]),
        )
      ).detail,
    ).toContain('PG_VERSION: 15 bytes in the tar, 14 in backup_manifest');
    const edited = good.replace(crc(a), '00000000');
    expect(
      (
        await check(
          tar([
            ['base/1/1259', a],
            ['PG_VERSION', b],
            ['backup_manifest', Buffer.from(edited)],
          ]),
        )
      ).detail,
    ).toContain('does not match its own Manifest-Checksum');
    // A damaged tar fails the extraction tap (no unhandled error), and the deep-verify consumer says corrupted.
    const whole = tar([
      ['base/1/1259', a],
      ['backup_manifest', Buffer.from(good)],
    ]);
    const cut = whole.subarray(0, 700);
    await expect(
      pipeline(Readable.from([cut]), new BackupManifestTap(), new Writable({ write: (_c, _e, cb) => cb() })),
    ).rejects.toThrow();
    expect((await check(cut)).verdict).toBe('corrupted');
    // A checksum this check was not asked to compute is a problem, not a silent pass.
    expect(
      (
        await check(
          tar([
            ['base/1/1259', a],
            ['PG_VERSION', b],
            ['backup_manifest', Buffer.from(good)],
          ]),
          ['SHA256'],
        )
      ).detail,
    ).toContain('its CRC32C checksum was not computed');
  });
});
