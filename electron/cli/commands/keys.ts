import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LifeboatError, mapError } from '../../engine/errors';
import type { SecretTool } from '../../engine/foreign/secrets';
import { printJson, type CliIo } from '../output';

/** Write a new key file; never overwrite one (a lost key is a lost backup). */
function writeNew(path: string, text: string, mode: number): void {
  try {
    // A fresh server has no /etc/lifeboat yet (the README's example): make the folder as mkdir -p would (the key file itself is 600).
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text, { flag: 'wx', mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new LifeboatError('ALREADY_EXISTS', `${path} exists; refusing to overwrite a key.`);
    throw mapError(e);
  }
}

export function registerKeys(program: Command, io: CliIo): void {
  const keys = program.command('keys').description('make signing keys and age encryption keys');

  keys
    .command('signing-new')
    .description('make an Ed25519 signing key: <file> (private, mode 600) and <file>.pub; prints the key id')
    .requiredOption('--out <file>', 'where to write the private key (PEM)')
    .option('--json', 'print one machine-readable result')
    .action(async (opts: { out: string; json?: boolean }) => {
      const { generateSigningKey } = await import('../../engine/crypto/signing');
      const { key, privatePem, publicPem } = generateSigningKey();
      writeNew(opts.out, privatePem, 0o600);
      writeNew(`${opts.out}.pub`, publicPem, 0o644);
      if (opts.json) printJson(io, { key_id: key.keyId, private_key: opts.out, public_key: `${opts.out}.pub` });
      else io.stdout.write(`${key.keyId}\n`);
      if (!opts.json)
        io.stderr.write(
          `Signing key ${key.keyId} written to ${opts.out} (keep it on the backup servers) and ${opts.out}.pub (pin it where sets are verified: lifeboat keys trust ${opts.out}.pub).\n`,
        );
    });

  keys
    .command('age-new')
    .description('make an age X25519 identity in <file> (mode 600); prints its recipient (age1…)')
    .requiredOption('--out <file>', 'where to write the identity')
    .option('--json', 'print one machine-readable result')
    .action(async (opts: { out: string; json?: boolean }) => {
      const { generateIdentity, identityFileText } = await import('../../engine/crypto/age');
      const { identity } = generateIdentity();
      writeNew(opts.out, identityFileText(identity), 0o600);
      if (opts.json)
        printJson(io, { recipient: identity.recipient.text, key_id: identity.recipient.keyId, identity: opts.out });
      else io.stdout.write(`${identity.recipient.text}\n`);
      if (!opts.json)
        io.stderr.write(
          `Identity written to ${opts.out}: keep it off the backup servers (the DR laptop, an escrow safe). Encrypt to: ${identity.recipient.text}\n`,
        );
    });

  keys
    .command('trust <public-key-file>')
    .description('pin a signer: sets it signed pass the authenticity level on this machine')
    .option('--label <label>', 'a name for the key (e.g. "backup servers 2026")')
    .option('--json', 'print one machine-readable result')
    .action(async (file: string, opts: { label?: string; json?: boolean }) => {
      const [{ readFileSync }, { trustKey }, { openCliEngine }] = await Promise.all([
        import('node:fs'),
        import('../../engine/catalog/trust'),
        import('../engine'),
      ]);
      let pem: string;
      try {
        pem = readFileSync(file, 'utf8');
      } catch {
        throw new LifeboatError('KEY_INVALID', `Cannot read the public key file ${file}.`);
      }
      const engine = openCliEngine();
      try {
        const key = trustKey(engine.catalog, pem, opts.label ?? null);
        if (opts.json) printJson(io, { ok: true, key_id: key.keyId, label: key.label });
        else io.stdout.write(`Pinned ${key.keyId} (${key.label}).\n`);
      } finally {
        await engine.close();
      }
    });

  keys
    .command('list')
    .description('the pinned signing keys')
    .option('--json', 'print one machine-readable result')
    .action(async (opts: { json?: boolean }) => {
      const [{ trustedKeys }, { openCliEngine }] = await Promise.all([
        import('../../engine/catalog/trust'),
        import('../engine'),
      ]);
      const engine = openCliEngine();
      try {
        const keysList = trustedKeys(engine.catalog);
        if (opts.json)
          printJson(
            io,
            keysList.map((k) => ({ key_id: k.keyId, label: k.label, added_at: k.addedAt })),
          );
        else if (keysList.length === 0) io.stdout.write('No pinned keys: `lifeboat keys trust <file.pub>`.\n');
        else for (const k of keysList) io.stdout.write(`${k.keyId}  ${k.label}  (pinned ${k.addedAt.slice(0, 10)})\n`);
      } finally {
        await engine.close();
      }
    });

  // Other tools' passphrases (foreign/secrets.ts), kept in the OS keychain; read from a file, never from argv.
  const credentials = program
    .command('credentials')
    .description(
      "store passwords in the OS keychain: other tools' passphrases (pgBackRest cipher pass, OpenSSL enc, restic) and MySQL passwords",
    );
  const toolOf = async (kind: string): Promise<SecretTool> => {
    const { SECRET_TOOLS, SECRET_TOOL } = await import('../../engine/foreign/secrets');
    const tool =
      SECRET_TOOLS.find((t) => t === kind) ??
      (Object.prototype.hasOwnProperty.call(SECRET_TOOL, kind)
        ? SECRET_TOOL[kind as keyof typeof SECRET_TOOL]
        : undefined);
    if (!tool)
      throw new LifeboatError('BAD_INPUT', `Not a kind of foreign secret: ${kind}.`, {
        hint: `One of: ${SECRET_TOOLS.join(', ')} (or ${Object.keys(SECRET_TOOL).join(', ')}).`,
      });
    return tool;
  };
  /** The keychain account of `kind [scope]`: mysql:<target> (a scope is needed), else a foreign tool's. */
  const accountOf = async (kind: string, scope: string | undefined): Promise<string> => {
    if (kind !== 'mysql') {
      const { accountFor } = await import('../../engine/foreign/secrets');
      return accountFor(await toolOf(kind), scope ?? null);
    }
    if (!scope)
      throw new LifeboatError('BAD_INPUT', 'A MySQL password needs a name: lifeboat credentials add mysql <target>.', {
        hint: 'Then back up or restore with --credential mysql:<target>.',
      });
    const { assertAccount } = await import('../../engine/credentials/credential-store');
    assertAccount(`mysql:${scope}`);
    return `mysql:${scope}`;
  };
  credentials
    .command('add <kind> [scope]')
    .description(
      'kind: mysql (scope: a name for the server, used as --credential mysql:<scope>), pgbackrest (scope: the stanza), openssl (scope: the system), restic (scope: the repository folder name); no scope: default, used for any',
    )
    .requiredOption(
      '--from-file <file>',
      'read the secret from this file (its first line); it is never given on the command line',
    )
    .option('--json', 'print one machine-readable result')
    .action(async (kind: string, scope: string | undefined, opts: { fromFile: string; json?: boolean }) => {
      const [{ readSecretFile }, { openCliEngine }] = await Promise.all([
        import('../../engine/foreign/secrets'),
        import('../engine'),
      ]);
      const account = await accountOf(kind, scope);
      const secret = readSecretFile(opts.fromFile);
      const engine = openCliEngine();
      try {
        await engine.credentials.set(account, secret);
        if (opts.json) printJson(io, { ok: true, account });
        else io.stdout.write(`Stored ${account} in the keychain.\n`);
      } finally {
        await engine.close();
      }
    });
  credentials
    .command('remove <kind> [scope]')
    .description('remove a stored foreign secret')
    .option('--json', 'print one machine-readable result')
    .action(async (kind: string, scope: string | undefined, opts: { json?: boolean }) => {
      const { openCliEngine } = await import('../engine');
      const account = await accountOf(kind, scope);
      const engine = openCliEngine();
      try {
        const removed = await engine.credentials.delete(account);
        if (opts.json) printJson(io, { ok: true, account, removed });
        else io.stdout.write(removed ? `Removed ${account}.\n` : `The keychain held nothing for ${account}.\n`);
      } finally {
        await engine.close();
      }
    });
  credentials
    .command('list')
    .description('the stored foreign secrets and MySQL passwords (their names, never the secrets)')
    .option('--json', 'print one machine-readable result')
    .action(async (opts: { json?: boolean }) => {
      const { openCliEngine } = await import('../engine');
      const engine = openCliEngine();
      try {
        const accounts = (await engine.credentials.accounts()).filter((a) =>
          /^(pgbackrest|openssl|restic|mysql):/.test(a),
        );
        if (opts.json) printJson(io, accounts);
        else
          io.stdout.write(
            accounts.length
              ? `${accounts.join('\n')}\n`
              : 'No foreign secrets stored: lifeboat credentials add <kind> [scope] --from-file <file>.\n',
          );
      } finally {
        await engine.close();
      }
    });
}
