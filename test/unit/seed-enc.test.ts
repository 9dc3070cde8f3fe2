import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { seedDecipher } from '../../electron/engine/foreign/seed/enc';
import { OwnershipFilter } from '../../electron/engine/restore/seed-copy';
import { tempDir } from '../helpers/temp';

const dir = tempDir();
afterAll(() => dir.cleanup());

async function run(input: Buffer, stage: Transform): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    Readable.from([input.subarray(0, 7), input.subarray(7, 50), input.subarray(50)]),
    stage,
    new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }),
  );
  return Buffer.concat(parts);
}

describe('seed .enc files', () => {
  const plain = Buffer.from(`--\n-- PostgreSQL database dump\n--\n${'INSERT INTO t VALUES (1);\n'.repeat(2000)}`);
  const src = join(dir.path, 'plain.sql');
  writeFileSync(src, plain);
  const pw = join(dir.path, 'pw');
  writeFileSync(pw, 's3cret-pass\n');
  const enc = (...args: string[]): Buffer =>
    execFileSync('openssl', ['enc', '-aes-256-cbc', '-salt', ...args, '-in', src, '-pass', `file:${pw}`]);

  it('decrypts what openssl enc writes with -pbkdf2, -iter, and the legacy -md sha256 / md5, and says which', async () => {
    for (const [args, want] of [
      [['-pbkdf2'], 'pbkdf2:sha256:10000'],
      [['-pbkdf2', '-iter', '100000'], 'pbkdf2:sha256:100000'],
      [['-md', 'sha256'], 'evp:sha256'],
      [['-md', 'md5'], 'evp:md5'],
    ] as const) {
      let used = '';
      const out = await run(
        enc(...args),
        seedDecipher(
          's3cret-pass',
          'sql',
          'x.sql.enc',
          (k) => (used = k.kind === 'pbkdf2' ? `pbkdf2:${k.digest}:${k.iterations}` : `evp:${k.digest}`),
        ),
      );
      expect(out.equals(plain)).toBe(true);
      expect(used).toBe(want);
    }
  }, 30_000);

  it('a wrong passphrase fails as DECRYPTION_FAILED naming the file, never the passphrase', async () => {
    const err = await run(enc('-pbkdf2'), seedDecipher('wrong', 'sql', 'x.sql.enc')).catch(
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err).toMatchObject({ code: 'DECRYPTION_FAILED', message: expect.stringMatching(/^x\.sql\.enc: /) });
    expect(JSON.stringify(err)).not.toContain('wrong');
  }, 30_000);
});

describe('plain SQL ownership filter', () => {
  it('leaves out OWNER TO, GRANT and REVOKE lines, never COPY data', async () => {
    const sql = [
      'CREATE TABLE t (x text);',
      'ALTER TABLE public.t OWNER TO postgres;',
      'COPY public.t (x) FROM stdin;',
      'GRANT ALL ON x TO y;',
      '\\.',
      'REVOKE ALL ON SCHEMA public FROM PUBLIC;',
      'SELECT 1;',
      '',
    ].join('\n');
    const f = new OwnershipFilter();
    const out = (await run(Buffer.from(sql), f)).toString();
    expect(out).toBe(
      [
        'CREATE TABLE t (x text);',
        'COPY public.t (x) FROM stdin;',
        'GRANT ALL ON x TO y;',
        '\\.',
        'SELECT 1;',
        '',
      ].join('\n'),
    );
    expect(f.dropped).toBe(2);
  }, 10_000);
});
