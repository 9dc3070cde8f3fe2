import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../electron/engine/api/handlers';
import { listSets } from '../../electron/engine/catalog/queries';
import { KeytarCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { newMediumInfo } from '../../electron/engine/format/medium';
import type { Medium } from '../../electron/engine/storage/medium';
import { openAppInBrowser, type BrowserSession } from '../helpers/browser';
import { json, lifeboat } from '../helpers/cli';
import { startSecretService, type SecretService } from '../helpers/secret-service';
import { tempDir } from '../helpers/temp';
import { CredentialsPage } from './pages/credentials';
import { JobsPanelPage } from './pages/jobs';
import { VerifyPage } from './pages/verify';

/**
 * Issue 21 items 1-3 in Chromium over the bridge: keys from the keychain used by default, a deep check refused before it
 * starts when no key opens the sets, jobs that survive a reload and stay listed, a cancel that records nothing, failures
 * that are never a green "succeeded", keys made in the app; axe on every state.
 */
let dir: ReturnType<typeof tempDir>;
let home: string;
let usb: string;
let identityFile: string;
let keyId: string;
let recipient: string;
let keyring: SecretService;
let engine: Engine;
let session: BrowserSession;
const findings: string[] = [];

/**
 * Reads of the medium through the engine can be held (a slow drive, made deterministic): a verification stays running
 * for as long as the test needs, then goes on when released. Only the bytes' timing changes, never the bytes.
 */
const gate = {
  held: null as Promise<void> | null,
  release: (): void => {},
  hold(): void {
    this.held = new Promise<void>((r) => {
      this.release = () => {
        this.held = null;
        r();
      };
    });
  },
};

function gated(stream: Readable): Readable {
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const h = gate.held;
      if (!h) return cb(null, chunk);
      void h.then(() => cb(null, chunk));
    },
  });
  stream.on('error', (e) => tap.destroy(e));
  return stream.pipe(tap);
}

function slowable(medium: Medium): Medium {
  return new Proxy(medium, {
    get(target, prop) {
      if (prop === 'openRead')
        return async (...args: Parameters<Medium['openRead']>) => gated(await target.openRead(...args));
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

beforeAll(async () => {
  dir = tempDir();
  home = join(dir.path, 'home');
  keyring = await startSecretService();
  const env = { LIFEBOAT_HOME: home };
  usb = join(dir.path, 'usb');
  identityFile = join(dir.path, 'laptop.age');
  const sign = join(dir.path, 'sign.pem');
  expect(lifeboat(env, 'medium', 'init', usb, '--label', 'usb-1').status).toBe(0);
  const made = json<{ recipient: string; key_id: string }>(
    lifeboat(env, 'keys', 'age-new', '--out', identityFile, '--json'),
  );
  [recipient, keyId] = [made.recipient, made.key_id];
  lifeboat(env, 'keys', 'signing-new', '--out', sign);
  expect(lifeboat(env, 'keys', 'trust', `${sign}.pub`, '--label', 'backup servers').status).toBe(0);
  // Random bytes do not compress: the set's artifact is read in many chunks, so a held read holds the check.
  const files = join(dir.path, 'files');
  mkdirSync(files);
  writeFileSync(join(files, 'orders.bin'), randomBytes(3 * 1024 * 1024));
  writeFileSync(join(files, 'notes.txt'), 'the DR plan is in the safe\n');
  const backup = lifeboat(
    env,
    'backup',
    'files',
    '--system',
    'docs',
    '--path',
    files,
    '--to',
    usb,
    '--recipient',
    recipient,
    '--sign-key',
    sign,
  );
  expect(backup.status, backup.stderr).toBe(0);
  // A WAL archive of `docs` (WAL-named files: the archive only looks at names and bytes), encrypted and signed. The form
  // offers systems the catalog knows from their sets, so the archive goes with the one system here.
  mkdirSync(join(dir.path, 'pg_wal'));
  for (let n = 1; n <= 3; n++) {
    const segment = join(dir.path, 'pg_wal', `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, '0')}`);
    writeFileSync(segment, Buffer.alloc(64 * 1024, n));
    const pushed = lifeboat(
      env,
      'wal-push',
      segment,
      '--system',
      'docs',
      '--to',
      usb,
      '--recipient',
      recipient,
      '--sign-key',
      sign,
    );
    expect(pushed.status, pushed.stderr).toBe(0);
  }
  // The operator's drill: pick the newest files set of docs and verify it deep (a drill's "Verify it deep").
  mkdirSync(join(home, 'runbooks'), { recursive: true });
  writeFileSync(
    join(home, 'runbooks', 'verify-docs.yaml'),
    'id: verify-docs\ntitle: Verify the docs backup\ndescription: Verify the newest docs set deep.\nlevel: 1\nobjectives: { rto: 1h, rpo: 24h }\nsteps:\n' +
      '  - { id: select, kind: action, title: Pick the newest set, action: catalog.select-set, with: { system: docs, kind: files } }\n' +
      '  - { id: verify, kind: action, title: Verify it deep, action: verify.set, with: { set: "{{ steps.select.output.key }}", level: deep } }\n',
  );
  engine = new Engine({ dataDir: home, credentials: new KeytarCredentialStore(), frontDoor: 'bridge', throttleMs: 20 });
  const open = engine.openMedium;
  Object.defineProperty(engine, 'openMedium', { value: async (location: string) => slowable(await open(location)) });
  session = await openAppInBrowser(engine);
}, 120_000);

afterAll(async () => {
  gate.release();
  await session?.close();
  await engine?.close();
  await keyring?.stop();
  dir?.cleanup();
});

let runId = '';

async function openRun(id: string): Promise<void> {
  await session.page.evaluate((run) => {
    const loc = (globalThis as unknown as { location: { hash: string } }).location;
    const p = new URLSearchParams(loc.hash.slice(1));
    p.set('screen', 'runbooks');
    p.set('run', run);
    loc.hash = p.toString();
  }, id);
  await session.page.getByTestId('walkthrough').waitFor();
}

const failures = (): number =>
  (engine.catalog.stmt("SELECT count(*) AS n FROM verifications WHERE verdict != 'ok'").get() as { n: number }).n;
const rows = (): number => (engine.catalog.stmt('SELECT count(*) AS n FROM verifications').get() as { n: number }).n;

describe('keys from the keychain', () => {
  it('refuses a deep check no key opens before it starts, naming the key; nothing is recorded', async () => {
    const verify = new VerifyPage(session.page);
    await verify.visit();
    expect(await verify.keysOffered()).toBe(0);
    await verify.start(usb, 'deep');
    await verify.waitStatus('failed');
    const error = await verify.error();
    expect(error.code).toBe('CREDENTIAL_UNAVAILABLE');
    expect(error.text).toContain(`no age identity for key ${keyId}`);
    expect(error.text).toMatch(/Credentials/);
    await session.page.getByTestId('verify-key-missing').waitFor();
    expect(rows()).toBe(0);
    findings.push(...(await verify.axe('verify: refused for want of a key')));
  }, 60_000);

  it('a drill step that fails for want of a key names it and offers "Give a key and retry"', async () => {
    const { run, job } = await createHandlers(engine).startRun({
      runbook: 'verify-docs',
      inputs: {},
      drill: true,
      identityFiles: [],
    });
    await engine.jobs.wait(job.id);
    runId = run.id;
    await openRun(runId);
    await session.page.locator('[data-testid="walkthrough"][data-status="failed"]').waitFor();
    await session.page.getByTestId('give-key').waitFor();
    // The panel first says it is looking in the keychain, then what it found: its answer is awaited.
    await expect
      .poll(() => session.page.getByTestId('give-key').textContent(), { timeout: 10_000 })
      .toContain('No age identity is in the keychain');
    expect(await session.page.getByTestId('walkthrough').textContent()).toContain(`no age identity for key ${keyId}`);
    findings.push(...(await new VerifyPage(session.page).axe('run: a step failed for want of a key')));
    await session.screenshot('keys-jobs-give-key');
  }, 30_000);

  it('saves an identity on Credentials and shows its recipient; the secret never comes back over the bridge', async () => {
    const creds = new CredentialsPage(session.page);
    await creds.visit();
    await creds.saveAgeIdentity('laptop', readFileSync(identityFile, 'utf8'));
    expect(await creds.recipientOf('age:laptop')).toBe(recipient);
    expect(await creds.row('age:laptop').textContent()).toContain(keyId);
    const secretLine = readFileSync(identityFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    expect(session.traffic.filter((t) => t.direction === 'out' && t.frame.includes(secretLine))).toEqual([]);
    findings.push(...(await creds.axe('credentials: an identity stored')));
  }, 30_000);

  it('the failed drill step, retried, passes with the key saved since', async () => {
    await openRun(runId);
    await session.page.getByTestId('give-key-retry').click();
    await session.page.locator('[data-testid="walkthrough"][data-status="succeeded"]').waitFor({ timeout: 30_000 });
  }, 40_000);

  it("a deep check with no identity chosen uses the keychain's and passes", async () => {
    const verify = new VerifyPage(session.page);
    await verify.visit();
    expect(await verify.keysOffered()).toBe(1);
    await verify.start(usb, 'deep');
    await verify.waitStatus('succeeded');
    await verify.results.waitFor();
    expect(await verify.results.getAttribute('data-failed')).toBe('0');
    const headline = await verify.headline();
    expect(headline).toEqual({ text: 'All 1 set passed at deep level', bad: false });
    expect(await verify.job.getAttribute('data-outcome')).toBe('passed');
    // The Medium column names the medium by its label; the path stays as the title.
    const medium = session.page.getByTestId('verify-medium').first();
    await expect.poll(() => medium.textContent(), { timeout: 5_000 }).toMatch(/^usb-1 /);
    expect(await medium.getAttribute('title')).toBe(usb);
    findings.push(...(await verify.axe('verify: passed')));
  }, 60_000);
});

describe('Verify: refusals that say where to look', () => {
  it('a refused start moves the focus to the error beside the button', async () => {
    const verify = new VerifyPage(session.page);
    await verify.visit();
    await session.page.getByTestId('verify-identity').fill(join(dir.path, 'no-such-identity.age'));
    await session.page.getByTestId('verify-target').fill(usb);
    await session.page.getByTestId('verify-level').selectOption('deep');
    await session.page.getByTestId('verify-start').click();
    const error = session.page.getByTestId('start-error');
    await error.waitFor({ timeout: 10_000 });
    await expect
      .poll(() => error.evaluate((el) => el === el.ownerDocument.activeElement), { timeout: 5_000 })
      .toBe(true);
    expect(await error.textContent()).toContain('no-such-identity.age');
    await session.page.getByTestId('verify-identity').fill('');
  }, 30_000);

  it("with the keychain's identity unticked, the refusal does not claim the keychain has none", async () => {
    const verify = new VerifyPage(session.page);
    await verify.visit();
    expect(await verify.keysOffered()).toBe(1);
    await session.page.getByTestId('verify-use-keychain').uncheck();
    await verify.start(usb, 'deep');
    await verify.waitStatus('failed');
    const error = await verify.error();
    expect(error.code).toBe('CREDENTIAL_UNAVAILABLE');
    expect(error.text).toContain('“Use the keychain” is unticked');
    const missing = session.page.getByTestId('verify-key-missing');
    await missing.waitFor();
    expect(await missing.textContent()).not.toContain('Add an age identity on Credentials');
    expect(await session.page.getByTestId('verify-key-missing-why').textContent()).toContain('were not used');
    await session.page.getByTestId('verify-use-keychain').check();
    findings.push(...(await verify.axe('verify: refused, keychain unticked')));
  }, 60_000);
});

describe('verify --wal from the Verify screen', () => {
  it("checks a system's WAL archive with the keychain's key: intact, then a damaged file in the failure style", async () => {
    const verify = new VerifyPage(session.page);
    await verify.visit();
    await verify.checkWal('docs');
    expect(await verify.walFinished()).toEqual({ text: 'WAL of docs intact: 3 files', bad: false });
    expect(await session.page.getByTestId('cli-command').nth(1).textContent()).toContain(
      `lifeboat verify ${usb} --wal docs`,
    );
    const folder = join(usb, 'wal', 'docs', '00000001');
    const victim = join(folder, readdirSync(folder).sort()[1]!);
    const bytes = readFileSync(victim);
    bytes[bytes.length - 40]! ^= 0x01;
    writeFileSync(victim, bytes);
    await verify.checkWal('docs');
    await session.page.locator('[data-testid="job-verify-wal"][data-outcome="findings"]').waitFor({ timeout: 60_000 });
    const headline = await verify.walFinished();
    expect(headline.bad).toBe(true);
    expect(headline.text).toBe('WAL of docs has problems: 1 corrupt (of 3 files)');
    findings.push(...(await verify.axe('verify: a WAL check with a damaged file')));
    await session.screenshot('keys-jobs-verify-wal');
    writeFileSync(victim, Buffer.from(bytes.map((b, i) => (i === bytes.length - 40 ? b ^ 0x01 : b))));
  }, 60_000);
});

describe('jobs that survive a reload', () => {
  it('a reload during a running verification re-attaches; the panel lists it; the result is viewable after', async () => {
    const { page } = session;
    const verify = new VerifyPage(page);
    const jobs = new JobsPanelPage(page);
    const key = listSets(engine.catalog)[0]!.key;
    gate.hold();
    await verify.start(key, 'deep');
    await verify.waitStatus('running');
    const id = engine.jobs.running('verify')!.id;
    await page.reload();
    await page.getByTestId('screen-verify').waitFor();
    // Re-attached to the job still running in the engine, not a blank form.
    await verify.waitStatus('running', 10_000);
    expect(engine.jobs.get(id)!.status).toBe('running');
    await expect.poll(() => jobs.toggle.textContent(), { timeout: 10_000 }).toContain('1 running');
    await jobs.expand();
    expect(await jobs.state(id)).toBe('running');
    findings.push(...(await jobs.axe('jobs panel: a verification running')));
    await session.screenshot('keys-jobs-panel-running');
    await jobs.close();
    // Away and back: still attached.
    await jobs.open('overview');
    await verify.visit();
    await verify.waitStatus('running', 10_000);
    gate.release();
    await verify.waitStatus('succeeded');
    expect((await verify.headline()).text).toBe('All 1 set passed at deep level');
    // After another reload the finished result is still on the screen, and in the panel with its headline.
    await page.reload();
    await verify.results.waitFor({ timeout: 10_000 });
    await jobs.expand();
    expect(await jobs.state(id)).toBe('passed');
    expect(await jobs.headline(id)).toBe('All 1 set passed');
    await jobs.open('overview');
    await jobs.expand();
    await jobs.openJob(id);
    await page.getByTestId('screen-verify').waitFor();
    await verify.results.waitFor({ timeout: 10_000 });
    findings.push(...(await verify.axe('verify: a finished job reopened from the panel')));
  }, 90_000);

  it('a cancelled verification records nothing, least of all a failure', async () => {
    const { page } = session;
    const verify = new VerifyPage(page);
    const key = listSets(engine.catalog)[0]!.key;
    const before = rows();
    gate.hold();
    await verify.start(key, 'deep');
    await verify.waitStatus('running');
    await verify.cancel();
    await verify.waitStatus('cancelled', 20_000);
    gate.release();
    expect(await verify.job.getAttribute('data-outcome')).toBe('cancelled');
    expect(rows()).toBe(before);
    expect(failures()).toBe(0);
    // What the CLI says about the set: its standing verdict is still the pass, no "restore-failed — Cancelled.".
    const where = lifeboat({ LIFEBOAT_HOME: home }, 'where', key, '--json');
    expect(where.status, where.stderr).toBe(0);
    expect(where.stdout).not.toMatch(/Cancel/i);
    expect(where.stdout).toMatch(/"verdict": ?"ok"/);
    findings.push(...(await verify.axe('verify: cancelled')));
  }, 60_000);

  it('a verification that finds failures says so in the failure style, on the screen and in the panel', async () => {
    const { page } = session;
    const verify = new VerifyPage(page);
    const jobs = new JobsPanelPage(page);
    const copy = join(dir.path, 'tampered');
    cpSync(usb, copy, { recursive: true });
    rmSync(join(copy, 'lifeboat-medium.json'));
    writeFileSync(join(copy, 'lifeboat-medium.json'), JSON.stringify(newMediumInfo('tampered-copy')));
    const setDir = join(copy, 'sets', 'docs', readdirSync(join(copy, 'sets', 'docs'))[0]!);
    const tar = join(
      setDir,
      readdirSync(setDir).find((f) => f.startsWith('files.tar'))!,
    );
    const bytes = readFileSync(tar);
    bytes[bytes.length >> 1]! ^= 0x01;
    writeFileSync(tar, bytes);
    await verify.start(copy, 'integrity');
    await verify.waitStatus('succeeded');
    expect(await verify.headline()).toEqual({ text: '1 of 1 set failed at integrity level', bad: true });
    expect(await verify.job.getAttribute('data-outcome')).toBe('findings');
    expect(await verify.job.getByTestId('job-state').textContent()).toBe('failures found');
    const id = engine.jobs.list().find((j) => j.kind === 'verify')!.id;
    await jobs.expand();
    expect(await jobs.state(id)).toBe('findings');
    expect(await jobs.row(id).locator('.status-green').count()).toBe(0);
    findings.push(...(await jobs.axe('jobs panel: a verification with failures')));
    await jobs.close();
  }, 60_000);
});

describe('keys made in the app', () => {
  it('creates an age identity (recipient shown, exported for escrow) and a signing key; unpin asks first', async () => {
    const creds = new CredentialsPage(session.page);
    await creds.visit();
    const made = await creds.createAgeIdentity('escrow-2026');
    expect(made).toMatch(/^age1[0-9a-z]{58}$/);
    await creds.row('age:escrow-2026').waitFor();
    expect(await creds.recipientOf('age:escrow-2026')).toBe(made);
    const out = join(dir.path, 'escrow', 'escrow-2026.age');
    expect(await creds.exportCreated('age', out)).toContain(out);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toContain(`# public key: ${made}`);
    // An export never overwrites a file.
    await creds.page.getByTestId('age-new-result').getByTestId('key-export-start').click();
    await creds.page.getByTestId('age-new-result').getByTestId('error').waitFor();
    expect(await creds.page.getByTestId('age-new-result').getByTestId('error').getAttribute('data-code')).toBe(
      'ALREADY_EXISTS',
    );
    findings.push(...(await creds.axe('credentials: an identity created, an export refused')));

    const signingId = await creds.createSigningKey('servers-2026');
    expect(signingId).toMatch(/^[0-9a-f]{16}$/);
    await expect.poll(() => creds.pinned().count()).toBe(2);
    expect(await creds.row('signing:servers-2026').textContent()).toContain('pinned');
    const question = await creds.askUnpin(1);
    expect(question).toContain('untrusted signer');
    findings.push(...(await creds.axe('credentials: unpin asks first')));
    await session.screenshot('keys-jobs-credentials');
    await creds.confirmUnpin();
    await expect.poll(() => creds.pinned().count()).toBe(1);
    const only = await creds.askUnpin(0);
    expect(only).toContain('the only pinned key');
    await creds.page.getByRole('button', { name: /^Cancel: Unpin / }).click();
    // Cancelled: the focus goes back to the Unpin button, so a keyboard user keeps their place.
    const unpin = creds.pinned().nth(0).getByTestId('unpin');
    await expect
      .poll(() => unpin.evaluate((el) => el === el.ownerDocument.activeElement), { timeout: 5_000 })
      .toBe(true);
    expect(await creds.pinned().count()).toBe(1);
    expect(engine.catalog.stmt('SELECT count(*) AS n FROM trusted_keys').get()).toEqual({ n: 1 });
  }, 60_000);

  it('axe found no serious or critical violation in any state, and the page logged no error', () => {
    expect(findings).toEqual([]);
    expect(session.problems).toEqual([]);
  });
});
