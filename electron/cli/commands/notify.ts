import { Option, type Command } from 'commander';
import { hostname } from 'node:os';
import type { CliIo } from '../output';

/** `lifeboat notify test`: send a sample event through the config's channels, to see them arrive. */
export function registerNotify(program: Command, io: CliIo): void {
  const notify = program.command('notify').description('failure and success notifications (docs/notifications.md)');
  notify
    .command('test')
    .description('check the notification config and send a test message to every channel subscribed to --event')
    .addOption(
      new Option('--event <kind>', 'the kind of event to pretend')
        .choices(['failure', 'success', 'check-not-ok'])
        .default('failure'),
    )
    .option('--notify-config <file>', 'the config (default: LIFEBOAT_NOTIFY_CONFIG, else <data dir>/notify.yaml)')
    .action(async (opts: { event: 'failure' | 'success' | 'check-not-ok'; notifyConfig?: string }) => {
      const [{ findNotifyConfig, loadNotifyConfig, Notifier }, { resolveDataDir }, { KeytarCredentialStore }] =
        await Promise.all([
          import('../../engine/notify'),
          import('../../engine/settings/paths'),
          import('../../engine/credentials/credential-store'),
        ]);
      const { LifeboatError } = await import('../../engine/errors');
      const source = findNotifyConfig(opts.notifyConfig, process.env, resolveDataDir());
      if (!source)
        throw new LifeboatError('NOT_FOUND', 'No notification config: nothing to test.', {
          hint: 'Give --notify-config <file>, set LIFEBOAT_NOTIFY_CONFIG, or write <data dir>/notify.yaml (docs/notifications.md).',
        });
      const notifier = await Notifier.prepare(loadNotifyConfig(source), {
        env: process.env,
        keychain: () => new KeytarCredentialStore(),
      });
      const now = new Date().toISOString();
      const deliveries = await notifier.notify({
        kind: opts.event,
        command: 'notify test',
        system: null,
        setId: null,
        host: hostname(),
        media: [],
        error:
          opts.event === 'success'
            ? null
            : { code: 'INTERNAL', message: 'This is a test notification; nothing failed.', hint: 'No action needed.' },
        summary: `A test ${opts.event} notification from ${source.path}.`,
        rerun: 'lifeboat notify test',
        exitCode: opts.event === 'success' ? 0 : 1,
        startedAt: now,
        finishedAt: new Date().toISOString(),
      });
      if (deliveries.length === 0) io.stdout.write(`No channel of ${source.path} is subscribed to ${opts.event}.\n`);
      for (const d of deliveries)
        io.stdout.write(
          d.ok
            ? `sent     ${d.channel}${d.attempts > 1 ? ' (on the retry)' : ''}\n`
            : `NOT SENT ${d.channel}: ${d.error ?? 'unknown error'}\n`,
        );
      if (deliveries.some((d) => !d.ok)) process.exitCode = 1;
    });

  notify
    .command('secret-add <name>')
    .description(
      'store a notification secret (an SMTP password, a webhook URL) in the OS keychain as notify:<name>, for keychain:notify:<name> in the config',
    )
    .requiredOption(
      '--from-file <file>',
      'read the secret from the first line of this file; never given on the command line',
    )
    .action(async (name: string, opts: { fromFile: string }) => {
      const [{ readSecretLine }, { KeytarCredentialStore }, { LifeboatError }] = await Promise.all([
        import('../../engine/notify/secrets'),
        import('../../engine/credentials/credential-store'),
        import('../../engine/errors'),
      ]);
      if (!/^[A-Za-z0-9._-]{1,120}$/.test(name))
        throw new LifeboatError('BAD_INPUT', 'A notification secret name is letters, digits, . _ - (up to 120).');
      await new KeytarCredentialStore().set(
        `notify:${name}`,
        readSecretLine(opts.fromFile, `--from-file ${opts.fromFile}`),
      );
      io.stdout.write(`stored notify:${name} in the OS keychain; refer to it as keychain:notify:${name}\n`);
    });
}
