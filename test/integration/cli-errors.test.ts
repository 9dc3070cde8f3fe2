import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRunAs, chownTree } from '../../electron/engine/postgres/scratch-cluster';
import { BIN, lifeboat, lifeboatAsync, loggedUnder, type CliRun } from '../helpers/cli';
import { startPostgres, type ScratchCluster } from '../helpers/postgres';
import { startS3, type TestS3 } from '../helpers/s3';
import { tempDir } from '../helpers/temp';

/**
 * Every case of issue 18 item 10 that used to end in "Unexpected error … This is a bug" (or a
 * stack trace), run through the real `lifeboat` command: each must now be a named error with a
 * hint and the right exit code, and no password may reach stderr, stdout or the log.
 */

const CANARY = 'Canary-51d2e8';
let dir: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let medium: string;

const logs = (): string => loggedUnder(join(dir.path, 'home'));

/** A named error: not INTERNAL, no "bug", no stack trace. */
function expectNamed(r: CliRun, status: 1 | 2, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(status);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/This is a bug|Unexpected error| {4}at /);
}

beforeAll(() => {
  dir = tempDir();
  // No AWS settings of the machine running the tests may leak in.
  env = { LIFEBOAT_HOME: join(dir.path, 'home'), HOME: join(dir.path, 'user'), AWS_EC2_METADATA_DISABLED: 'true' };
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_') && k !== 'AWS_CA_BUNDLE') env[k] = undefined;
  mkdirSync(join(dir.path, 'user'));
  medium = join(dir.path, 'medium');
  expect(lifeboat(env, 'medium', 'init', medium, '--label', 'usb-1').status).toBe(0);
});
afterAll(() => dir.cleanup());

describe('a closed stdout (lifeboat … | head) is not an error', () => {
  for (const args of [['sets'], ['sets', '--json'], ['media'], ['--help'], ['scan', '<medium>']]) {
    it(`lifeboat ${args.join(' ')} with its reader gone exits 0 without a word`, async () => {
      const argv = args.map((a) => (a === '<medium>' ? medium : a));
      const child = spawn(process.execPath, [BIN, ...argv], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      // The reader goes away before the first line is written: every write meets EPIPE.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr).toBe('');
      expect(status).toBe(0);
    });
  }

  it('in a shell pipeline with head, as an operator types it', () => {
    // Enough lines that the pipe buffer fills after head has gone.
    const out = execFileSync(
      'bash',
      [
        '-o',
        'pipefail',
        '-c',
        `for i in $(seq 30); do echo; done >/dev/null; "${process.execPath}" "${BIN}" --help | head -c 10; "${process.execPath}" "${BIN}" sets --json | head -c 1`,
      ],
      {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      },
    );
    expect(out).toMatch(/^Usage: lif/);
  });
});

describe('PostgreSQL URLs: named errors, no password anywhere', () => {
  for (const url of [
    `postgres//u:${CANARY}@127.0.0.1/db`,
    `postgres:/u:${CANARY}@127.0.0.1/db`,
    `postgres://u:${CANARY}%ZZ@127.0.0.1/db`,
    `postgres://u:${CANARY}@127.0.0.1/db?sslmode=sometimes`,
  ]) {
    it(`--db ${url.replace(CANARY, '<canary>')} is refused as bad input (exit 2)`, () => {
      const r = lifeboat(env, 'backup', 'pg', '--system', 'shop', '--db', url, '--to', medium);
      expectNamed(r, 2, /The PostgreSQL URL is malformed/);
      expect(r.stderr).toMatch(/PGPASSWORD/);
      expect(r.stdout + r.stderr).not.toContain(CANARY);
      expect(logs()).not.toContain(CANARY);
    });
  }

  it('a password in --db is warned about (visible in ps), never shown', () => {
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'shop',
      '--db',
      `postgres://u:${CANARY}@127.0.0.1:1/db`,
      '--to',
      medium,
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/warning: a password in a URL on the command line is visible/);
    expect(r.stdout + r.stderr + logs()).not.toContain(CANARY);
    const without = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'shop',
      '--db',
      'postgres://u@127.0.0.1:1/db',
      '--to',
      medium,
    );
    expect(without.stderr).not.toMatch(/warning: a password/);
  });
});

describe('sslmode in the URL, against real servers', () => {
  let plain: ScratchCluster;
  let tls: ScratchCluster;
  let certs: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    certs = tempDir();
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(certs.path, 'server.key'),
        '-out',
        join(certs.path, 'server.crt'),
        '-days',
        '2',
        '-subj',
        '/CN=lifeboat-test-db',
      ],
      { stdio: 'ignore' },
    );
    chmodSync(join(certs.path, 'server.key'), 0o600);
    chmodSync(certs.path, 0o755);
    const runAs = postgresRunAs();
    if (runAs) chownTree(certs.path, runAs);
    [plain, tls] = await Promise.all([
      startPostgres(),
      startPostgres({
        ssl: 'on',
        ssl_cert_file: join(certs.path, 'server.crt'),
        ssl_key_file: join(certs.path, 'server.key'),
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([plain?.destroy(), tls?.destroy()]);
    certs?.cleanup();
  });

  it('sslmode=require on a server with TLS: the backup runs, encrypted without a CA check (libpq meaning)', () => {
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'tls-db',
      '--db',
      `${tls.url()}?sslmode=require`,
      '--to',
      medium,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/SECURITY WARNING/);
  });

  it('a password in --db (user info or parameter) reaches pg_dump through its environment, never its argv', () => {
    // A pg_dump that records its argv, then is the real one.
    const real = execFileSync(
      'bash',
      ['-c', 'command -v pg_dump || ls /usr/lib/postgresql/*/bin/pg_dump | sort -V | tail -1'],
      { encoding: 'utf8' },
    ).trim();
    const bin = join(dir.path, 'spy-bin');
    const argvLog = join(dir.path, 'pg_dump.argv');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'pg_dump'),
      `#!/bin/sh\nprintf '%s\\n' "$@" >> '${argvLog}'\nprintf 'PGPASSWORD=%s\\n' "$PGPASSWORD" >> '${argvLog}.env'\nexec '${real}' "$@"\n`,
      { mode: 0o755 },
    );
    for (const url of [plain.url().replace('postgres@', `postgres:${CANARY}@`), `${plain.url()}?password=${CANARY}`]) {
      const r = lifeboat(
        env,
        'backup',
        'pg',
        '--system',
        'spied-db',
        '--db',
        url,
        '--to',
        medium,
        '--pg-bin',
        bin,
        '--json',
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(CANARY);
    }
    const argv = readFileSync(argvLog, 'utf8');
    expect(argv).toMatch(/--dbname=postgres:\/\/postgres@127\.0\.0\.1/);
    expect(argv).not.toContain(CANARY);
    expect(readFileSync(`${argvLog}.env`, 'utf8')).toContain(`PGPASSWORD=${CANARY}`);
    expect(logs()).not.toContain(CANARY);
  });

  it('sslmode=require on a server without TLS: a named DB error (exit 2)', () => {
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'tls-db',
      '--db',
      `${plain.url()}?sslmode=require`,
      '--to',
      medium,
    );
    expectNamed(r, 2, /does not accept TLS/);
  });

  it('sslmode=prefer falls back to plain text as libpq does', () => {
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'tls-db',
      '--db',
      `${plain.url()}?sslmode=prefer`,
      '--to',
      medium,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
  });

  it('sslmode=verify-full with a self-signed certificate: named, with the way out; with its sslrootcert it gets past TLS to the host check', () => {
    const r = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'tls-db',
      '--db',
      `${tls.url()}?sslmode=verify-full`,
      '--to',
      medium,
    );
    expectNamed(r, 2, /TLS certificate could not be verified/);
    expect(r.stderr).toMatch(/sslrootcert/);
    // The CA is given, the name (CN=lifeboat-test-db) is not 127.0.0.1: still refused, and said so.
    const named = lifeboat(
      env,
      'backup',
      'pg',
      '--system',
      'tls-db',
      '--db',
      `${tls.url()}?sslmode=verify-full&sslrootcert=${join(certs.path, 'server.crt')}`,
      '--to',
      medium,
    );
    expectNamed(named, 2, /TLS certificate could not be verified/);
  });
});

describe('files and folders', () => {
  it('--to an existing file is bad input naming it (exit 2)', () => {
    const file = join(dir.path, 'not-a-folder');
    writeFileSync(file, 'x');
    const r = lifeboat(
      env,
      'backup',
      'files',
      '--system',
      'docs',
      '--path',
      dir.path,
      '--to',
      file,
      '--allow-plaintext',
    );
    expectNamed(r, 2, /not-a-folder is a file, not a medium folder/);
    const init = lifeboat(env, 'medium', 'init', join(file, 'sub'), '--label', 'x');
    expectNamed(init, 2, /is a file where a folder is needed/);
  });

  it("keys --out into folders that do not exist yet (the README's /etc/lifeboat/sign.pem on a fresh server) makes them; an existing key is never overwritten", () => {
    const out = join(dir.path, 'etc-lifeboat', 'sub', 'sign.pem');
    const r = lifeboat(env, 'keys', 'signing-new', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(`${out}.pub`, 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
    expectNamed(lifeboat(env, 'keys', 'signing-new', '--out', out), 1, /exists; refusing to overwrite a key/);
    expect(lifeboat(env, 'keys', 'age-new', '--out', join(dir.path, 'laptop', 'keys', 'laptop.age')).stdout).toMatch(
      /^age1/,
    );
  });

  it('a name too long for the file system names the path (ENAMETOOLONG)', () => {
    const long = join(dir.path, 'n'.repeat(300));
    const r = lifeboat(env, 'backup', 'files', '--system', 'docs', '--path', long, '--to', medium, '--allow-plaintext');
    expectNamed(r, 1, /too long/);
    expect(r.stderr).toContain(join(dir.path, 'nnnn'));
  });

  it('with several --to, a full medium is named', () => {
    const full = join(dir.path, 'full');
    mkdirSync(full);
    // A real full file system: a 1 MiB tmpfs (the tests run as root, as CI does).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full]);
    try {
      expect(lifeboat(env, 'medium', 'init', full, '--label', 'tiny').status).toBe(0);
      const src = join(dir.path, 'src');
      mkdirSync(src);
      // Random bytes do not compress: 3 MiB cannot fit.
      writeFileSync(join(src, 'big.bin'), randomBytes(3 * 1024 * 1024));
      const r = lifeboat(
        env,
        'backup',
        'files',
        '--system',
        'docs',
        '--path',
        src,
        '--to',
        medium,
        '--to',
        full,
        '--allow-plaintext',
      );
      expectNamed(r, 1, /No space left on the medium/);
      expect(r.stderr).toContain(full);
    } finally {
      execFileSync('umount', [full]);
    }
  });
});

describe('runbooks', () => {
  it('a YAML alias bomb is a refused runbook (exit 2), not a crash', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const file = join(dir.path, 'bomb.yaml');
    writeFileSync(file, ['id: bomb', 'title: Bomb', ...levels, 'steps: []', ''].join('\n'));
    const r = lifeboat(env, 'runbook', 'check', file);
    expectNamed(r, 2, /alias/);
  });
});

describe('runbook parameters that do not fit once filled in', () => {
  it("are listed readably, field by field, not cut at zod's JSON `[`", () => {
    const file = join(dir.path, 'params.yaml');
    writeFileSync(
      file,
      [
        'id: params',
        'title: Params',
        'description: d',
        'level: 1',
        'objectives: { rto: 1h, rpo: 1h }',
        'inputs:',
        '  - id: wait',
        '    type: text',
        '    label: Seconds to wait',
        'steps:',
        '  - id: ready',
        '    title: Ready',
        '    kind: action',
        '    action: wait.pg-ready',
        '    with: { timeout: "{{ inputs.wait }}" }',
        '',
      ].join('\n'),
    );
    expect(lifeboat(env, 'runbook', 'check', file).status).toBe(0);
    const r = lifeboat(env, 'run', file, '--drill', '--yes', '--input', 'wait=soon', '--json');
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status).not.toBe(0);
    expect(out).toMatch(/its parameters do not fit wait\.pg-ready: timeout: [^\n"]*number/);
    expect(out).not.toMatch(/do not fit wait\.pg-ready: \[/);
  });
});

describe('S3', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3();
    await s3.createBucket('lifeboat-g');
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('no credentials anywhere: CREDENTIAL_UNAVAILABLE, exit 2', async () => {
    const r = await lifeboatAsync(
      { ...env, AWS_ENDPOINT_URL: s3.endpoint },
      'medium',
      'init',
      's3://lifeboat-g/none',
      '--label',
      'none',
    );
    expectNamed(r, 2, /No S3 credentials/);
  });

  it('an endpoint_url from an AWS config profile, given as a host name, works like one from the environment', async () => {
    const config = join(dir.path, 'aws-config');
    const creds = join(dir.path, 'aws-credentials');
    // localhost is a host name: virtual-host addressing would ask for lifeboat-g.localhost.
    writeFileSync(
      config,
      `[profile rescue]\nregion = us-east-1\nendpoint_url = ${s3.endpoint.replace('127.0.0.1', 'localhost')}\n`,
    );
    writeFileSync(creds, '[rescue]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n');
    const awsEnv = { ...env, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: creds, AWS_PROFILE: 'rescue' };
    const init = await lifeboatAsync(awsEnv, 'medium', 'init', 's3://lifeboat-g/profiled', '--label', 'profiled');
    expect(init.status, init.stderr).toBe(0);
    const scan = await lifeboatAsync(awsEnv, 'scan', 's3://lifeboat-g/profiled', '--json');
    expect(scan.status, scan.stderr).toBe(0);
  });
});
