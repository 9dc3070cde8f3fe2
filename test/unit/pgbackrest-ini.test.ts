import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCheckedIni } from '../../electron/engine/foreign/pgbackrest/ini';
import { parseBlockMap } from '../../electron/engine/foreign/pgbackrest/block-incr';
import { locate, type BackupManifest, type ManifestFile } from '../../electron/engine/foreign/pgbackrest/repo';

/**
 * pgBackRest's INI files and their own checksum, on texts built here in its exact layout (the
 * integration test reads real ones). The checksum is SHA-1 over `{"section":{"key":value,…},…}`
 * with the checksum line left out.
 */

function withChecksum(body: string): string {
  // Rendered the way src/info/info.c hashes it, independently of the code under test.
  const sections: Array<[string, Array<[string, string]>]> = [];
  for (const line of body.split('\n')) {
    if (line === '') continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) sections.push([s[1]!, []]);
    else {
      const eq = line.indexOf('=');
      sections[sections.length - 1]![1].push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  }
  const rendered = `{${sections.map(([name, kv]) => `"${name}":{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`).join(',')}}`;
  const sum = createHash('sha1').update(rendered).digest('hex');
  return `${body}\n[backrest]\nbackrest-checksum="${sum}"\n`;
}

const MANIFEST = `[backrest]
backrest-format=5
backrest-version="2.45"

[backup]
backup-bundle=true
backup-label="20261202-074041F_20261202-074046I"
backup-type="incr"

[backup:option]
option-compress-type="zst"

[target:file]
pg_data/PG_VERSION={"checksum":"587b596f04f7db9c2cad3d6b87dd2b3a05de4f35","reference":"20261202-074041F","repo-size":23,"size":3,"timestamp":1796197239}
pg_data/base/1/13394={"size":0,"timestamp":1796197239}
pg_data/global/pg_control={"bni":1,"bno":28,"checksum":"15a7551e3dbe4cf3a1ada1ffce34b39eb3b1dcc3","rck":"6354f6a7ea9f342bcde7d536c7114b9c783cf912","repo-size":249,"size":8192,"timestamp":1796197246}
`;

describe('pgBackRest INI files', () => {
  it('a file whose checksum matches is read, with keys and JSON values as written', () => {
    const text = withChecksum(MANIFEST.trimEnd());
    const r = parseCheckedIni(text, 'backup.manifest');
    expect(r.checksumOk).toBe(true);
    expect(r.ini.get('backup')?.get('backup-type')).toBe('"incr"');
    expect(r.ini.get('target:file')?.size).toBe(3);
  });

  it('one changed value, one removed line or a missing checksum fails the check', () => {
    const text = withChecksum(MANIFEST.trimEnd());
    expect(parseCheckedIni(text.replace('"size":8192', '"size":8193'), 'm').checksumOk).toBe(false);
    expect(parseCheckedIni(text.replace(/^pg_data\/base\/1\/13394=.*\n/m, ''), 'm').checksumOk).toBe(false);
    const none = parseCheckedIni(MANIFEST, 'm');
    expect(none.checksum).toBeNull();
    expect(none.checksumOk).toBe(false);
  });

  it('binary content (an encrypted info file read without its passphrase) is refused with an escaped line, never raw bytes', () => {
    const bin = `Salted__\u0001\u0002\u0003\u00ff[x]\nnot=ini`;
    expect(() => parseCheckedIni(bin, 'backup.info')).toThrow(
      /line 1 is not a pgBackRest INI line: Salted__\\x01\\x02\\x03\\xff/,
    );
  });
});

describe('where a manifest file is stored', () => {
  const manifest = (over: Partial<BackupManifest>): BackupManifest => ({
    label: 'L',
    path: 'x',
    backup: {},
    compressType: 'gz',
    bundleRaw: false,
    cipherPass: null,
    files: [],
    notes: [],
    ...over,
  });
  const file = (over: Partial<ManifestFile>): ManifestFile => ({
    name: 'pg_data/base/1/1259',
    size: 8192,
    checksum: 'c',
    repoChecksum: null,
    repoSize: 100,
    reference: null,
    bundleId: null,
    bundleOffset: 0,
    blockIncrSize: 0,
    blockIncrChecksumSize: 0,
    blockIncrMapSize: 0,
    timestamp: null,
    ...over,
  });

  it('its own file with the compression extension of the backup that stored it, a referenced one in that backup', () => {
    expect(locate('', 'shop', 'F_I', file({}), manifest({ compressType: 'zst' }))).toMatchObject({
      path: 'backup/shop/F_I/pg_data/base/1/1259.zst',
      offset: 0,
      length: 100,
    });
    expect(locate('r/', 'shop', 'F_I', file({ reference: 'F' }), manifest({ compressType: 'gz' }))).toMatchObject({
      path: 'r/backup/shop/F/pg_data/base/1/1259.gz',
    });
    expect(locate('', 'shop', 'F', file({}), manifest({ compressType: 'none' }))!.path).toBe(
      'backup/shop/F/pg_data/base/1/1259',
    );
  });

  it('a bundle at its offset; a block-incremental file as .pgbi; an empty bundled file nowhere', () => {
    expect(locate('', 's', 'F', file({ bundleId: 3, bundleOffset: 28, repoSize: 249 }), manifest({}))).toMatchObject({
      path: 'backup/s/F/bundle/3',
      offset: 28,
      length: 249,
      bundled: true,
    });
    expect(locate('', 's', 'F', file({ blockIncrMapSize: 101 }), manifest({ compressType: 'lz4' }))!.path).toBe(
      'backup/s/F/pg_data/base/1/1259.pgbi',
    );
    expect(locate('', 's', 'F', file({ size: 0, repoSize: null }), manifest({}))).toBeNull();
  });
});

describe('block maps of block-incremental files', () => {
  it('one reference at offset 5 holding one super block of 100 stored bytes: one block, its place read back', () => {
    // flags 0; reference 0, last, with an offset: (0 << 3) | 1 | 4 = 5; the offset 5; the super block, last: (100 << 3) | 1 = 801
    // (varint a1 06); its one block's 6-byte checksum (a super block is one block unless its size says otherwise).
    const map = Buffer.concat([Buffer.from([0x00, 0x05, 0x05, 0xa1, 0x06]), Buffer.alloc(6, 0xaa)]);
    expect(parseBlockMap(map, 8192, 6, 'm')).toEqual([
      { reference: 0, bundleId: 0, offset: 5, size: 100, superBlockSize: 8192, block: 0 },
    ]);
  });

  it('a truncated or unknown-version map is refused, not read past its end', () => {
    expect(() => parseBlockMap(Buffer.from([0x00, 0x81]), 8192, 6, 'm')).toThrow(/ends inside a number/);
    expect(() => parseBlockMap(Buffer.from([0x00, 0x01, 0x09]), 8192, 6, 'm')).toThrow(/ends inside a checksum/);
    expect(() => parseBlockMap(Buffer.from([0x01]), 8192, 6, 'm')).toThrow(/version/);
  });
});
