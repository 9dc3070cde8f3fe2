import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import * as vectors from 'cctv-age';
import { describe, expect, it } from 'vitest';
import { AgeDecryptStream, parseIdentity } from '../../electron/engine/crypto/age';
import { LifeboatError } from '../../electron/engine/errors';

/**
 * The C2SP CCTV age suite (npm `cctv-age`): the cross-implementation vectors the `age` CLI and
 * rage are held to. Every X25519 vector must end as the suite says, so a file Lifeboat calls fine
 * is one the `age` CLI of a by-hand restore also opens. Passphrase (scrypt) and armored vectors
 * are out of scope: Lifeboat writes neither.
 */

interface Vector {
  name: string;
  expect: string;
  payload: string | undefined;
  identities: string[];
  armored: boolean;
  passphrase: boolean;
  file: Buffer;
}

function parseVector(name: string, raw: Uint8Array): Vector {
  const all = Buffer.from(raw);
  const split = all.indexOf('\n\n');
  const head = all.subarray(0, split).toString('utf8');
  let file = all.subarray(split + 2);
  const v: Vector = { name, expect: '', payload: undefined, identities: [], armored: false, passphrase: false, file };
  for (const line of head.split('\n')) {
    const at = line.indexOf(': ');
    const key = line.slice(0, at);
    const value = line.slice(at + 2);
    if (key === 'expect') v.expect = value;
    else if (key === 'payload') v.payload = value;
    else if (key === 'identity') v.identities.push(value);
    else if (key === 'armored') v.armored = value === 'yes';
    else if (key === 'passphrase') v.passphrase = true;
    else if (key === 'compressed' && value === 'zlib') file = inflateSync(file);
  }
  v.file = file;
  return v;
}

interface Outcome {
  ok: boolean;
  error: LifeboatError | Error | null;
  plain: Buffer;
}

/** Feeds the file in uneven pieces (as a medium would) and collects what comes out before any error. */
async function decrypt(v: Vector): Promise<Outcome> {
  const stream = new AgeDecryptStream(v.identities.map(parseIdentity));
  const out: Buffer[] = [];
  stream.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<Error | null>((resolve) => {
    stream.on('error', resolve);
    stream.on('end', () => resolve(null));
  });
  for (let i = 0; i < v.file.length; i += 7919) stream.write(v.file.subarray(i, i + 7919));
  stream.end();
  const error = await done;
  return { ok: error === null, error, plain: Buffer.concat(out) };
}

const all = Object.entries(vectors as Record<string, Uint8Array>).map(([name, raw]) => parseVector(name, raw));
const x25519 = all.filter(
  (v) => !v.armored && !v.passphrase && v.identities.every((i) => i.startsWith('AGE-SECRET-KEY-1')),
);

describe('age: the CCTV suite (X25519 vectors)', () => {
  it('holds the vectors the issue counts (67 X25519 ones), including the 8 malformed headers', () => {
    expect(x25519.length).toBe(67);
    const names = x25519.map((v) => v.name);
    for (const n of [
      'stanza_base64_padding',
      'stanza_empty_argument',
      'stanza_invalid_character',
      'stanza_long_line',
      'stanza_missing_body',
      'stanza_missing_final_line',
      'stanza_not_canonical',
      'stanza_spurious_cr',
    ]) {
      expect(
        names.some((name) => name.includes(n)),
        n,
      ).toBe(true);
    }
  });

  for (const v of x25519) {
    it(`${v.name}: ${v.expect}`, async () => {
      const r = await decrypt(v);
      if (v.expect === 'success') {
        expect(r.error?.message ?? null).toBeNull();
        expect(createHash('sha256').update(r.plain).digest('hex')).toBe(v.payload);
        return;
      }
      // Every failure is a named DECRYPTION_FAILED, never a crash of another kind.
      expect(r.ok).toBe(false);
      expect(r.error).toBeInstanceOf(LifeboatError);
      expect((r.error as LifeboatError).code).toBe('DECRYPTION_FAILED');
      if (v.expect === 'payload failure') {
        // What went out before the error is exactly what the suite says authenticated (each chunk
        // as it is opened, as age does); Lifeboat discards a failed artifact whole (docs/media-format.md).
        expect(createHash('sha256').update(r.plain).digest('hex')).toBe(v.payload);
        return;
      }
      // Header, HMAC and no-match failures release nothing.
      expect(r.plain.length).toBe(0);
      if (v.expect === 'no match') expect(r.error?.message).toMatch(/None of the given identities/);
      if (v.expect === 'HMAC failure') expect(r.error?.message).toMatch(/MAC/);
      if (v.expect === 'header failure') expect(r.error?.message).not.toMatch(/None of the given identities/);
    });
  }
});
