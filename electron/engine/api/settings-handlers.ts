import type { ChannelArgs, ChannelOutput } from '../../../shared/ipc/contract';
import { currentVerdicts } from '../catalog/queries';
import { trustedKeys, trustKey, untrustKey } from '../catalog/trust';
import { parseIdentityFile } from '../crypto/age';
import { loadSigningKey } from '../crypto/signing';
import type { Engine } from '../engine';
import { LifeboatError } from '../errors';
import { parsePgUrl, serverFacts } from '../postgres/connection';
import { saveSettings } from '../settings/settings';
import { azureSecretKind } from '../storage/azure-secret';
import { AZURE_ACCOUNT } from '../../../shared/domain/azure-location';
import { findExecutable } from '../tools/tools';
import { execFileSync } from 'node:child_process';

export function settingsView(engine: Engine): ChannelOutput<'getSettings'> {
  const s = engine.settings();
  const pgRestore = findExecutable('pg_restore', { preferDirs: s.pgBinDir ? [s.pgBinDir] : [], pg: true });
  let version: string | null = null;
  if (pgRestore) {
    try {
      version = execFileSync(pgRestore, ['--version'], { encoding: 'utf8', timeout: 5000 }).trim();
    } catch {
      version = null;
    }
  }
  return {
    operatorName: s.operatorName,
    pgBinDir: s.pgBinDir,
    detectedPg: { path: pgRestore, version },
    tiers: s.tiers,
    dataDir: engine.paths.dataDir,
    trustedKeys: trustedKeys(engine.catalog).map((k) => ({ keyId: k.keyId, label: k.label, addedAt: k.addedAt })),
    s3Media: s.s3Media,
    azureMedia: s.azureMedia,
    systems: Object.fromEntries(
      Object.entries(s.systems).map(([k, v]) => [k, { tier: v.tier ?? null, validations: v.validations }]),
    ),
  };
}

/** The public half of a stored age identity or signing key; the secret itself never leaves this function. */
function publicHalf(
  kind: 'age' | 'signing',
  secret: string | null,
): { keyId: string | null; publicKey: string | null; problem: string | null } {
  if (secret === null) return { keyId: null, publicKey: null, problem: 'no secret stored' };
  try {
    if (kind === 'age') {
      const first = parseIdentityFile(secret)[0]!;
      return { keyId: first.recipient.keyId, publicKey: first.recipient.text, problem: null };
    }
    const key = loadSigningKey(secret);
    return {
      keyId: key.keyId,
      publicKey: key.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      problem: null,
    };
  } catch (e) {
    return {
      keyId: null,
      publicKey: null,
      problem: e instanceof LifeboatError ? e.message : 'the stored key cannot be read',
    };
  }
}

/** Credentials (keychain, references only), settings, pinned keys and recent verdicts, for the app's screens. */
export function createSettingsHandlers(engine: Engine) {
  return {
    listCredentials: async (): Promise<ChannelOutput<'listCredentials'>> => {
      const keychain = await engine.credentials.status();
      if (keychain.state !== 'available') return { keychain, credentials: [] };
      const { pgTargets, s3Keys, azureKeys } = engine.settings();
      const accounts = await engine.credentials.accounts();
      const pinned = new Set(trustedKeys(engine.catalog).map((k) => k.keyId));
      const out = [];
      for (const account of accounts) {
        const [kind, id] = account.split(':') as ['pg' | 's3' | 'azure' | 'age' | 'signing', string];
        const label =
          kind === 'pg'
            ? (pgTargets[id]?.label ?? '')
            : kind === 's3'
              ? (s3Keys[id]?.label ?? '')
              : kind === 'azure'
                ? (azureKeys[id]?.label ?? '')
                : '';
        // Keys show their public half (recipient, public key) so the operator can match them with a manifest's key id.
        const pub =
          kind === 'age' || kind === 'signing'
            ? publicHalf(kind, await engine.credentials.get(account))
            : { keyId: null, publicKey: null, problem: null };
        out.push({
          account,
          kind,
          url: kind === 'pg' ? (pgTargets[id]?.url ?? null) : null,
          label,
          accessKeyId:
            kind === 's3'
              ? (s3Keys[id]?.accessKeyId ?? null)
              : kind === 'azure'
                ? (azureKeys[id]?.account ?? null)
                : null,
          ...pub,
          pinned: kind === 'signing' && pub.keyId ? pinned.has(pub.keyId) : null,
        });
      }
      return { keychain, credentials: out };
    },

    saveCredential: async ({
      account,
      secret,
      url,
      label,
      accessKeyId,
    }: ChannelArgs<'saveCredential'>): Promise<ChannelOutput<'saveCredential'>> => {
      const [kind, id] = account.split(':') as [string, string];
      if (kind === 'pg') {
        if (!url)
          throw new LifeboatError(
            'BAD_INPUT',
            'A PostgreSQL credential needs its target URL (postgres://user@host:port/database).',
          );
        const target = parsePgUrl(url);
        if (target.password !== null)
          throw new LifeboatError(
            'BAD_INPUT',
            'Give the password in the password field, not in the URL: the URL is kept in settings.',
          );
      }
      if (kind === 's3' && !accessKeyId?.trim())
        throw new LifeboatError('BAD_INPUT', 'S3 keys need the access key id as well as the secret access key.');
      // Azure: an account key or a SAS token goes with the storage account's name; a connection string names it.
      if (
        kind === 'azure' &&
        azureSecretKind(secret) !== 'connectionString' &&
        !AZURE_ACCOUNT.test(accessKeyId?.trim() ?? '')
      )
        throw new LifeboatError(
          'BAD_INPUT',
          'An Azure account key or SAS token needs the storage account name (3 to 24 lower-case letters and digits).',
          { hint: 'Or paste the whole connection string, which names the account.' },
        );
      if (kind === 'age') parseIdentityFile(secret);
      if (kind === 'signing') loadSigningKey(secret);
      await engine.credentials.set(account, secret);
      if (kind === 'pg') {
        const s = engine.settings();
        saveSettings(engine.paths.settings, {
          ...s,
          pgTargets: { ...s.pgTargets, [id]: { url: parsePgUrl(url!).url, label: label ?? '' } },
        });
      }
      if (kind === 's3') {
        const s = engine.settings();
        saveSettings(engine.paths.settings, {
          ...s,
          s3Keys: { ...s.s3Keys, [id]: { accessKeyId: accessKeyId!.trim(), label: label ?? '' } },
        });
      }
      if (kind === 'azure') {
        const s = engine.settings();
        const name = azureSecretKind(secret) === 'connectionString' ? '' : accessKeyId!.trim();
        saveSettings(engine.paths.settings, {
          ...s,
          azureKeys: { ...s.azureKeys, [id]: { account: name, label: label ?? '' } },
        });
      }
      return { account, saved: true };
    },

    deleteCredential: async ({
      account,
    }: ChannelArgs<'deleteCredential'>): Promise<ChannelOutput<'deleteCredential'>> => {
      const deleted = await engine.credentials.delete(account);
      const [kind, id] = account.split(':') as [string, string];
      if (kind === 'pg') {
        const s = engine.settings();
        const { [id]: _gone, ...rest } = s.pgTargets;
        saveSettings(engine.paths.settings, { ...s, pgTargets: rest });
      }
      if (kind === 's3') {
        const s = engine.settings();
        const { [id]: _gone, ...rest } = s.s3Keys;
        saveSettings(engine.paths.settings, { ...s, s3Keys: rest });
      }
      if (kind === 'azure') {
        const s = engine.settings();
        const { [id]: _gone, ...rest } = s.azureKeys;
        saveSettings(engine.paths.settings, { ...s, azureKeys: rest });
      }
      return { deleted };
    },

    testCredential: async ({ account }: ChannelArgs<'testCredential'>): Promise<ChannelOutput<'testCredential'>> => {
      const secret = await engine.credentials.get(account);
      if (secret === null) return { ok: false, detail: `No secret is stored for ${account}.` };
      const [kind, id] = account.split(':') as [string, string];
      try {
        if (kind === 'pg') {
          const url = engine.settings().pgTargets[id]?.url;
          if (!url) return { ok: false, detail: 'No target URL is saved with this credential.' };
          const facts = await serverFacts(parsePgUrl(url, secret));
          return {
            ok: true,
            detail: `Connected: PostgreSQL ${facts.version.split(' ')[1] ?? facts.major}, database ${facts.database}.`,
          };
        }
        if (kind === 'age')
          return {
            ok: true,
            detail: `An age identity for ${parseIdentityFile(secret)
              .map((i) => i.recipient.keyId)
              .join(', ')}.`,
          };
        if (kind === 'signing')
          return { ok: true, detail: `An Ed25519 signing key, id ${loadSigningKey(secret).keyId}.` };
        const s = engine.settings();
        const medium = [...s.s3Media, ...s.azureMedia].find((m) => m.credential === account);
        if (!medium)
          return {
            ok: true,
            detail: `Stored. No ${kind === 'azure' ? 'Azure' : 'S3'} medium uses ${kind === 'azure' ? 'this key' : 'these keys'} yet: add one on the Media screen to try ${kind === 'azure' ? 'it' : 'them'}.`,
          };
        await (await engine.openMedium(medium.location)).readInfo();
        return { ok: true, detail: `Connected: ${medium.location} answers with these keys.` };
      } catch (e) {
        // The message of a failed connection never holds the password (pg errors are redacted).
        return { ok: false, detail: e instanceof Error ? e.message : String(e) };
      }
    },

    getSettings: async (): Promise<ChannelOutput<'getSettings'>> => settingsView(engine),

    saveSettings: async (input: ChannelArgs<'saveSettings'>): Promise<ChannelOutput<'getSettings'>> => {
      const s = engine.settings();
      saveSettings(engine.paths.settings, {
        ...s,
        ...(input.operatorName !== undefined ? { operatorName: input.operatorName.trim() } : {}),
        ...(input.pgBinDir !== undefined ? { pgBinDir: input.pgBinDir.trim() } : {}),
        ...(input.tiers ? { tiers: input.tiers } : {}),
      });
      return settingsView(engine);
    },

    saveS3Medium: async (input: ChannelArgs<'saveS3Medium'>): Promise<ChannelOutput<'getSettings'>> => {
      const s = engine.settings();
      if (input.credential && !(await engine.credentials.get(input.credential)))
        throw new LifeboatError('NOT_FOUND', `No keys are stored under ${input.credential}.`, {
          hint: 'Add the S3 keys on the Credentials screen first.',
        });
      if (input.endpoint && !/^https?:\/\/[^\s/]+/.test(input.endpoint))
        throw new LifeboatError(
          'BAD_INPUT',
          `The endpoint must be an http(s) URL, like https://s3.example.net:9000 (got ${input.endpoint}).`,
        );
      const location = input.location.replace(/\/+$/, '');
      saveSettings(engine.paths.settings, {
        ...s,
        s3Media: [...s.s3Media.filter((m) => m.location !== location), { ...input, location }],
      });
      return settingsView(engine);
    },

    saveAzureMedium: async (input: ChannelArgs<'saveAzureMedium'>): Promise<ChannelOutput<'getSettings'>> => {
      const s = engine.settings();
      if (input.credential && !(await engine.credentials.get(input.credential)))
        throw new LifeboatError('NOT_FOUND', `No key is stored under ${input.credential}.`, {
          hint: 'Add the Azure key on the Credentials screen first.',
        });
      if (input.endpoint && !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(input.endpoint))
        throw new LifeboatError(
          'BAD_INPUT',
          `The endpoint must be an http(s) URL without a query, like https://acct.blob.core.usgovcloudapi.net (got ${input.endpoint}).`,
        );
      const location = input.location.replace(/\/+$/, '');
      saveSettings(engine.paths.settings, {
        ...s,
        azureMedia: [...s.azureMedia.filter((m) => m.location !== location), { ...input, location }],
      });
      return settingsView(engine);
    },

    removeAzureMedium: async ({
      location,
    }: ChannelArgs<'removeAzureMedium'>): Promise<ChannelOutput<'getSettings'>> => {
      const s = engine.settings();
      if (!s.azureMedia.some((m) => m.location === location))
        throw new LifeboatError('NOT_FOUND', `No settings for ${location}.`);
      saveSettings(engine.paths.settings, { ...s, azureMedia: s.azureMedia.filter((m) => m.location !== location) });
      return settingsView(engine);
    },

    removeS3Medium: async ({ location }: ChannelArgs<'removeS3Medium'>): Promise<ChannelOutput<'getSettings'>> => {
      const s = engine.settings();
      if (!s.s3Media.some((m) => m.location === location))
        throw new LifeboatError('NOT_FOUND', `No settings for ${location}.`);
      saveSettings(engine.paths.settings, { ...s, s3Media: s.s3Media.filter((m) => m.location !== location) });
      return settingsView(engine);
    },

    trustSigningKey: async ({
      publicKeyPem,
      label,
    }: ChannelArgs<'trustSigningKey'>): Promise<ChannelOutput<'getSettings'>> => {
      trustKey(engine.catalog, publicKeyPem, label ?? null);
      return settingsView(engine);
    },

    untrustSigningKey: async ({ keyId }: ChannelArgs<'untrustSigningKey'>): Promise<ChannelOutput<'getSettings'>> => {
      if (!untrustKey(engine.catalog, keyId)) throw new LifeboatError('NOT_FOUND', `No pinned key ${keyId}.`);
      return settingsView(engine);
    },

    // Only verdicts that still stand: a failure a later pass superseded is history, not a state (catalog/queries.ts).
    recentVerifications: async (): Promise<ChannelOutput<'recentVerifications'>> => currentVerdicts(engine.catalog, 30),
  };
}
