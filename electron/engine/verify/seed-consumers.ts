import { Writable, type Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LifeboatError, mapError } from '../errors';
import { seedDecipher } from '../foreign/seed/enc';
import type { InnerFormat } from '../foreign/seed/names';
import type { ForeignSecrets } from '../foreign/types';
import { BoundedZstdDecompress } from '../pipeline/zstd-decode';
import { SqlMetaCommandGuard } from '../postgres/sql-guard';
import { gunzipThen, notChecked, pgRestoreList, settled, tarWalk, type Consumer } from './consumers';

/** A plain SQL dump carries no size of its own: decoding stops past this (a decompression bomb is never decoded in full). */
const SQL_PLAIN_LIMIT = 4 * 1024 ** 4;

const HEADER = /^-- PostgreSQL database (cluster )?dump\s*$/m;
// In the last 256 bytes: pg_dump closes with it, then `--` (and, since 15.14, `\unrestrict <key>`).
const FOOTER = /-- PostgreSQL database (cluster )?dump complete/;

type Outcome = Awaited<ReturnType<Consumer['outcome']>>;

/**
 * A plain SQL dump read whole: pg_dump's header in its first 8 KiB, its closing line at the end
 * (a dump cut short by a full disk or a killed job has none), and no psql meta-command outside
 * COPY data (sql-guard.ts: a restore would refuse it, so deep verification fails it first).
 */
function sqlDumpCheck(what: string): Consumer {
  const guard = new SqlMetaCommandGuard();
  let head = '';
  let tail = '';
  let bytes = 0;
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      if (head.length < 8192) head += chunk.subarray(0, 8192 - head.length).toString('latin1');
      tail = (tail + chunk.subarray(Math.max(0, chunk.length - 256)).toString('latin1')).slice(-256);
      // The guard is fed for its findings only; its output is dropped.
      guard.write(chunk, cb);
    },
    final(cb) {
      guard.end(cb);
    },
  });
  guard.resume();
  const ended = settled(sink);
  return {
    sink,
    outcome: async (): Promise<Outcome> => {
      const failure = await ended();
      if (failure) return { verdict: 'corrupted', detail: failure.message };
      if (!HEADER.test(head))
        return {
          verdict: 'unreadable-dump',
          detail: `${what} has no pg_dump header ("-- PostgreSQL database dump") in its first 8 KiB: not a pg_dump plain-SQL dump`,
        };
      if (guard.found.length) {
        const f = guard.found[0]!;
        return {
          verdict: 'unreadable-dump',
          detail: `${what} holds the psql meta-command \`${f.command}\` on line ${f.line}: a restore refuses it`,
        };
      }
      if (!FOOTER.test(tail))
        return {
          verdict: 'unreadable-dump',
          detail: `${what} is truncated: it ends without pg_dump's closing line ("-- PostgreSQL database dump complete") after ${bytes} bytes`,
        };
      return {
        verdict: 'ok',
        detail: `plain SQL dump read whole (${bytes} bytes decoded; pg_dump header and closing line present)`,
      };
    },
  };
}

/** Decoded through `stage` first; a stream that cannot be decoded (a truncated gzip) is said as such, not as a hash mismatch. */
function decodedThen(stage: Transform, next: Consumer, name: string): Consumer {
  let failure: Error | null = null;
  stage.on('error', (e) => {
    failure = e;
    next.sink.destroy();
  });
  stage.pipe(next.sink);
  const finished = new Promise<void>((resolve) => {
    next.sink.once('finish', () => resolve());
    next.sink.once('close', () => resolve());
    stage.once('error', () => resolve());
  });
  return {
    sink: stage,
    outcome: async (): Promise<Outcome> => {
      await finished;
      if (failure) {
        const msg = failure.message;
        if (failure instanceof LifeboatError && failure.code === 'DECRYPTION_FAILED')
          return { verdict: 'undecryptable', detail: msg };
        const truncated = /unexpected end of file|truncated|incomplete/i.test(msg);
        return {
          verdict: 'unreadable-dump',
          detail: `${truncated ? 'truncated: ' : ''}the ${name} stream cannot be decoded to its end (${msg})`,
        };
      }
      return next.outcome();
    },
  };
}

/**
 * An `.enc` file: the passphrase asked once the first bytes arrive, the key derivation recognised
 * from them (foreign/seed/enc.ts), then the inner check. Without a passphrase the content is
 * not checked (the stored bytes are still hashed).
 */
function decrypted(inner: Consumer, format: InnerFormat, path: string, secrets: ForeignSecrets | undefined): Consumer {
  let decipher: Transform | null = null;
  let missing: string | null = null;
  let failure: Error | null = null;
  let kdf: string | null = null;
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _e, cb) {
      if (missing || failure) return cb();
      const go = (): void => void decipher!.write(chunk, () => cb());
      if (decipher) return go();
      (secrets ? secrets.get('openssl-enc', path) : Promise.resolve(null))
        .then((passphrase) => {
          if (!passphrase) {
            missing = `no passphrase given for ${path} (lifeboat credentials add openssl --from-file F, or --passphrase-file F)`;
            return cb();
          }
          decipher = seedDecipher(
            passphrase,
            format,
            path,
            (k) => (kdf = k.kind === 'pbkdf2' ? `PBKDF2-${k.digest}` : `EVP_BytesToKey-${k.digest}`),
          );
          decipher.on('error', (e) => {
            failure = e;
            inner.sink.destroy();
          });
          decipher.pipe(inner.sink);
          go();
        })
        .catch((e: unknown) => cb(mapError(e)));
    },
    final(cb) {
      if (decipher && !failure) decipher.end(() => cb());
      else cb();
    },
  });
  const ended = settled(sink);
  return {
    sink,
    outcome: async (): Promise<Outcome> => {
      const err = await ended();
      if (err) return { verdict: 'corrupted', detail: err.message };
      if (missing) return { verdict: 'not-checked', detail: missing };
      if (failure) return { verdict: 'undecryptable', detail: failure.message };
      const out = await inner.outcome();
      return {
        ...out,
        detail: [kdf ? `decrypted (openssl enc, ${kdf})` : null, out.detail].filter(Boolean).join('; '),
      };
    },
  };
}

export interface SeedConsumerOptions {
  path: string;
  /** The pg_restore for `.dump` files, what would be needed, or null when none is installed. */
  pgRestore: string | { needs: string } | null;
  secrets?: ForeignSecrets;
}

/** Whether deep verification of this role is a seed script's (then seedConsumerFor decides, not consumerFor). */
export function isSeedRole(role: string): boolean {
  return /^(sql-dump(-gz|-zst)?|pg-globals-sql(-gz|-zst)?|pg-dump|files-tar-gz|config-tar-gz)(\+enc)?$/.test(role);
}

/** What deep verification does with a seed script's file, by role (foreign/seed/names.ts). */
export function seedConsumerFor(role: string, o: SeedConsumerOptions): Consumer {
  const encrypted = role.endsWith('+enc');
  const base = encrypted ? role.slice(0, -4) : role;
  const name = o.path.split('/').pop()!;
  let consumer: Consumer;
  let inner: InnerFormat;
  if (base === 'pg-dump') {
    inner = 'pgdmp';
    if (o.pgRestore && typeof o.pgRestore === 'object') consumer = notChecked(o.pgRestore.needs);
    else if (!o.pgRestore) consumer = notChecked('pg_restore is needed to check custom-format dumps and was not found');
    else consumer = pgRestoreList(o.pgRestore);
  } else if (base === 'files-tar-gz' || base === 'config-tar-gz') {
    inner = 'gzip';
    consumer = gunzipThen(tarWalk(false, true));
  } else {
    const sql = sqlDumpCheck(name);
    if (base.endsWith('-gz')) {
      inner = 'gzip';
      consumer = decodedThen(createGunzip(), sql, 'gzip');
    } else if (base.endsWith('-zst')) {
      inner = 'zstd';
      consumer = decodedThen(new BoundedZstdDecompress(SQL_PLAIN_LIMIT, name), sql, 'zstd');
    } else {
      inner = 'sql';
      consumer = sql;
    }
  }
  return encrypted ? decrypted(consumer, inner, o.path, o.secrets) : consumer;
}
