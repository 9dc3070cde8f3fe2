import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import type { ChannelArgs, ChannelOutput } from '../../../shared/ipc/contract';
import { trustedKeys, trustKey } from '../catalog/trust';
import { identitiesFor } from '../crypto/keychain-identities';
import { generateIdentity, identityFileText, parseIdentityFile } from '../crypto/age';
import { generateSigningKey, loadSigningKey } from '../crypto/signing';
import type { Engine } from '../engine';
import { LifeboatError, mapError } from '../errors';
import { verifyWalChain, type WalChainCheck } from '../pitr/plan';
import type { JobJudgement } from '../jobs/job-manager';

/** Never overwrite a file with a key (a lost key is a lost backup): the same rule as `lifeboat keys`. */
function writeNew(path: string, text: string, mode: number): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text, { flag: 'wx', mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new LifeboatError('ALREADY_EXISTS', `${path} exists; refusing to overwrite it with a key.`, {
        hint: 'Choose a new file name.',
      });
    throw mapError(e);
  }
}

/** A new keychain entry must not replace a key: the sets encrypted to (or signed by) the old one would lose it. */
async function assertFree(engine: Engine, account: string): Promise<void> {
  const status = await engine.credentials.status();
  if (status.state !== 'available')
    throw new LifeboatError('CREDENTIAL_UNAVAILABLE', `The OS keychain is ${status.state}: ${status.detail}`, {
      hint: status.hint ?? undefined,
    });
  if ((await engine.credentials.get(account)) !== null)
    throw new LifeboatError('ALREADY_EXISTS', `The keychain already holds ${account}; a new key never replaces one.`, {
      hint: 'Choose another name.',
    });
}

/** The headline of a WAL check job. */
export function judgeWal(r: WalChainCheck): JobJudgement {
  if (r.ok)
    return {
      outcome: 'passed',
      headline: `WAL of ${r.system} intact: ${r.files} files${r.unsigned.length ? `, ${r.unsigned.length} unsigned (accepted)` : ''}`,
    };
  if (r.files === 0) return { outcome: 'findings', headline: `No WAL archived for ${r.system}` };
  const problems = [
    r.corrupt.length ? `${r.corrupt.length} corrupt` : null,
    r.gaps.length ? `${r.gaps.length} gap${r.gaps.length === 1 ? '' : 's'}` : null,
    r.unsigned.length && !r.unsignedAccepted ? `${r.unsigned.length} not signed by a pinned key` : null,
  ].filter(Boolean);
  return {
    outcome: 'findings',
    headline: `WAL of ${r.system} has problems: ${problems.join(', ')} (of ${r.files} files)`,
  };
}

/** Keys made in the app (kept in the keychain) and WAL checks (issue 21, U1). Media are initialised by U3's initMedium. */
export function createKeysJobsHandlers(engine: Engine) {
  return {
    createAgeIdentity: async ({
      name,
    }: ChannelArgs<'createAgeIdentity'>): Promise<ChannelOutput<'createAgeIdentity'>> => {
      const account = `age:${name}`;
      await assertFree(engine, account);
      const { identity } = generateIdentity();
      await engine.credentials.set(account, identityFileText(identity));
      return { account, keyId: identity.recipient.keyId, recipient: identity.recipient.text };
    },

    createSigningKey: async ({
      name,
      label,
      trust,
    }: ChannelArgs<'createSigningKey'>): Promise<ChannelOutput<'createSigningKey'>> => {
      const account = `signing:${name}`;
      await assertFree(engine, account);
      const { key, privatePem, publicPem } = generateSigningKey();
      await engine.credentials.set(account, privatePem);
      if (trust) trustKey(engine.catalog, publicPem, label?.trim() || name);
      return { account, keyId: key.keyId, publicKeyPem: publicPem, pinned: trust };
    },

    exportKey: async ({ account, path }: ChannelArgs<'exportKey'>): Promise<ChannelOutput<'exportKey'>> => {
      // A relative path would land beside whatever process serves this window: only absolute paths are written.
      if (!isAbsolute(path))
        throw new LifeboatError('BAD_INPUT', `Give an absolute path for the key file (got ${path}).`, {
          hint: 'For example /media/escrow-usb/lifeboat-laptop.age',
        });
      const secret = await engine.credentials.get(account);
      if (secret === null) throw new LifeboatError('NOT_FOUND', `No key is stored under ${account}.`);
      if (account.startsWith('age:')) {
        const ids = parseIdentityFile(secret);
        writeNew(path, ids.map((i) => identityFileText(i)).join(''), 0o600);
        return { path, publicPath: null };
      }
      const key = loadSigningKey(secret);
      writeNew(path, secret.endsWith('\n') ? secret : `${secret}\n`, 0o600);
      // The public half beside it, as `lifeboat keys signing-new` writes it, to pin where sets are verified.
      const publicPath = `${path}.pub`;
      writeNew(publicPath, key.publicKey.export({ format: 'pem', type: 'spki' }).toString(), 0o644);
      return { path, publicPath };
    },

    startVerifyWal: async ({
      location,
      system,
      allowUnsigned,
      identityFiles,
    }: ChannelArgs<'startVerifyWal'>): Promise<ChannelOutput<'startVerifyWal'>> => {
      const identities = await identitiesFor(engine.credentials, identityFiles);
      const medium = await engine.openMedium(location.trim());
      const trust = { trusted: trustedKeys(engine.catalog), allowUnsigned };
      const { snapshot } = engine.jobs.start(
        { kind: 'verify-wal', title: `WAL of ${system} on ${medium.location}`, judge: judgeWal },
        (ctx) =>
          verifyWalChain(medium, system, {
            identities,
            trust,
            pgBinDir: engine.settings().pgBinDir || undefined,
            signal: ctx.signal,
            onFile: (done, total, bytes) => ctx.progress({ itemsDone: done, itemsTotal: total, bytesDone: bytes }),
          }),
      );
      return snapshot;
    },
  };
}
