import { readFileSync } from 'node:fs';
import type { CredentialStore } from '../credentials/credential-store';
import { LifeboatError } from '../errors';
import {
  channelLabel,
  type EmailChannelConfig,
  type NotifyChannel,
  type NotifyConfig,
  type WebhookChannelConfig,
} from './config';
import { buildMessage, scrub, type NotifyEvent, type NotifyMessage } from './message';
import { resolveSecretRef } from './secrets';

/** Each try of a channel gives up after this long (connect, greeting, answer); the tests shorten it. */
const ATTEMPT_TIMEOUT_MS = 10_000;

export interface Delivery {
  channel: string;
  ok: boolean;
  attempts: number;
  /** Why the last attempt failed (no secret: scrubbed). */
  error?: string;
}

interface ReadyChannel {
  label: string;
  config: NotifyChannel;
  /** The resolved password or webhook URL. */
  secret: string | null;
  /** An e-mail channel's private CA, read when the notifier is prepared. */
  ca: Buffer | null;
}

async function sendEmail(
  c: EmailChannelConfig,
  password: string | null,
  ca: Buffer | null,
  m: NotifyMessage,
  timeoutMs: number,
): Promise<void> {
  const { createTransport } = await import('nodemailer');
  const transport = createTransport({
    host: c.host,
    port: c.port ?? (c.tls === 'implicit' ? 465 : c.tls === 'starttls' ? 587 : 25),
    secure: c.tls === 'implicit',
    requireTLS: c.tls === 'starttls',
    ignoreTLS: c.tls === 'none',
    ...(c.user && password !== null ? { auth: { user: c.user, pass: password } } : {}),
    ...(ca ? { tls: { ca } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  try {
    await transport.sendMail({ from: c.from, to: c.to, subject: m.subject, text: m.text });
  } finally {
    transport.close();
  }
}

/** The receiver's host, for messages: the path of a Slack URL is its token. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}

async function sendWebhook(_c: WebhookChannelConfig, url: string, m: NotifyMessage, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(m.webhook),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why =
      e instanceof Error && e.name === 'TimeoutError'
        ? 'timed out'
        : (cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : 'request failed'));
    throw new Error(`${hostOf(url)}: ${why}`, { cause: e });
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.status < 200 || res.status >= 300) throw new Error(`${hostOf(url)} answered HTTP ${res.status}`);
}

/**
 * The channels of a config with their secrets resolved, ready to send. Made before the command runs,
 * so a secret that cannot be found fails loudly then, not silently after a failed backup.
 */
export class Notifier {
  private constructor(
    private readonly channels: ReadyChannel[],
    private readonly retryDelayMs: number,
    private readonly attemptTimeoutMs: number,
  ) {}

  static async prepare(
    config: NotifyConfig,
    deps: {
      env: NodeJS.ProcessEnv;
      keychain: () => CredentialStore;
      retryDelayMs?: number;
      attemptTimeoutMs?: number;
    },
  ): Promise<Notifier> {
    const ready: ReadyChannel[] = [];
    for (const [i, c] of config.channels.entries()) {
      const label = channelLabel(c, i);
      let secret: string | null = null;
      if (c.type === 'email' && c.password)
        secret = await resolveSecretRef(c.password, `channel ${label} password`, deps.env, deps.keychain);
      if (c.type === 'webhook') {
        secret = await resolveSecretRef(c.url, `channel ${label} url`, deps.env, deps.keychain);
        if (!/^https?:\/\/[^\s]+$/i.test(secret))
          throw new LifeboatError(
            'BAD_INPUT',
            `The notification config's channel ${label} url (${c.url}) does not hold an http(s) URL.`,
            { hint: 'The reference must resolve to the webhook URL itself, e.g. https://hooks.slack.com/services/…' },
          );
      }
      let ca: Buffer | null = null;
      if (c.type === 'email' && c.ca_file) {
        try {
          ca = readFileSync(c.ca_file);
        } catch (e) {
          throw new LifeboatError(
            'BAD_INPUT',
            `The notification config's channel ${label} ca_file (${c.ca_file}) cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}).`,
            { hint: 'Give the PEM file of the CA that signed the relay’s certificate, readable by this user.' },
          );
        }
      }
      ready.push({ label, config: c, secret, ca });
    }
    return new Notifier(ready, deps.retryDelayMs ?? 2000, deps.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS);
  }

  /** The channels that would be sent this kind of event. */
  wants(kind: NotifyEvent['kind']): boolean {
    return this.channels.some((c) => c.config.on.includes(kind));
  }

  /**
   * Send the event to every channel subscribed to its kind, all at once; each is tried twice (one
   * retry after a short pause). Never throws: the result lists what could not be delivered, and why.
   */
  async notify(event: NotifyEvent): Promise<Delivery[]> {
    const secrets = this.channels.flatMap((c) => (c.secret ? [c.secret] : []));
    const message = buildMessage(event, secrets);
    const targets = this.channels.filter((c) => c.config.on.includes(event.kind));
    return Promise.all(
      targets.map(async (c): Promise<Delivery> => {
        let last = '';
        for (let attempt = 1; attempt <= 2; attempt++) {
          try {
            if (c.config.type === 'email') await sendEmail(c.config, c.secret, c.ca, message, this.attemptTimeoutMs);
            else await sendWebhook(c.config, c.secret ?? '', message, this.attemptTimeoutMs);
            return { channel: c.label, ok: true, attempts: attempt };
          } catch (e) {
            last = scrub(e instanceof Error ? e.message : String(e), secrets);
            if (attempt === 1) await new Promise((r) => setTimeout(r, this.retryDelayMs));
          }
        }
        return { channel: c.label, ok: false, attempts: 2, error: last };
      }),
    );
  }
}
