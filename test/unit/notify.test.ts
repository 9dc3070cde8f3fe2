import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { LifeboatError } from '../../electron/engine/errors';
import { loadNotifyConfig, parseNotifyConfig } from '../../electron/engine/notify/config';
import { findNotifyConfig } from '../../electron/engine/notify/find';
import { buildMessage, type NotifyEvent } from '../../electron/engine/notify/message';
import { Notifier } from '../../electron/engine/notify/notifier';
import { resolveSecretRef } from '../../electron/engine/notify/secrets';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-notify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(text: string): string {
  try {
    parseNotifyConfig(text, 'notify.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(LifeboatError);
    expect((e as LifeboatError).code).toBe('BAD_INPUT');
    return (e as LifeboatError).message;
  }
  throw new Error('the config was accepted');
}

const GOOD = `channels:
  - type: email
    name: ops-mail
    host: smtp.example.org
    from: lifeboat@db1.example.org
    to: [ops@example.org]
    user: lifeboat
    password: env:SMTP_PASSWORD
  - type: webhook
    on: [failure, success]
    url: file:/etc/lifeboat/slack-url
`;

describe('notification config (notify/config.ts)', () => {
  it('a good file is read with its defaults (STARTTLS, failure and check-not-ok)', () => {
    const c = parseNotifyConfig(GOOD, 'notify.yaml');
    expect(c.channels).toHaveLength(2);
    const mail = c.channels[0]!;
    expect(mail.type === 'email' && mail.tls).toBe('starttls');
    expect(mail.on).toEqual(['failure', 'check-not-ok', 'suspicious']);
    expect(c.channels[1]!.on).toEqual(['failure', 'success']);
  }, 5000);

  it('every problem is named with its line and field, and a secret written in clear is refused without echoing it', () => {
    const text = GOOD.replace('password: env:SMTP_PASSWORD', 'password: hunter2-Secret')
      .replace('on: [failure, success]', 'on: [failure, sucess]')
      .replace('    host: smtp.example.org\n', '    hots: smtp.example.org\n');
    const msg = problemsOf(text);
    expect(msg).toMatch(/notify\.yaml:8: channels\.0\.password — must be a reference/);
    expect(msg).toMatch(/notify\.yaml:10: channels\.1\.on\.1 — /);
    expect(msg).toMatch(/notify\.yaml:4: channels\.0 — unknown key "hots"/);
    expect(msg).toMatch(/notify\.yaml:\d+: channels\.0\.host — required, but missing/);
    expect(msg).not.toContain('hunter2-Secret');
    // A webhook URL in clear is a secret too (Slack's token is in its path).
    expect(problemsOf('channels:\n  - type: webhook\n    url: https://hooks.slack.com/services/T0/B0/XyZ\n')).toMatch(
      /notify\.yaml:3: channels\.0\.url — must be a reference/,
    );
  }, 5000);

  it('broken YAML, a list instead of a mapping, and user without password are named too', () => {
    expect(problemsOf('channels:\n  - type: email\n   host: x\n')).toMatch(/notify\.yaml:3:/);
    expect(problemsOf('- a\n- b\n')).toMatch(/notify\.yaml:1: the file is a YAML mapping/);
    expect(problemsOf(GOOD.replace('    password: env:SMTP_PASSWORD\n', ''))).toMatch(
      /channels\.0\.password — user and password go together/,
    );
  }, 5000);

  it('which file applies: the flag, else LIFEBOAT_NOTIFY_CONFIG, else <data dir>/notify.yaml when it exists', () => {
    expect(findNotifyConfig('/x.yaml', { LIFEBOAT_NOTIFY_CONFIG: '/y.yaml' }, dir)).toEqual({
      path: '/x.yaml',
      origin: 'flag',
    });
    expect(findNotifyConfig(undefined, { LIFEBOAT_NOTIFY_CONFIG: '/y.yaml' }, dir)).toEqual({
      path: '/y.yaml',
      origin: 'env',
    });
    expect(findNotifyConfig(undefined, {}, dir)).toBeNull();
    writeFileSync(join(dir, 'notify.yaml'), GOOD);
    expect(findNotifyConfig(undefined, {}, dir)).toEqual({ path: join(dir, 'notify.yaml'), origin: 'default' });
    expect(() => loadNotifyConfig({ path: join(dir, 'missing.yaml'), origin: 'env' })).toThrow(
      /missing\.yaml \(LIFEBOAT_NOTIFY_CONFIG\) cannot be read: no such file/,
    );
  }, 5000);
});

describe('secret references (notify/secrets.ts)', () => {
  const keychain = new MemoryCredentialStore();
  it('env:, file: (first line) and keychain:notify:<name> resolve; a missing one names the reference, not a value', async () => {
    const f = join(dir, 'pw');
    writeFileSync(f, 'from-file-secret\nsecond line\n');
    await keychain.set('notify:smtp', 'from-keychain');
    const get = (ref: string, env: NodeJS.ProcessEnv = {}): Promise<string> =>
      resolveSecretRef(ref, 'password', env, () => keychain);
    expect(await get('env:PW', { PW: 'from-env' })).toBe('from-env');
    expect(await get(`file:${f}`)).toBe('from-file-secret');
    expect(await get('keychain:notify:smtp')).toBe('from-keychain');
    await expect(get('env:PW')).rejects.toThrow(/password \(env:PW\): the variable is not set/);
    await expect(get(`file:${join(dir, 'none')}`)).rejects.toThrow(/cannot be read \(ENOENT\)/);
    await expect(get('keychain:notify:other')).rejects.toThrow(/no secret is stored/);
  }, 5000);

  it('a webhook reference that does not hold an http(s) URL fails when the notifier is prepared', async () => {
    const config = parseNotifyConfig('channels:\n  - type: webhook\n    url: env:HOOK\n', 'n.yaml');
    await expect(Notifier.prepare(config, { env: { HOOK: 'not a url' }, keychain: () => keychain })).rejects.toThrow(
      /does not hold an http\(s\) URL/,
    );
  }, 5000);
});

describe('delivery (notify/notifier.ts)', () => {
  it('a webhook that never answers and an SMTP server that never greets time out: no hang, each tried twice', async () => {
    const sockets: Socket[] = [];
    const hold = (s: Socket): void => void sockets.push(s);
    const http = createHttpServer(() => undefined).on('connection', hold); // reads the request, never answers
    const smtp = createTcpServer(hold); // accepts, never says 220
    const listen = (srv: HttpServer | TcpServer): Promise<number> =>
      new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as AddressInfo).port)));
    const [hp, sp] = await Promise.all([listen(http), listen(smtp)]);
    try {
      const config = parseNotifyConfig(
        `channels:\n  - type: webhook\n    name: hook\n    url: env:HOOK\n` +
          `  - type: email\n    name: mail\n    host: 127.0.0.1\n    port: ${sp}\n    tls: none\n` +
          `    from: a@example.org\n    to: b@example.org\n`,
        'n.yaml',
      );
      const notifier = await Notifier.prepare(config, {
        env: { HOOK: `http://127.0.0.1:${hp}/services/T0/B0/HangToken` },
        keychain: () => new MemoryCredentialStore(),
        retryDelayMs: 10,
        attemptTimeoutMs: 300,
      });
      const started = Date.now();
      const deliveries = await notifier.notify({
        kind: 'failure',
        command: 'backup files',
        system: 'web',
        setId: null,
        host: 'db1',
        media: [],
        error: null,
        summary: 'failed',
        rerun: 'lifeboat backup files',
        exitCode: 2,
        startedAt: new Date().toISOString(),
        finishedAt: new Date().toISOString(),
      });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(deliveries).toEqual([
        { channel: 'hook', ok: false, attempts: 2, error: `127.0.0.1:${hp}: timed out` },
        { channel: 'mail', ok: false, attempts: 2, error: expect.stringMatching(/timeout/i) as unknown },
      ]);
      expect(JSON.stringify(deliveries)).not.toContain('HangToken');
      expect(sockets.length).toBeGreaterThanOrEqual(4); // both tries reached both servers
    } finally {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => smtp.close(r))]);
    }
  }, 10_000);
});

describe('the message (notify/message.ts)', () => {
  const event: NotifyEvent = {
    kind: 'failure',
    command: 'backup pg',
    system: 'customer-db',
    setId: null,
    host: 'db1',
    media: ['/mnt/usb-1'],
    error: {
      code: 'DB_UNREACHABLE',
      message: 'Cannot reach PostgreSQL at 127.0.0.1:1.',
      hint: 'Is the server running?',
    },
    summary: 'DB_UNREACHABLE: Cannot reach PostgreSQL at 127.0.0.1:1.',
    rerun: "lifeboat backup pg --system customer-db --db 'postgres://backup:pw-Canary@127.0.0.1:1/app' --to /mnt/usb-1",
    exitCode: 2,
    startedAt: '2026-12-02T03:00:00.000Z',
    finishedAt: '2026-12-02T03:00:01.000Z',
  };

  it('says what failed, where, the code, hint and command to rerun, in mail and webhook alike; no secret survives', () => {
    const m = buildMessage({ ...event, summary: `${event.summary} token=abc T0/B0/SeCrEt` }, ['T0/B0/SeCrEt']);
    expect(m.subject).toBe('[lifeboat] lifeboat backup pg of customer-db FAILED on db1');
    for (const part of [
      'DB_UNREACHABLE',
      'Is the server running?',
      'Host:      db1',
      '/mnt/usb-1',
      'To run it again:',
      '2026-12-02T03:00:00.000Z',
    ])
      expect(m.text).toContain(part);
    expect(m.text).toContain("--db 'postgres://backup:[redacted]@127.0.0.1:1/app'");
    const body = JSON.stringify(m.webhook);
    expect(m.webhook.text).toContain('FAILED on db1');
    expect(body).toContain('Is the server running?');
    for (const text of [m.text, body, m.subject]) {
      expect(text).not.toContain('pw-Canary');
      expect(text).not.toContain('SeCrEt');
      expect(text).not.toContain('abc');
    }
  }, 5000);

  it('the webhook escapes what Slack would read as a link or a mention; the mail keeps the text as it is', () => {
    const m = buildMessage({ ...event, error: { code: 'BAD_INPUT', message: 'Give --system <name> & <!channel>' } });
    expect(JSON.stringify(m.webhook)).toContain('Give --system &lt;name&gt; &amp; &lt;!channel&gt;');
    expect(JSON.stringify(m.webhook)).not.toContain('<!channel>');
    expect(m.text).toContain('Give --system <name> & <!channel>');
  }, 5000);

  it('a huge error (a tool’s stderr) is cut to what Slack accepts (3000 a section, 2000 a field), secrets scrubbed first', () => {
    const secret = 'T0/B0/HuGeSeCrEt';
    // The secret straddles the webhook's cut (about 3000 characters in) and the mail's (20000).
    const message = `${'pg_dump: error & <x> '.repeat(140)}${secret} ${'y'.repeat(17_000)}${secret}${'z'.repeat(80_000)}`;
    const m = buildMessage(
      { ...event, media: ['/mnt/'.repeat(1000)], summary: message, error: { code: 'TOOL_FAILED', message } },
      [secret],
    );
    for (const block of m.webhook.blocks) {
      const b = block as { text?: { text: string }; fields?: Array<{ text: string }> };
      if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
      for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
    }
    expect(m.webhook.text.length).toBeLessThanOrEqual(3000);
    expect(JSON.stringify(m.webhook)).toMatch(/more characters cut/);
    expect(JSON.stringify(m.webhook)).not.toMatch(/&[a-z]* …/); // no entity cut in half
    expect(m.text.length).toBeLessThan(3 * 20_000 + 5000);
    expect(m.text).toContain('TOOL_FAILED');
    expect(m.text).toMatch(/more characters cut/);
    for (const text of [m.text, JSON.stringify(m.webhook)]) {
      expect(text).not.toContain('HuGeSeCrEt');
      expect(text).not.toContain('HuGe');
    }
  }, 5000);

  it('a success names the set and has no rerun line', () => {
    const m = buildMessage({
      ...event,
      kind: 'success',
      error: null,
      setId: '20261202T030000Z-ab12',
      exitCode: 0,
      summary: 'Set written.',
    });
    expect(m.subject).toContain('succeeded');
    expect(m.text).toContain('Set:       20261202T030000Z-ab12');
    expect(m.text).not.toContain('To run it again');
  }, 5000);

  it('a suspicious set (the ransomware indicator) is its own event, on by default', () => {
    const m = buildMessage({
      ...event,
      kind: 'suspicious',
      error: null,
      setId: '20261202T030000Z-cd34',
      exitCode: 0,
      summary: 'The ransomware indicator flagged the new set: 97% of the data does not compress (usually 2%).',
    });
    expect(m.subject).toContain('SUSPICIOUS');
    expect(m.text).toContain('does not compress');
    expect(
      parseNotifyConfig('channels:\n  - type: webhook\n    name: hook\n    url: env:HOOK_URL\n', 'n.yaml').channels[0]!
        .on,
    ).toContain('suspicious');
  }, 5000);
});
