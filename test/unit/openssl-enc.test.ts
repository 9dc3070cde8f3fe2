import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import {
  openSslDecipher,
  openSslDecryptBuffer,
  type OpenSslDecipherOptions,
} from '../../electron/engine/crypto/openssl-enc';
import { LifeboatError } from '../../electron/engine/errors';

/**
 * Files written by the real `openssl enc` CLI (3.x) are read back by openSslDecipher: pbkdf2 with its
 * defaults and with other iterations/digests, and the legacy EVP_BytesToKey derivation with md5, sha1
 * (pgBackRest's) and sha256 (OpenSSL 1.1+'s default for -md).
 */

const dir = mkdtempSync(join(tmpdir(), 'lb-openssl-enc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PASS = 'correct horse battery staple';

function encrypt(plain: Buffer, args: string[]): Buffer {
  const inFile = join(dir, `in-${randomBytes(4).toString('hex')}`);
  const passFile = join(dir, 'pass');
  writeFileSync(inFile, plain);
  writeFileSync(passFile, `${PASS}\n`);
  return execFileSync(
    'openssl',
    ['enc', '-aes-256-cbc', '-salt', '-in', inFile, '-pass', `file:${passFile}`, ...args],
    {
      stdio: ['ignore', 'pipe', 'ignore'], // the CLI warns about the legacy derivation on stderr
    },
  );
}

async function decryptStream(cipher: Buffer, options: OpenSslDecipherOptions, chunk = 1000): Promise<Buffer> {
  const parts: Buffer[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < cipher.length; i += chunk) pieces.push(cipher.subarray(i, i + chunk));
  await pipeline(Readable.from(pieces), openSslDecipher(options), async (src: AsyncIterable<Buffer>) => {
    for await (const b of src) parts.push(b);
  });
  return Buffer.concat(parts);
}

describe('openSslDecipher reads what `openssl enc -aes-256-cbc` writes', () => {
  const plain = randomBytes(300_001);
  const cases: { name: string; args: string[]; options: OpenSslDecipherOptions }[] = [
    {
      name: '-pbkdf2 (defaults)',
      args: ['-pbkdf2'],
      options: { passphrase: PASS, kdf: { kind: 'pbkdf2', digest: 'sha256', iterations: 10000 } },
    },
    {
      name: '-pbkdf2 -iter 2000 -md sha512',
      args: ['-pbkdf2', '-iter', '2000', '-md', 'sha512'],
      options: { passphrase: PASS, kdf: { kind: 'pbkdf2', digest: 'sha512', iterations: 2000 } },
    },
    {
      name: '-md md5 (legacy)',
      args: ['-md', 'md5'],
      options: { passphrase: PASS, kdf: { kind: 'evp', digest: 'md5' } },
    },
    {
      name: '-md sha256 (legacy)',
      args: ['-md', 'sha256'],
      options: { passphrase: PASS, kdf: { kind: 'evp', digest: 'sha256' } },
    },
    {
      name: '-md sha1 (pgBackRest)',
      args: ['-md', 'sha1'],
      options: { passphrase: PASS, kdf: { kind: 'evp', digest: 'sha1' } },
    },
  ];
  for (const c of cases) {
    it(`${c.name}: streamed in odd chunks and as one buffer`, async () => {
      const cipher = encrypt(plain, c.args);
      expect(cipher.subarray(0, 8).toString('latin1')).toBe('Salted__');
      expect((await decryptStream(cipher, c.options, 7)).equals(plain)).toBe(true);
      expect((await decryptStream(cipher, c.options, 65536)).equals(plain)).toBe(true);
      expect(openSslDecryptBuffer(cipher, c.options).equals(plain)).toBe(true);
    }, 30_000);
  }

  it('an empty plaintext decrypts to nothing', async () => {
    const cipher = encrypt(Buffer.alloc(0), ['-pbkdf2']);
    const out = await decryptStream(cipher, cases[0]!.options);
    expect(out.length).toBe(0);
  }, 30_000);

  it('a wrong passphrase, the wrong derivation, a damaged tail and a non-enc file fail DECRYPTION_FAILED', async () => {
    // A fixed salt: with a random one, a wrong key ends in valid padding about once in 256 runs (openssl enc has no
    // MAC: it "decrypts" to garbage, as openssl itself does), which made this case flaky. This salt's wrong keys don't.
    // (With -S, openssl 3 leaves out the `Salted__` header: it is put back as openssl writes it.)
    const salt = Buffer.from('0001020304050607', 'hex');
    const cipher = Buffer.concat([
      Buffer.from('Salted__'),
      salt,
      encrypt(Buffer.from('hello world, this is a test of the decipher\n'.repeat(50)), [
        '-pbkdf2',
        '-S',
        salt.toString('hex'),
      ]),
    ]);
    const fails = async (data: Buffer, options: OpenSslDecipherOptions, re: RegExp): Promise<void> => {
      const err = await decryptStream(data, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LifeboatError);
      expect((err as LifeboatError).code).toBe('DECRYPTION_FAILED');
      expect((err as LifeboatError).message).toMatch(re);
      expect((err as LifeboatError).message).not.toContain(PASS);
    };
    await fails(cipher, { ...cases[0]!.options, passphrase: 'wrong' }, /bad decrypt/);
    await fails(cipher, { passphrase: PASS, kdf: { kind: 'evp', digest: 'sha256' } }, /bad decrypt/);
    const damaged = Buffer.from(cipher);
    // The previous block's last byte: CBC flips the padding byte itself, so the damage is always seen (never valid padding by luck).
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 17) ^ 0xff, damaged.length - 17);
    await fails(damaged, cases[0]!.options, /bad decrypt/);
    await fails(Buffer.from('just some plain text that is long enough'), cases[0]!.options, /Salted__/);
    await fails(Buffer.from('Salted'), cases[0]!.options, /too short/);
  }, 30_000);
});
