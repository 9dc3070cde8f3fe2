import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgeDecryptStream,
  AgeEncryptStream,
  generateIdentity,
  identityFileText,
  parseIdentityFile,
  parseRecipient,
  type AgeIdentity,
} from '../../electron/engine/crypto/age';
import { storeArtifact } from '../../electron/engine/pipeline/artifact-pipeline';
import { tempDir } from '../helpers/temp';

async function collect(r: NodeJS.ReadableStream): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}
const encrypt = (data: Buffer, ids: AgeIdentity[]): Promise<Buffer> =>
  collect(Readable.from([data]).pipe(new AgeEncryptStream(ids.map((i) => i.recipient))));
const decrypt = (data: Buffer, ids: AgeIdentity[]): Promise<Buffer> =>
  collect(Readable.from([data]).pipe(new AgeDecryptStream(ids)));

let dir: ReturnType<typeof tempDir>;
let me: AgeIdentity;
let escrow: AgeIdentity;
let idFile: string;
beforeAll(() => {
  dir = tempDir();
  me = generateIdentity().identity;
  escrow = generateIdentity().identity;
  idFile = join(dir.path, 'me.txt');
  writeFileSync(idFile, identityFileText(me));
});
afterAll(() => dir.cleanup());

describe('age on node:crypto, interchangeable with the age CLI', () => {
  it.each([0, 1, 65535, 65536, 65537, 200_000, 3 * 65536])(
    '%i bytes: ours → age CLI and age CLI → ours',
    async (size) => {
      const data = randomBytes(size);
      const ours = await encrypt(data, [me]);
      writeFileSync(join(dir.path, 'ours.age'), ours);
      expect(execFileSync('age', ['-d', '-i', idFile, join(dir.path, 'ours.age')]).equals(data)).toBe(true);
      writeFileSync(join(dir.path, 'plain'), data);
      execFileSync('age', ['-r', me.recipient.text, '-o', join(dir.path, 'cli.age'), join(dir.path, 'plain')]);
      expect((await decrypt(readFileSync(join(dir.path, 'cli.age')), [me])).equals(data)).toBe(true);
    },
  );

  it('streams input in chunks of any size (short, exact, straddling 64 KiB) to the same plaintext', async () => {
    const data = randomBytes(5 * 65536 + 123);
    const sizes = [1, 1000, 65535, 2, 65536, 70000, 5, 65536 * 2, 64];
    const chunks: Buffer[] = [];
    let offset = 0;
    for (let i = 0; offset < data.length; i++) {
      const n = Math.min(sizes[i % sizes.length]!, data.length - offset);
      chunks.push(data.subarray(offset, offset + n));
      offset += n;
    }
    const sealed = await collect(Readable.from(chunks).pipe(new AgeEncryptStream([me.recipient])));
    writeFileSync(join(dir.path, 'chunked.age'), sealed);
    expect(
      execFileSync('age', ['-d', '-i', idFile, join(dir.path, 'chunked.age')], { maxBuffer: 1 << 24 }).equals(data),
    ).toBe(true);
    // And decrypting from odd-sized pieces of the ciphertext.
    const pieces: Buffer[] = [];
    for (let i = 0; i < sealed.length; i += 777) pieces.push(sealed.subarray(i, i + 777));
    expect((await collect(Readable.from(pieces).pipe(new AgeDecryptStream([me])))).equals(data)).toBe(true);
  });

  it('encrypts to several recipients, each able to decrypt', async () => {
    const data = randomBytes(100_000);
    const sealed = await encrypt(data, [me, escrow]);
    expect((await decrypt(sealed, [escrow])).equals(data)).toBe(true);
    expect((await decrypt(sealed, [me])).equals(data)).toBe(true);
  });

  it('parses identity files and recipients the way age-keygen writes them', () => {
    const ids = parseIdentityFile(readFileSync(idFile, 'utf8'));
    expect(ids[0]?.recipient.text).toBe(me.recipient.text);
    expect(parseRecipient(me.recipient.text).keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(() => parseRecipient('age1notarecipient')).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(() => parseIdentityFile('# nothing\n')).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    const keygen = execFileSync('age-keygen', { encoding: 'utf8' });
    const theirs = parseIdentityFile(keygen)[0]!;
    expect(keygen).toContain(theirs.recipient.text);
  });

  it('refuses a wrong identity, a flipped bit, truncation and appended bytes', async () => {
    const data = randomBytes(150_000);
    const sealed = await encrypt(data, [me]);
    await expect(decrypt(sealed, [escrow])).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1000]! ^= 0x01;
    await expect(decrypt(flipped, [me])).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    await expect(decrypt(sealed.subarray(0, sealed.length - 65536 - 16), [me])).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
    await expect(decrypt(Buffer.concat([sealed, Buffer.from('x')]), [me])).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
    const headerEdit = Buffer.from(sealed);
    headerEdit[30]! ^= 0x01;
    await expect(decrypt(headerEdit, [me])).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });
});

describe('the threaded write path, read back by the age and zstd CLIs', () => {
  it.each([0, 65536, 1024 * 1024 + 17, 3 * 1024 * 1024])('%i bytes', async (size) => {
    const data = randomBytes(size);
    data.fill(1, 0, size >> 1);
    const parts: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, callback) {
        parts.push(Buffer.from(chunk));
        callback();
      },
    });
    const facts = await storeArtifact(Readable.from([data]), {
      recipients: [me.recipient, escrow.recipient],
      sinks: [{ stream: sink, done: Promise.resolve() }],
    });
    const file = join(dir.path, 'threaded.zst.age');
    writeFileSync(file, Buffer.concat(parts));
    expect(execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]).toBe(facts.sha256);
    const plain = execFileSync('sh', ['-c', `age -d -i "${idFile}" "${file}" | zstd -d`], {
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(plain.equals(data)).toBe(true);
  });
});

describe('a tar with raw zstd frames (incompressible blocks), read back by the age and zstd CLIs', () => {
  it('decodes to the same bytes', async () => {
    const parts = [randomBytes(2 * 1024 * 1024 + 5), Buffer.alloc(1024 * 1024 + 3, 'a'), randomBytes(300 * 1024)];
    const data = Buffer.concat(parts);
    const stored: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, callback) {
        stored.push(Buffer.from(chunk));
        callback();
      },
    });
    const tar = async (w: { write: (b: Uint8Array) => Promise<void> }): Promise<void> => {
      for (const p of parts) await w.write(p);
    };
    const facts = await storeArtifact(tar, {
      recipients: [me.recipient],
      sinks: [{ stream: sink, done: Promise.resolve() }],
    });
    const file = join(dir.path, 'raw-frames.tar.zst.age');
    writeFileSync(file, Buffer.concat(stored));
    expect(execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]).toBe(facts.sha256);
    const plain = execFileSync('sh', ['-c', `age -d -i "${idFile}" "${file}" | zstd -d`], {
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(plain.equals(data)).toBe(true);
  });
});
