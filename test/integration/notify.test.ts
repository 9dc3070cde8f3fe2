import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { json, lifeboatAsync, loggedUnder, type CliRun } from '../helpers/cli';
import { startSecretService, type SecretService } from '../helpers/secret-service';
import { tempDir } from '../helpers/temp';

/**
 * Notifications on real processes (issue 24 items 3 and 7): the built `lifeboat` spawned as cron
 * would, a real SMTP server (smtp-server, with a login) and an HTTP receiver on loopback.
 */

const SMTP_PASSWORD = 'Smtp-Canary-7f3a';
const HOOK_TOKEN = 'T0CANARY/B0CANARY/HookCanary9c1e';
const DB_PASSWORD = 'Db-Canary-22d1';

interface Mail {
  from: string;
  to: string[];
  user: string | undefined;
  raw: string;
  subject: string;
  body: string;
}

let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;
let src: string;
let smtp: SMTPServer;
let smtpPort: number;
let http: Server;
let httpPort: number;
const mails: Mail[] = [];
const hooks: Array<{ path: string; body: { text: string; blocks: unknown[] } }> = [];
/** The status the receiver answers next (a 500 to test the retry), then 200. */
let nextHookStatus: number[] = [];

/** Headers unfolded, the text body decoded (quoted-printable or base64, as nodemailer chose). */
function parseMail(raw: string): { subject: string; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  let body = raw.slice(split + 4);
  const cte = /^content-transfer-encoding:\s*(\S+)/im.exec(head)?.[1]?.toLowerCase();
  if (cte === 'quoted-printable')
    body = Buffer.from(
      body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  else if (cte === 'base64') body = Buffer.from(body, 'base64').toString('utf8');
  return { subject: /^subject:\s*(.*)$/im.exec(head)?.[1] ?? '', body: body.replace(/\r\n/g, '\n') };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.setEncoding('utf8').on('data', (d: string) => (s += d));
    req.on('end', () => resolve(s));
  });
}

const logs = (): string => loggedUnder(join(dir.path, 'home'));

/** Write a config and return its path. */
function config(name: string, yaml: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, yaml, { mode: 0o600 });
  return path;
}

function channels(on: string, opts: { smtpPort?: number; hookFile?: string } = {}): string {
  return `channels:
  - type: email
    name: ops-mail
    on: ${on}
    host: 127.0.0.1
    port: ${opts.smtpPort ?? smtpPort}
    tls: none
    from: lifeboat@db1.example.org
    to: [ops@example.org, dba@example.org]
    user: lifeboat
    password: env:LB_SMTP_PASSWORD
  - type: webhook
    name: slack
    on: ${on}
    url: file:${opts.hookFile ?? join(dir.path, 'hook-url')}
`;
}

/** No secret of the test may appear in what the operator, the log, the mail or the receiver sees. */
function expectNoSecrets(...texts: string[]): void {
  for (const t of texts)
    for (const secret of [SMTP_PASSWORD, HOOK_TOKEN, 'HookCanary9c1e', DB_PASSWORD]) expect(t).not.toContain(secret);
}

const run = (extra: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> =>
  lifeboatAsync({ ...env, ...extra }, ...args);

/** A real SMTP server on loopback with a login, keeping every mail it receives in `mails`. */
async function startSmtp(options: SMTPServerOptions): Promise<SMTPServer> {
  const server = new SMTPServer({
    logger: false,
    ...options,
    onAuth(auth, _session, cb) {
      if (auth.username === 'lifeboat' && auth.password === SMTP_PASSWORD) cb(null, { user: 'lifeboat' });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => (raw += d));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          raw,
          ...parseMail(raw),
        });
        cb();
      });
    },
  });
  // A client that refuses the certificate hangs up mid-handshake: the server reports it, the test expects it.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

beforeAll(async () => {
  dir = tempDir();
  medium = join(dir.path, 'medium');
  src = join(dir.path, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'a.txt'), 'hello\n');
  env = {
    LIFEBOAT_HOME: join(dir.path, 'home'),
    HOME: join(dir.path, 'user'),
    LB_SMTP_PASSWORD: SMTP_PASSWORD,
    LIFEBOAT_NOTIFY_RETRY_MS: '100',
    LIFEBOAT_NOTIFY_CONFIG: undefined,
    PGPASSWORD: undefined,
  };
  mkdirSync(join(dir.path, 'user'));
  smtp = await startSmtp({ disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
  smtpPort = (smtp.server.address() as AddressInfo).port;
  http = createServer((req, res) => {
    void readBody(req).then((body) => {
      const status = nextHookStatus.shift() ?? 200;
      hooks.push({ path: req.url ?? '', body: JSON.parse(body) as { text: string; blocks: unknown[] } });
      res.writeHead(status).end(status === 200 ? 'ok' : 'busy');
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpPort = (http.address() as AddressInfo).port;
  writeFileSync(join(dir.path, 'hook-url'), `http://127.0.0.1:${httpPort}/services/${HOOK_TOKEN}\n`, { mode: 0o600 });
  const init = await run({}, 'medium', 'init', medium, '--label', 'usb-1');
  expect(init.status, init.stderr).toBe(0);
});

afterAll(async () => {
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await new Promise<void>((resolve) => http.close(() => resolve()));
  dir.cleanup();
});

beforeEach(() => {
  mails.length = 0;
  hooks.length = 0;
  nextHookStatus = [];
});

/** A files backup of the test's folder to the medium, as cron would run it. */
const filesBackup = (extra: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> =>
  run(extra, 'backup', 'files', '--system', 'uploads', '--path', src, '--to', medium, ...args);

/** A pg backup against a database that is not there, as a cron line would run it. */
const failingBackup = (...extra: string[]): string[] => [
  'backup',
  'pg',
  '--system',
  'customer-db',
  '--db',
  `postgres://backup:${DB_PASSWORD}@127.0.0.1:1/app`,
  '--to',
  medium,
  ...extra,
];

describe('notifications (lifeboat backup/verify/wal-push --notify-config)', () => {
  it('a failed backup mails and posts what failed, where, the hint and the command to rerun; its exit code stands', async () => {
    const plain = await run({}, ...failingBackup());
    expect(plain.status).toBe(2);
    const cfg = config('failure.yaml', channels('[failure]'));
    const r = await run({}, ...failingBackup('--notify-config', cfg));
    expect(r.status, r.stderr).toBe(plain.status);
    expect(r.stderr).toMatch(/lifeboat: .*PostgreSQL/);
    expect(r.stderr).not.toMatch(/notification/);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.user).toBe('lifeboat');
    expect(mail.from).toBe('lifeboat@db1.example.org');
    expect(mail.to).toEqual(['ops@example.org', 'dba@example.org']);
    expect(mail.subject).toBe(`[lifeboat] lifeboat backup pg of customer-db FAILED on ${hostname()}`);
    expect(mail.body).toMatch(/^Error: +DB_UNREACHABLE$/m);
    expect(mail.body).toMatch(/^Hint: +\S/m);
    expect(mail.body).toContain(`Host:      ${hostname()}`);
    expect(mail.body).toContain(`Media:     ${medium}`);
    expect(mail.body).toContain('Exit code: 2');
    expect(mail.body).toMatch(/^Started: +\d{4}-\d\d-\d\dT/m);
    expect(mail.body).toContain(
      `lifeboat backup pg --system customer-db --db postgres://backup:[redacted]@127.0.0.1:1/app --to ${medium}`,
    );
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.path).toBe(`/services/${HOOK_TOKEN}`);
    expect(hooks[0]!.body.text).toContain('lifeboat backup pg of customer-db FAILED');
    expect(JSON.stringify(hooks[0]!.body.blocks)).toContain('DB_UNREACHABLE');
    expectNoSecrets(r.stdout, r.stderr, logs(), mail.raw, JSON.stringify(hooks[0]!.body));
  });

  it('a successful backup with on: success names its set; the same config sends nothing for failure-only channels', async () => {
    const cfg = config('success.yaml', channels('[success]'));
    const r = await filesBackup({}, '--json', '--notify-config', cfg);
    expect(r.status, r.stderr).toBe(0);
    const set = json<{ set_id: string }>(r);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe(`[lifeboat] lifeboat backup files of uploads succeeded on ${hostname()}`);
    expect(mails[0]!.body).toContain(`Set:       ${set.set_id}`);
    expect(mails[0]!.body).toMatch(new RegExp(`Set ${set.set_id} of uploads written: .* on 1 medium\\.`));
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.body.text).toContain('succeeded');
    // A failure-only config (here by the variable) is silent on success.
    const quiet = await filesBackup({ LIFEBOAT_NOTIFY_CONFIG: config('failure-only.yaml', channels('[failure]')) });
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(mails).toHaveLength(1);
    expect(hooks).toHaveLength(1);
  });

  it('verify finding a damaged set (exit 1, no thrown error) sends the findings; a WAL push that fails does too', async () => {
    const sets = readdirSync(join(medium, 'sets', 'uploads'));
    const artifact = join(medium, 'sets', 'uploads', sets[0]!, 'files.tar.zst');
    const bytes = readFileSync(artifact);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    writeFileSync(artifact, bytes);
    const cfgEnv = { LIFEBOAT_NOTIFY_CONFIG: config('env.yaml', channels('[failure]')) };
    const v = await run(cfgEnv, 'verify', medium);
    expect(v.status, v.stdout + v.stderr).toBe(1);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toContain('lifeboat verify FAILED');
    expect(mails[0]!.body).toMatch(/\d of \d sets passed at integrity level; FAILED: uploads\/\S+ \[corrupted\]/);
    const w = await run(
      cfgEnv,
      'wal-push',
      join(dir.path, 'no-such', '000000010000000000000001'),
      '--system',
      'customer-db',
      '--to',
      medium,
    );
    expect(w.status).not.toBe(0);
    expect(mails).toHaveLength(2);
    expect(mails[1]!.subject).toContain('lifeboat wal-push of customer-db FAILED');
    expect(hooks).toHaveLength(2);
    // lifeboat check leaving OK (here --max-age 1s on the medium: the newest set is older) sends check-not-ok.
    const checkCfg = config('check.yaml', channels('[check-not-ok]'));
    // The newest set may be only a second old on a fast machine (age 1 s is not past --max-age 1s): wait until it is.
    const newest = readdirSync(join(medium, 'sets', 'uploads'))
      .sort()
      .at(-1)!;
    const createdAt = (
      JSON.parse(readFileSync(join(medium, 'sets', 'uploads', newest, 'manifest.json'), 'utf8')) as {
        created_at: string;
      }
    ).created_at;
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(createdAt) + 2600 - Date.now())));
    const c = await run(
      {},
      'check',
      '--from',
      medium,
      '--system',
      'uploads',
      '--max-age',
      '1s',
      '--notify-config',
      checkCfg,
    );
    expect([1, 2], c.stdout + c.stderr).toContain(c.status);
    expect(mails).toHaveLength(3);
    expect(mails[2]!.body).toMatch(/LIFEBOAT (WARNING|CRITICAL) - /);
    expect(hooks).toHaveLength(3);
  });

  it('a receiver that answers 500 once gets the retry; receivers that are down leave the exit code alone and say so on stderr', async () => {
    nextHookStatus = [500];
    const cfg = config('failure2.yaml', channels('[failure, success]'));
    const retried = await run({}, ...failingBackup('--notify-config', cfg));
    expect(retried.status).toBe(2);
    expect(hooks).toHaveLength(2);
    expect(retried.stderr).not.toMatch(/could not be sent/);

    // Nothing listens on these: a port just freed, and a webhook URL to a closed port (with its token).
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const deadHook = join(dir.path, 'dead-hook-url');
    writeFileSync(deadHook, `http://127.0.0.1:${deadPort}/services/${HOOK_TOKEN}\n`);
    const down = config('down.yaml', channels('[failure, success]', { smtpPort: deadPort, hookFile: deadHook }));
    const failed = await run({}, ...failingBackup('--notify-config', down));
    expect(failed.status).toBe(2);
    expect(failed.stderr).toMatch(/could not be sent \(tried 2 times\)/);
    expect(failed.stderr).toMatch(/the failure notification to ops-mail could not be sent .*ECONNREFUSED/);
    expect(failed.stderr).toMatch(
      /the failure notification to slack could not be sent .*127\.0\.0\.1:\d+: ECONNREFUSED/,
    );
    const ok = await filesBackup({}, '--notify-config', down);
    expect(ok.status).toBe(0);
    expect(ok.stderr).toMatch(/the success notification to slack could not be sent/);
    expectNoSecrets(failed.stdout, failed.stderr, ok.stdout, ok.stderr, logs());
  });

  it('a broken config stops the command before it starts (exit 2), naming the line; a secret in clear is not echoed', async () => {
    const before = readdirSync(join(medium, 'sets', 'uploads')).length;
    const bad = config('bad.yaml', channels('[failure, sucess]').replace('env:LB_SMTP_PASSWORD', SMTP_PASSWORD));
    const r = await filesBackup({}, '--notify-config', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${bad}:4: channels.0.on.1 — Invalid option`);
    expect(r.stderr).toContain(`${bad}:11: channels.0.password — must be a reference`);
    expect(r.stderr).toMatch(/nothing was run/);
    expect(readdirSync(join(medium, 'sets', 'uploads'))).toHaveLength(before);
    // `check` is a monitoring plugin: its own trouble is UNKNOWN (3) with the plugin line, never CRITICAL (2).
    const check = await run({}, 'check', '--from', medium, '--notify-config', bad);
    expect(check.status).toBe(3);
    expect(check.stdout).toBe(`LIFEBOAT UNKNOWN - The notification config ${bad} is not valid:\n`);
    const unset = await filesBackup(
      { LB_SMTP_PASSWORD: undefined },
      '--notify-config',
      config('good.yaml', channels('[failure]')),
    );
    expect(unset.status).toBe(2);
    expect(unset.stderr).toMatch(/password \(env:LB_SMTP_PASSWORD\): the variable is not set/);
    const missing = await run({ LIFEBOAT_NOTIFY_CONFIG: join(dir.path, 'nope.yaml') }, ...failingBackup());
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml \(LIFEBOAT_NOTIFY_CONFIG\) cannot be read: no such file/);
    expect(readdirSync(join(medium, 'sets', 'uploads'))).toHaveLength(before);
    expect(mails).toHaveLength(0);
    expectNoSecrets(r.stdout, r.stderr, unset.stderr, check.stdout, check.stderr);
  });

  it('an SMTP password kept in the OS keychain (notify secret-add, keychain:notify:<name>) logs in', async () => {
    let service: SecretService | null = null;
    try {
      service = await startSecretService();
      const pwFile = join(dir.path, 'smtp-pw');
      writeFileSync(pwFile, `${SMTP_PASSWORD}\n`, { mode: 0o600 });
      const add = await run({}, 'notify', 'secret-add', 'smtp', '--from-file', pwFile);
      expect(add.status, add.stderr).toBe(0);
      expect(add.stdout).toContain('keychain:notify:smtp');
      const cfg = config(
        'keychain.yaml',
        channels('[failure]').replace('env:LB_SMTP_PASSWORD', 'keychain:notify:smtp'),
      );
      const r = await run({ LB_SMTP_PASSWORD: undefined }, 'notify', 'test', '--notify-config', cfg);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(mails).toHaveLength(1);
      expect(mails[0]!.user).toBe('lifeboat');
      const none = await run(
        {},
        'notify',
        'test',
        '--notify-config',
        config('nokey.yaml', channels('[failure]').replace('env:LB_SMTP_PASSWORD', 'keychain:notify:other')),
      );
      expect(none.status).toBe(2);
      expect(none.stderr).toMatch(
        /no secret is stored under this account[\s\S]*lifeboat notify secret-add other --from-file/,
      );
      expectNoSecrets(add.stdout, add.stderr, r.stdout, r.stderr);
    } finally {
      await service?.stop();
    }
  });

  it('STARTTLS and implicit TLS to a relay whose certificate a private CA signed (ca_file); without it the relay is refused', async () => {
    const key = join(dir.path, 'relay.key');
    const cert = join(dir.path, 'relay.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore', timeout: 10_000 },
    );
    const tlsOpts = { key: readFileSync(key), cert: readFileSync(cert) };
    const starttls = await startSmtp(tlsOpts);
    const implicit = await startSmtp({ ...tlsOpts, secure: true });
    try {
      const mailOnly = (tls: string, port: number, ca: string): string =>
        channels('[failure]')
          .split('  - type: webhook')[0]!
          .replace('host: 127.0.0.1', 'host: localhost')
          .replace(`port: ${smtpPort}`, `port: ${port}`)
          .replace('tls: none', `tls: ${tls}${ca}`);
      const caLine = `\n    ca_file: ${cert}`;
      for (const [tls, server] of [
        ['starttls', starttls],
        ['implicit', implicit],
      ] as const) {
        const port = (server.server.address() as AddressInfo).port;
        const r = await run(
          {},
          'notify',
          'test',
          '--notify-config',
          config(`${tls}.yaml`, mailOnly(tls, port, caLine)),
        );
        expect(r.stdout + r.stderr).toBe('sent     ops-mail\n');
        const refused = await run(
          {},
          'notify',
          'test',
          '--notify-config',
          config(`${tls}-noca.yaml`, mailOnly(tls, port, '')),
        );
        expect(refused.status).toBe(1);
        expect(refused.stdout).toMatch(/NOT SENT ops-mail: .*(self-signed|certificate)/i);
      }
      // The login happened inside TLS (the server refuses AUTH in clear): both mails arrived, logged in.
      expect(mails.map((m) => m.user)).toEqual(['lifeboat', 'lifeboat']);
    } finally {
      await new Promise<void>((resolve) => starttls.close(() => resolve()));
      await new Promise<void>((resolve) => implicit.close(() => resolve()));
    }
  });

  it('lifeboat notify test sends a sample through every channel subscribed to the event', async () => {
    const cfg = config('test.yaml', channels('[check-not-ok]'));
    const r = await run({}, 'notify', 'test', '--event', 'check-not-ok', '--notify-config', cfg);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('sent     ops-mail\nsent     slack\n');
    expect(mails[0]!.subject).toContain('NOT OK');
    const none = await run({}, 'notify', 'test', '--event', 'success', '--notify-config', cfg);
    expect(none.stdout).toMatch(/No channel of .* is subscribed to success/);
  });
});
