import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { LifeboatError } from '../errors';

/**
 * Redis connections: the `redis://[user:pass@]host:port` URL (the password kept apart, never in an
 * argument list, a log line or a manifest) and a small RESP2 client for the few commands Lifeboat
 * sends (INFO, DBSIZE, SCAN, TYPE, DUMP, PING, SELECT). redis-cli streams the RDB itself
 * (backup/redis.ts), with the password in its REDISCLI_AUTH environment variable.
 */

export interface RedisTarget {
  host: string;
  port: number;
  /** A unix socket instead of host and port (a scratch server). */
  socket?: string;
  user: string | null;
  password: string | null;
}

export function parseRedisUrl(url: string, password: string | null = null): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new LifeboatError('BAD_INPUT', 'The Redis URL is not a URL.', {
      hint: 'Give redis://[user:pass@]host:port (the password better in REDISCLI_AUTH).',
    });
  }
  if (u.protocol !== 'redis:')
    throw new LifeboatError('BAD_INPUT', `Redis URLs start with redis:// (got ${u.protocol}//).`, {
      hint: 'Give redis://[user:pass@]host:port; TLS (rediss://) is not supported.',
    });
  if (!u.hostname) throw new LifeboatError('BAD_INPUT', 'The Redis URL names no host.');
  const port = u.port ? Number(u.port) : 6379;
  const user = u.username ? decodeURIComponent(u.username) : null;
  const inUrl = u.password ? decodeURIComponent(u.password) : null;
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    user: user === 'default' && !inUrl && !password ? null : user,
    password: inUrl ?? password ?? process.env.REDISCLI_AUTH ?? null,
  };
}

/** The target as it may be shown and recorded: never the password. */
export function describeTarget(t: RedisTarget): string {
  return t.socket ?? `${t.host}:${t.port}`;
}

type Reply = string | number | null | Buffer | Reply[] | RedisReplyError;

export class RedisReplyError extends Error {}

/** A parser of RESP2 replies from a growing buffer; null when the reply is not complete yet. */
function parseReply(buf: Buffer, at: number): { value: Reply; end: number } | null {
  if (at >= buf.length) return null;
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[at]!);
  const line = buf.toString('utf8', at + 1, nl);
  switch (type) {
    case '+':
      return { value: line, end: nl + 2 };
    case '-':
      return { value: new RedisReplyError(line), end: nl + 2 };
    case ':':
      return { value: Number(line), end: nl + 2 };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: nl + 2 };
      if (buf.length < nl + 2 + n + 2) return null;
      return { value: buf.subarray(nl + 2, nl + 2 + n), end: nl + 2 + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: nl + 2 };
      const items: Reply[] = [];
      let pos = nl + 2;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, pos);
        if (!r) return null;
        items.push(r.value);
        pos = r.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new LifeboatError('DB_ERROR', `The Redis server sent a reply this client cannot read (${type}).`);
  }
}

function encode(args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** One connection, commands sent one at a time. */
export class RedisClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];
  private failure: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      for (;;) {
        const r = parseReply(this.buf, 0);
        if (!r) break;
        this.buf = this.buf.subarray(r.end);
        this.waiting.shift()?.resolve(r.value);
      }
    });
    const fail = (e: Error): void => {
      this.failure ??= e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new LifeboatError('DB_UNREACHABLE', 'The Redis server closed the connection.')));
  }

  static async open(t: RedisTarget, timeoutMs = 5000): Promise<RedisClient> {
    const where = describeTarget(t);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = t.socket ? connect(t.socket) : connect(t.port, t.host);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new LifeboatError('DB_UNREACHABLE', `The Redis server at ${where} did not answer in time.`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(
          new LifeboatError('DB_UNREACHABLE', `The Redis server at ${where} cannot be reached: ${e.message}`, {
            hint: 'Check the host and port (and that redis-server is running).',
          }),
        );
      });
    });
    const client = new RedisClient(socket);
    if (t.password !== null) {
      try {
        await client.command(t.user ? ['AUTH', t.user, t.password] : ['AUTH', t.password]);
      } catch (e) {
        client.close();
        throw new LifeboatError('DB_AUTH_FAILED', `The Redis server at ${where} refused the credentials.`, {
          hint: 'Check the user and the password (REDISCLI_AUTH or the URL).',
          cause: e,
        });
      }
    }
    return client;
  }

  /** Send one command; a Redis error reply rejects with its text. */
  async command(args: Array<string | Buffer>): Promise<Reply> {
    if (this.failure) throw this.failure;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(encode(args));
    });
    if (reply instanceof RedisReplyError) throw new LifeboatError('DB_ERROR', `Redis: ${reply.message}`);
    return reply;
  }

  async text(args: Array<string | Buffer>): Promise<string> {
    const r = await this.command(args);
    return Buffer.isBuffer(r) ? r.toString('utf8') : String(r);
  }

  close(): void {
    this.socket.destroy();
  }

  /** The socket, for a caller that reads the rest of the conversation itself (SYNC). */
  detach(): Socket {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    this.socket.removeAllListeners('error');
    return this.socket;
  }
}

export async function withRedis<T>(t: RedisTarget, fn: (c: RedisClient) => Promise<T>): Promise<T> {
  const c = await RedisClient.open(t);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** `INFO <section>` as key → value. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** INFO keyspace: keys and keys with a TTL, per database number. */
export type Keyspace = Record<string, { keys: number; expires: number }>;

export function parseKeyspace(text: string): Keyspace {
  const out: Keyspace = {};
  for (const [k, v] of parseInfo(text)) {
    const m = /^db(\d+)$/.exec(k);
    if (!m) continue;
    const f = Object.fromEntries(v.split(',').map((p) => p.split('=') as [string, string]));
    out[m[1]!] = { keys: Number(f.keys ?? 0), expires: Number(f.expires ?? 0) };
  }
  return out;
}

/** Every key name of the selected database (SCAN, bounded batches). */
export async function* scanKeys(c: RedisClient): AsyncGenerator<Buffer> {
  let cursor = '0';
  do {
    const r = (await c.command(['SCAN', cursor, 'COUNT', '1000'])) as [Buffer, Buffer[]];
    cursor = r[0].toString();
    yield* r[1];
  } while (cursor !== '0');
}

/**
 * The server's RDB through the replication protocol (what `redis-cli --rdb` does): AUTH, `REPLCONF
 * capa eof`, `REPLCONF rdb-only 1`, `SYNC`, then the bulk payload as a stream. The server forks and snapshots its data
 * at one moment (BGSAVE): the RDB is a consistent point in time. Both bulk forms are read: `$<len>`
 * (a disk-based sync) and `$EOF:<mark>` (diskless, ended by a 40-byte mark that is not data).
 */
export async function syncRdb(
  t: RedisTarget,
  o: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<{ stream: Readable; done: Promise<{ bytes: number; form: 'length' | 'eof-mark' }> }> {
  const client = await RedisClient.open(t);
  try {
    // "This replica reads the `$EOF:` form": without it a server always serves SYNC from an RDB
    // file it writes to its data directory, even one configured for diskless syncs (Redis 7's
    // default) and one that saves nothing (`save ''`). With it, such a server never touches disk.
    await client.command(['REPLCONF', 'capa', 'eof']);
  } catch {
    // A server without capabilities (before 2.8.18): a disk-based sync, which the length form reports.
  }
  try {
    await client.command(['REPLCONF', 'rdb-only', '1']);
  } catch {
    // An older server: it streams the replication commands after the RDB, which are not read.
  }
  const socket = client.detach();
  const where = describeTarget(t);
  let pending: Buffer = Buffer.alloc(0);
  let header: { form: 'length'; left: number } | { form: 'eof-mark'; mark: Buffer } | null = null;
  let bytes = 0;
  let settle!: { resolve: (v: { bytes: number; form: 'length' | 'eof-mark' }) => void; reject: (e: Error) => void };
  const done = new Promise<{ bytes: number; form: 'length' | 'eof-mark' }>((resolve, reject) => {
    settle = { resolve, reject };
  });
  done.catch(() => undefined);
  let finished = false;
  const stream = new Readable({
    highWaterMark: 1 << 20,
    read: () => {
      socket.resume();
    },
    destroy: (err, cb) => {
      socket.destroy();
      if (!finished) {
        finished = true;
        settle.reject(err ?? new LifeboatError('CANCELLED', 'Cancelled.'));
      }
      cb(err);
    },
  });
  const fail = (e: Error): void => {
    if (finished) return;
    finished = true;
    settle.reject(e);
    stream.destroy(e);
  };
  const end = (form: 'length' | 'eof-mark'): void => {
    finished = true;
    socket.destroy();
    stream.push(null);
    settle.resolve({ bytes, form });
  };
  const push = (chunk: Buffer): void => {
    if (chunk.length === 0) return;
    bytes += chunk.length;
    if (!stream.push(chunk)) socket.pause();
  };
  const onAbort = (): void => fail(new LifeboatError('CANCELLED', 'Cancelled.'));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  void done.finally(() => o.signal?.removeEventListener('abort', onAbort)).catch(() => undefined);
  socket.on('data', (d: Buffer) => {
    if (finished) return;
    if (!header) {
      pending = Buffer.concat([pending, d]);
      // Newlines are the server's keep-alives while it saves.
      let i = 0;
      while (i < pending.length && pending[i] === 0x0a) i++;
      pending = pending.subarray(i);
      const nl = pending.indexOf('\r\n');
      if (nl < 0) return;
      const line = pending.toString('latin1', 0, nl);
      const rest = pending.subarray(nl + 2);
      pending = Buffer.alloc(0);
      if (line.startsWith('-'))
        return fail(new LifeboatError('DB_ERROR', `The Redis server at ${where} refused SYNC: ${line.slice(1)}`));
      const eof = /^\$EOF:(.{40})$/.exec(line);
      const len = /^\$(\d+)$/.exec(line);
      if (eof) header = { form: 'eof-mark', mark: Buffer.from(eof[1]!, 'latin1') };
      else if (len) header = { form: 'length', left: Number(len[1]) };
      else
        return fail(
          new LifeboatError('DB_ERROR', `The Redis server at ${where} answered SYNC with ${line.slice(0, 40)}`),
        );
      d = rest;
    }
    if (header.form === 'length') {
      const take = d.subarray(0, header.left);
      header.left -= take.length;
      push(take);
      if (header.left === 0) end('length');
      return;
    }
    // Hold back the last 40 bytes: they may be the end mark.
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    if (pending.length >= 40 && pending.subarray(pending.length - 40).equals(header.mark)) {
      push(pending.subarray(0, pending.length - 40));
      pending = Buffer.alloc(0);
      return end('eof-mark');
    }
    if (pending.length > 40) {
      push(pending.subarray(0, pending.length - 40));
      pending = Buffer.from(pending.subarray(pending.length - 40));
    }
  });
  socket.on('error', (e) =>
    fail(new LifeboatError('DB_UNREACHABLE', `Reading the RDB from ${where} failed: ${e.message}`)),
  );
  socket.on('close', () =>
    fail(
      new LifeboatError('DB_UNREACHABLE', `The Redis server at ${where} closed the connection before the RDB ended.`),
    ),
  );
  socket.write(encode(['SYNC']));
  return { stream, done };
}
