import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers, type Handlers } from '../../electron/engine/api/handlers';
import { MemoryCredentialStore } from '../../electron/engine/credentials/credential-store';
import { Engine } from '../../electron/engine/engine';
import { runVerify } from '../../electron/engine/verify/run';
import { json, lifeboat } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

/**
 * Issue 21: the keychain's age identities are used by default (verify, runs), a check no key opens is refused before it
 * reads a byte, a run's step that failed for want of a key is retried with the key saved since, and the progress of a
 * verification names a set still being worked on, never one already finished.
 */
let dir: ReturnType<typeof tempDir>;
let home: string;
let usb: string;
let identityText: string;
let keyId: string;
let engine: Engine;
let handlers: Handlers;

const count = (sql: string): number => (engine.catalog.stmt(sql).get() as { n: number }).n;

beforeAll(async () => {
  dir = tempDir();
  home = join(dir.path, 'home');
  usb = join(dir.path, 'usb');
  const env = { LIFEBOAT_HOME: home };
  const identityFile = join(dir.path, 'laptop.age');
  expect(lifeboat(env, 'medium', 'init', usb, '--label', 'usb-1').status).toBe(0);
  const made = json<{ recipient: string; key_id: string }>(
    lifeboat(env, 'keys', 'age-new', '--out', identityFile, '--json'),
  );
  keyId = made.key_id;
  identityText = readFileSync(identityFile, 'utf8');
  const sign = join(dir.path, 'sign.pem');
  lifeboat(env, 'keys', 'signing-new', '--out', sign);
  expect(lifeboat(env, 'keys', 'trust', `${sign}.pub`).status).toBe(0);
  for (const system of ['docs', 'mail']) {
    const files = join(dir.path, system);
    mkdirSync(files);
    writeFileSync(join(files, 'a.bin'), randomBytes(512 * 1024));
    writeFileSync(join(files, 'b.txt'), `${system}\n`);
    const r = lifeboat(
      env,
      'backup',
      'files',
      '--system',
      system,
      '--path',
      files,
      '--to',
      usb,
      '--recipient',
      made.recipient,
      '--sign-key',
      sign,
    );
    expect(r.status, r.stderr).toBe(0);
  }
  engine = new Engine({ dataDir: home, credentials: new MemoryCredentialStore(), frontDoor: 'bridge', throttleMs: 0 });
  handlers = createHandlers(engine);
  // A runbook of the operator's: pick the newest files set of docs and verify it deep (a drill's "Verify it deep").
  mkdirSync(join(home, 'runbooks'), { recursive: true });
  writeFileSync(
    join(home, 'runbooks', 'verify-docs.yaml'),
    [
      'id: verify-docs',
      'title: Verify the docs backup',
      'description: Pick the newest files set of docs and verify it deep.',
      'level: 1',
      'objectives: { rto: 1h, rpo: 24h }',
      'steps:',
      '  - id: select',
      '    kind: action',
      '    title: Pick the newest set',
      '    action: catalog.select-set',
      '    with: { system: docs, kind: files }',
      '  - id: verify',
      '    kind: action',
      '    title: Verify it deep',
      '    action: verify.set',
      '    with: { set: "{{ steps.select.output.key }}", level: deep }',
      '',
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await engine?.close();
  dir?.cleanup();
});

describe('keys by default', () => {
  it('with no key anywhere, a deep check is refused before it reads, naming the key; nothing is recorded', async () => {
    const job = await handlers.startVerify({
      target: usb,
      level: 'deep',
      identityFiles: [],
      onlyNew: false,
      olderThanDays: null,
      jobs: 2,
      useKeychain: true,
    });
    const final = await engine.jobs.wait(job.id);
    expect([final.status, final.outcome, final.error?.code]).toEqual(['failed', 'error', 'CREDENTIAL_UNAVAILABLE']);
    expect(final.error?.message).toContain(`no age identity for key ${keyId}`);
    expect(final.error?.hint).toMatch(/Credentials/);
    expect(count('SELECT count(*) AS n FROM verifications')).toBe(0);
  }, 30_000);

  it("a run's deep-verify step fails for want of a key, then passes on retry once the key is in the keychain", async () => {
    const { run, job } = await handlers.startRun({
      runbook: 'verify-docs',
      inputs: {},
      drill: true,
      identityFiles: [],
    });
    // The job that advanced the run ran to its end, but the run stopped at a failed step: no pass in the Jobs panel.
    expect((await engine.jobs.wait(job.id)).outcome).toBe('findings');
    const failed = await handlers.getRun({ id: run.id });
    const step = failed.steps.find((s) => s.id === 'verify')!;
    expect([failed.status, step.status, step.error?.code]).toEqual(['failed', 'failed', 'CREDENTIAL_UNAVAILABLE']);
    expect(step.error?.message).toContain(keyId);
    expect(count("SELECT count(*) AS n FROM verifications WHERE verdict != 'ok'")).toBe(0);
    // The operator saves the identity (Credentials) and retries the step: the engine reads the keychain again.
    await handlers.saveCredential({ account: 'age:laptop', secret: identityText });
    const retry = await handlers.advanceRun({ id: run.id, identityFiles: [] });
    expect((await engine.jobs.wait(retry.id)).headline).toBe('The run finished');
    const after = await handlers.getRun({ id: run.id });
    expect(after.steps.find((s) => s.id === 'verify')!.status).toBe('done');
    expect(after.status).toBe('succeeded');
  }, 60_000);

  it('a verification started with no identity uses the keychain, and its headline says it passed', async () => {
    const job = await handlers.startVerify({
      target: usb,
      level: 'deep',
      identityFiles: [],
      onlyNew: false,
      olderThanDays: null,
      jobs: 2,
      useKeychain: true,
    });
    const final = await engine.jobs.wait(job.id);
    expect([final.status, final.outcome, final.headline]).toEqual(['succeeded', 'passed', 'All 2 sets passed']);
    // Told not to use the keychain, the same check is refused.
    const without = await engine.jobs.wait(
      (
        await handlers.startVerify({
          target: usb,
          level: 'deep',
          identityFiles: [],
          onlyNew: false,
          olderThanDays: null,
          jobs: 2,
          useKeychain: false,
        })
      ).id,
    );
    expect(without.error?.code).toBe('CREDENTIAL_UNAVAILABLE');
    // The keychain holds the key: the hint says it was not used, not that it is empty.
    expect(without.error?.hint).toContain('the keychain’s identities were not used');
    expect(without.error?.hint).not.toContain('the keychain holds none');
  }, 60_000);

  it('lists the identity with its recipient and key id, never the secret', async () => {
    const view = await handlers.listCredentials({});
    const entry = view.credentials.find((c) => c.account === 'age:laptop')!;
    expect(entry.keyId).toBe(keyId);
    expect(entry.publicKey).toMatch(/^age1/);
    expect(JSON.stringify(view)).not.toContain('AGE-SECRET-KEY');
  });
});

describe('progress', () => {
  it('names a set still being worked on, never one already finished, and nothing once all are done', async () => {
    const seen: Array<{ current: string; recorded: number }> = [];
    let last: string | null | undefined;
    const identities = (await import('../../electron/engine/crypto/age')).parseIdentityFile(identityText);
    const before = count('SELECT count(*) AS n FROM verifications');
    await runVerify(
      { catalog: engine.catalog, settings: engine.settings(), dataDir: home, openMedium: engine.openMedium },
      { target: usb, level: 'deep', identities, onlyNew: false, olderThanDays: null, jobs: 1 },
      {
        signal: new AbortController().signal,
        step: () => {},
        log: () => {},
        progress: (u) => {
          if (u.current === undefined) return;
          last = u.current;
          // A set's verdict is recorded when it finishes: the set named now must have none recorded in this run yet.
          if (u.current)
            seen.push({
              current: u.current,
              recorded: count(
                `SELECT count(*) AS n FROM verifications WHERE set_key = '${u.current.replace(/'/g, "''")}' AND artifact_path IS NULL AND rowid > ${before}`,
              ),
            });
        },
      },
    );
    expect(new Set(seen.map((s) => s.current)).size).toBe(2);
    expect(seen.filter((s) => s.recorded > 0)).toEqual([]);
    expect(last).toBeNull();
  }, 60_000);
});
