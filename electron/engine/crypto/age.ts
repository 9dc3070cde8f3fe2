import { bech32 } from '@scure/base';
import { readFileSync } from 'node:fs';
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { LifeboatError } from '../errors';

/**
 * The age file format (age-encryption.org/v1) with X25519 recipients, written on node:crypto
 * so the payload runs at native ChaCha20-Poly1305 speed. Files are interchangeable with the
 * `age` CLI in both directions (tests prove it). Only X25519 stanzas are produced; others are
 * skipped when decrypting.
 */

const INTRO = 'age-encryption.org/v1';
const X25519_INFO = 'age-encryption.org/v1/X25519';
const CHUNK = 64 * 1024;
const TAG = 16;
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

export interface AgeRecipient {
  /** The `age1…` string. */
  text: string;
  publicKey: Buffer;
  /** First 16 hex of SHA-256 of the raw public key: names the key in manifests and errors. */
  keyId: string;
}

export interface AgeIdentity {
  secretKey: Buffer;
  recipient: AgeRecipient;
}

export function keyIdOf(raw: Uint8Array): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

function privateKeyObject(raw: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' });
}
function publicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' });
}
function rawPublic(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length);
}
/** Bech32 (BIP 173, not bech32m) as age writes keys; age allows strings past BIP 173's 90 characters. */
function bech32Encode(hrp: string, bytes: Uint8Array): string {
  return bech32.encode(hrp, bech32.toWords(bytes), false);
}

/** Decode, checking the checksum; case-insensitive but not mixed case. Null when invalid. */
function bech32Decode(text: string): { hrp: string; bytes: Buffer } | null {
  if (!text.includes('1')) return null;
  const decoded = bech32.decodeUnsafe(text, false);
  const bytes = decoded ? bech32.fromWordsUnsafe(decoded.words) : undefined;
  return decoded && bytes ? { hrp: decoded.prefix, bytes: Buffer.from(bytes) } : null;
}

function rawPrivate(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_X25519.length);
}

function recipientFromRaw(publicKey: Buffer): AgeRecipient {
  return { text: bech32Encode('age', publicKey), publicKey, keyId: keyIdOf(publicKey) };
}

export function parseRecipient(text: string): AgeRecipient {
  const decoded = bech32Decode(text.trim());
  if (!decoded || decoded.hrp !== 'age' || decoded.bytes.length !== 32) {
    throw new LifeboatError('KEY_INVALID', `Not an age X25519 recipient: "${text.trim().slice(0, 20)}…"`, {
      hint: 'Recipients look like age1… (62 characters); `lifeboat keys age-new` prints one.',
    });
  }
  return recipientFromRaw(decoded.bytes);
}

export function parseIdentity(text: string): AgeIdentity {
  const decoded = bech32Decode(text.trim());
  if (!decoded || decoded.hrp !== 'age-secret-key-' || decoded.bytes.length !== 32) {
    // Never echo the text: it may be a (mistyped) secret.
    throw new LifeboatError('KEY_INVALID', 'Not an age identity (expected a line starting with AGE-SECRET-KEY-1).');
  }
  const pub = rawPublic(createPublicKey(privateKeyObject(decoded.bytes)));
  return { secretKey: decoded.bytes, recipient: recipientFromRaw(pub) };
}

/** Identities from an identity file's text: one per line, `#` comments ignored. */
export function parseIdentityFile(text: string): AgeIdentity[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new LifeboatError('KEY_INVALID', 'The identity file holds no age identity.');
  return lines.map(parseIdentity);
}

/** Identities from files the operator named (the app and the bridge get paths, never key material). */
export function readIdentityFiles(paths: string[]): AgeIdentity[] {
  return paths.flatMap((f) => {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      throw new LifeboatError('KEY_INVALID', `Cannot read the identity file ${f}.`);
    }
    return parseIdentityFile(text);
  });
}

export function generateIdentity(): { identity: AgeIdentity; text: string } {
  const { privateKey } = generateKeyPairSync('x25519');
  const secret = rawPrivate(privateKey);
  const identity = parseIdentity(bech32Encode('age-secret-key-', secret).toUpperCase());
  return { identity, text: bech32Encode('age-secret-key-', secret).toUpperCase() };
}

/** An identity file as `age-keygen` writes it. */
export function identityFileText(identity: AgeIdentity, created = new Date()): string {
  return `# created: ${created.toISOString()}\n# public key: ${identity.recipient.text}\n${bech32Encode('age-secret-key-', identity.secretKey).toUpperCase()}\n`;
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');
function unb64(s: string): Buffer {
  if (!/^[A-Za-z0-9+/]*$/.test(s)) throw new Error('bad base64');
  const b = Buffer.from(s, 'base64');
  if (b64(b) !== s) throw new Error('non-canonical base64');
  return b;
}
function wrap64(s: string): string {
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += 64) lines.push(s.slice(i, i + 64));
  // A body whose last line is exactly 64 characters is followed by an empty line.
  if (s.length % 64 === 0) lines.push('');
  return lines.join('\n');
}

function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

function aead(key: Buffer, nonce: Buffer, data: Buffer): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  return Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
}
function unaead(key: Buffer, nonce: Buffer, data: Buffer): Buffer | null {
  if (data.length < TAG) return null;
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  d.setAuthTag(data.subarray(data.length - TAG));
  try {
    return Buffer.concat([d.update(data.subarray(0, data.length - TAG)), d.final()]);
  } catch {
    return null;
  }
}

function wrapFileKey(fileKey: Buffer, r: AgeRecipient): string {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const ephemeral = rawPublic(publicKey);
  const shared = diffieHellman({ privateKey, publicKey: publicKeyObject(r.publicKey) });
  const wrapKey = hkdf(shared, Buffer.concat([ephemeral, r.publicKey]), X25519_INFO);
  const body = aead(wrapKey, Buffer.alloc(12), fileKey);
  return `-> X25519 ${b64(ephemeral)}\n${wrap64(b64(body))}\n`;
}

function unwrapFileKey(s: { args: string[]; body: Buffer }, id: AgeIdentity): Buffer | null {
  if (s.args.length !== 1) throw malformed('an X25519 stanza must have exactly one argument');
  const ephemeral = strictB64(s.args[0]!, 'an X25519 share');
  if (ephemeral.length !== 32) throw malformed('an X25519 share is not 32 bytes');
  if (s.body.length !== 32) throw malformed('an X25519 stanza does not wrap a 16-byte file key');
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: privateKeyObject(id.secretKey), publicKey: publicKeyObject(ephemeral) });
  } catch {
    // OpenSSL refuses a low-order share (the all-zero shared secret) outright.
    throw malformed('an X25519 share is a low-order point');
  }
  if (shared.every((b) => b === 0)) throw malformed('an X25519 share is a low-order point');
  const wrapKey = hkdf(shared, Buffer.concat([ephemeral, id.recipient.publicKey]), X25519_INFO);
  return unaead(wrapKey, Buffer.alloc(12), s.body);
}

function chunkNonce(counter: bigint, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(counter, 3); // 11-byte big-endian counter: the top 3 bytes stay zero
  n[11] = last ? 1 : 0;
  return n;
}

/**
 * The start of a new age file for these recipients: the header (stanzas, MAC and payload nonce)
 * and the payload key its 64 KiB chunks are sealed with (ChaCha20-Poly1305, nonce = 11-byte
 * big-endian counter + last-chunk flag). Shared by the stream below and the threaded encoder.
 */
export function ageFileStart(recipients: AgeRecipient[]): { header: Buffer; payloadKey: Buffer } {
  if (recipients.length === 0) throw new LifeboatError('BAD_INPUT', 'Encryption needs at least one recipient.');
  const fileKey = randomBytes(16);
  let header = `${INTRO}\n`;
  for (const r of recipients) header += wrapFileKey(fileKey, r);
  header += '---';
  const mac = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header'))
    .update(header)
    .digest();
  const nonce = randomBytes(16);
  return {
    header: Buffer.concat([Buffer.from(`${header} ${b64(mac)}\n`), nonce]),
    payloadKey: hkdf(fileKey, nonce, 'payload'),
  };
}

/** An encrypting Transform: plaintext in, an age file out. */
export class AgeEncryptStream extends Transform {
  private readonly payloadKey: Buffer;
  private readonly header: Buffer;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private counter = 0n;
  private headerSent = false;

  constructor(recipients: AgeRecipient[]) {
    super();
    ({ header: this.header, payloadKey: this.payloadKey } = ageFileStart(recipients));
  }

  private sealChunk(plain: Buffer, last: boolean): Buffer {
    return aead(this.payloadKey, chunkNonce(this.counter++, last), plain);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.headerSent) {
      this.push(this.header);
      this.headerSent = true;
    }
    // Seal straight from the incoming chunk where possible (no copies); always keep at least
    // one byte back, since the last chunk must be sealed with the last-chunk flag.
    let data = chunk;
    if (this.pendingLength > 0) {
      const need = CHUNK - this.pendingLength;
      if (data.length <= need) {
        this.pending.push(data);
        this.pendingLength += data.length;
        return done();
      }
      const head = Buffer.concat([...this.pending, data.subarray(0, need)], CHUNK);
      this.pending = [];
      this.pendingLength = 0;
      data = data.subarray(need);
      this.push(this.sealChunk(head, false));
    }
    let offset = 0;
    while (data.length - offset > CHUNK) {
      this.push(this.sealChunk(data.subarray(offset, offset + CHUNK), false));
      offset += CHUNK;
    }
    const rest = data.subarray(offset);
    if (rest.length > 0) {
      this.pending = [rest];
      this.pendingLength = rest.length;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (!this.headerSent) this.push(this.header);
    this.push(this.sealChunk(Buffer.concat(this.pending), true));
    this.pending = [];
    done();
  }
}

function undecryptable(message: string, hint?: string): LifeboatError {
  return new LifeboatError('DECRYPTION_FAILED', message, hint ? { hint } : {});
}

const MAX_HEADER = 1024 * 1024;

interface Stanza {
  type: string;
  args: string[];
  body: Buffer;
}

function malformed(why: string): LifeboatError {
  return undecryptable(
    `Malformed age header: ${why}.`,
    'The file does not follow the age format (age-encryption.org/v1); the `age` CLI would refuse it too.',
  );
}

/** A stanza argument or type: non-empty, printable ASCII without spaces (the spec's VCHAR). */
function validArg(a: string): boolean {
  if (a.length === 0) return false;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c < 33 || c > 126) return false;
  }
  return true;
}

/** Canonical unpadded base64 (no `=`, no CR, zero trailing bits), or a header failure. */
function strictB64(s: string, what: string): Buffer {
  try {
    return unb64(s);
  } catch {
    throw malformed(`${what} is not canonical unpadded base64`);
  }
}

/**
 * The header exactly as age-encryption.org/v1 states it (and as the reference implementation
 * parses it): the intro line; stanzas `-> type args…` of non-empty VCHAR arguments separated by
 * single spaces, each with a body of 64-column base64 lines ended by one shorter (possibly empty)
 * line; then `--- <MAC>`. Lines end in LF only. `text` ends with the footer's LF.
 */
function parseAgeHeader(text: Buffer): { stanzas: Stanza[]; macd: Buffer; mac: Buffer } {
  const lines = text
    .subarray(0, text.length - 1)
    .toString('latin1')
    .split('\n');
  if (lines[0] !== INTRO) throw undecryptable('Not an age v1 file.');
  const stanzas: Stanza[] = [];
  let i = 1;
  for (;;) {
    const line = lines[i++];
    if (line === undefined) throw malformed('no MAC line');
    if (line.startsWith('---')) {
      const parts = line.split(' ');
      if (parts[0] !== '---' || parts.length !== 2) throw malformed('bad MAC line');
      // Every line up to here, and the footer's `---`, is covered by the MAC.
      const macd = text.subarray(0, text.length - 1 - (line.length - 3));
      if (i !== lines.length) throw malformed('text after the MAC line');
      return { stanzas, macd, mac: strictB64(parts[1]!, 'the MAC') };
    }
    if (!line.startsWith('->')) throw malformed('a line is neither a stanza nor the MAC line');
    const [prefix, ...args] = line.split(' ');
    if (prefix !== '->' || args.length < 1 || !args.every(validArg))
      throw malformed('a stanza line has an empty or invalid argument');
    const body: Buffer[] = [];
    for (;;) {
      const b = lines[i++];
      // The footer is always the last line: running into it means the body never ended with a short line.
      if (b === undefined || i > lines.length - 1) throw malformed('a stanza body does not end with a short line');
      const bytes = strictB64(b, 'a stanza body');
      if (bytes.length > 48) throw malformed('a stanza body line is longer than 64 columns');
      body.push(bytes);
      if (bytes.length < 48) break;
    }
    stanzas.push({ type: args[0]!, args: args.slice(1), body: Buffer.concat(body) });
  }
}

/**
 * The file key, from the first stanza one of the identities opens (identities in order, then
 * stanzas in order, as age does). A stanza that is not for us is skipped; an X25519 stanza that is
 * malformed for its type (argument count, share size, low-order share, file key size) fails the
 * file, as it fails in age.
 */
function unwrapAny(stanzas: Stanza[], identities: AgeIdentity[]): Buffer {
  for (const id of identities) {
    for (const s of stanzas) {
      if (s.type !== 'X25519') continue;
      const fileKey = unwrapFileKey(s, id);
      if (fileKey) return fileKey;
    }
  }
  throw undecryptable(
    'None of the given identities can decrypt this file.',
    'Use the age identity whose recipient the set was encrypted to (the manifest names its key id).',
  );
}

/** A decrypting Transform: an age file in, plaintext out; damage or truncation is an error. */
export class AgeDecryptStream extends Transform {
  private headerBuf: Buffer = Buffer.alloc(0);
  private payloadKey: Buffer | null = null;
  private body: Buffer[] = [];
  private bodyLength = 0;
  private counter = 0n;
  private finished = false;
  /** Key ids named in the header, for "no identity for key …" messages. */
  recipientsSeen: string[] = [];

  constructor(private readonly identities: AgeIdentity[]) {
    super();
  }

  private parseHeader(): boolean {
    // The header ends with the MAC line (the first line starting with `---`), then the 16-byte payload nonce.
    const footerStart = this.headerBuf.indexOf('\n---');
    if (footerStart < 0) {
      if (this.headerBuf.length > MAX_HEADER)
        throw undecryptable(`Not an age file (no header end within ${MAX_HEADER / 1024 / 1024} MiB).`);
      return false;
    }
    const eol = this.headerBuf.indexOf('\n', footerStart + 1);
    if (eol < 0 || this.headerBuf.length < eol + 1 + 16) return false;
    const header = parseAgeHeader(this.headerBuf.subarray(0, eol + 1));
    for (const s of header.stanzas)
      if (s.type === 'X25519' && s.args.length === 1) this.recipientsSeen.push(s.args[0]!);
    const fileKey = unwrapAny(header.stanzas, this.identities);
    const expected = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header'))
      .update(header.macd)
      .digest();
    if (header.mac.length !== expected.length || !timingSafeEqual(header.mac, expected))
      throw undecryptable('The age header was tampered with (MAC mismatch).');
    const nonce = this.headerBuf.subarray(eol + 1, eol + 17);
    this.payloadKey = hkdf(fileKey, nonce, 'payload');
    const rest = this.headerBuf.subarray(eol + 17);
    this.headerBuf = Buffer.alloc(0);
    if (rest.length > 0) {
      this.body.push(rest);
      this.bodyLength += rest.length;
    }
    return true;
  }

  private openChunk(sealed: Buffer, last: boolean): Buffer {
    const plain = unaead(this.payloadKey!, chunkNonce(this.counter, last), sealed);
    if (!plain) throw undecryptable('The encrypted data is damaged (authentication failed).');
    this.counter++;
    return plain;
  }

  /**
   * A full-size sealed chunk, as age's reader opens it: as a middle chunk, else as the last one (a
   * last chunk may be full). Either answer is authenticated, so its plaintext can go out at once;
   * after a last chunk, any byte more is an error.
   */
  private openFullChunk(sealed: Buffer): Buffer {
    const middle = unaead(this.payloadKey!, chunkNonce(this.counter, false), sealed);
    if (middle) {
      this.counter++;
      return middle;
    }
    const plain = this.openChunk(sealed, true);
    this.finished = true;
    return plain;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out: Buffer[] = [];
    try {
      if (this.finished) throw undecryptable('Data after the end of the age payload.');
      if (!this.payloadKey) {
        this.headerBuf = Buffer.concat([this.headerBuf, chunk]);
        if (!this.parseHeader()) return done();
      } else {
        this.body.push(chunk);
        this.bodyLength += chunk.length;
      }
      const sealedSize = CHUNK + TAG;
      if (this.bodyLength >= sealedSize) {
        const all = Buffer.concat(this.body);
        let offset = 0;
        while (all.length - offset >= sealedSize) {
          if (this.finished) throw undecryptable('Data after the end of the age payload.');
          out.push(this.openFullChunk(all.subarray(offset, offset + sealedSize)));
          offset += sealedSize;
        }
        if (this.finished && offset < all.length) throw undecryptable('Data after the end of the age payload.');
        this.body = [all.subarray(offset)];
        this.bodyLength = all.length - offset;
      }
      if (out.length) this.push(Buffer.concat(out));
      done();
    } catch (e) {
      // What authenticated before the damage goes out, as with age (a failed artifact is discarded whole).
      if (out.length) this.push(Buffer.concat(out));
      done(e as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.payloadKey) throw undecryptable('The age file is truncated (incomplete header).');
      const last = Buffer.concat(this.body);
      if (this.finished) {
        // The last chunk was full-size and has gone out already.
        if (last.length > 0) throw undecryptable('Data after the end of the age payload.');
        return done();
      }
      if (last.length < TAG)
        throw undecryptable(
          last.length === 0 && this.counter > 0n
            ? 'The age file is truncated (its last chunk is missing).'
            : 'The age file is truncated.',
        );
      const plain = this.openChunk(last, true);
      if (plain.length === 0 && this.counter > 1n) throw undecryptable('The age file has an invalid empty last chunk.');
      this.finished = true;
      this.push(plain);
      done();
    } catch (e) {
      done(e as Error);
    }
  }
}
