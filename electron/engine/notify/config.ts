import { readFileSync, statSync } from 'node:fs';
import { isMap, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { LifeboatError } from '../errors';
import type { NotifyConfigSource } from './find';

/** The events a channel can be sent: a command failed, it succeeded, `lifeboat check` left OK. */
export const NOTIFY_EVENTS = ['failure', 'success', 'check-not-ok', 'suspicious'] as const;
export type NotifyEventKind = (typeof NOTIFY_EVENTS)[number];

/** A secret is never written in the file: `env:NAME`, `file:/absolute/path` or `keychain:notify:<name>`. */
const SECRET_REF = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/.+|keychain:notify:[A-Za-z0-9._-]{1,120})$/;
const secretRef = z
  .string()
  .regex(
    SECRET_REF,
    'must be a reference, not the secret itself: env:NAME, file:/absolute/path or keychain:notify:<name>',
  );

const on = z.array(z.enum(NOTIFY_EVENTS)).min(1).default(['failure', 'check-not-ok', 'suspicious']);
const name = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,60}$/, 'letters, digits, . _ - (up to 60)')
  .optional();

const EmailChannel = z
  .object({
    type: z.literal('email'),
    name,
    on,
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535).optional(),
    /** implicit: TLS from the first byte (port 465); starttls: upgrade required (587); none: plain (a loopback relay only). */
    tls: z.enum(['implicit', 'starttls', 'none']).default('starttls'),
    from: z.string().min(3).max(320),
    to: z.union([z.string().min(3).max(320), z.array(z.string().min(3).max(320)).min(1)]),
    /** The CA certificate(s) (PEM) of a relay whose certificate a private CA signed; the system's CAs otherwise. */
    ca_file: z.string().regex(/^\//, 'an absolute path to a PEM file').optional(),
    user: z.string().min(1).max(320).optional(),
    password: secretRef.optional(),
  })
  .strict()
  .refine((c) => (c.user === undefined) === (c.password === undefined), {
    message: 'user and password go together (both, or neither for a relay without login)',
    path: ['password'],
  });

const WebhookChannel = z
  .object({
    type: z.literal('webhook'),
    name,
    on,
    /** Slack (and compatible) webhook URLs carry their token in the path: a reference, like a password. */
    url: secretRef,
  })
  .strict();

export const NotifyConfigSchema = z
  .object({
    channels: z.array(z.discriminatedUnion('type', [EmailChannel, WebhookChannel])).min(1),
  })
  .strict();

export type NotifyConfig = z.infer<typeof NotifyConfigSchema>;
export type NotifyChannel = NotifyConfig['channels'][number];
export type EmailChannelConfig = Extract<NotifyChannel, { type: 'email' }>;
export type WebhookChannelConfig = Extract<NotifyChannel, { type: 'webhook' }>;

/** A channel's name in messages: its `name`, else its type and place in the list. */
export function channelLabel(c: NotifyChannel, index: number): string {
  return c.name ?? `${c.type} #${index + 1}`;
}

const MAX_BYTES = 64 * 1024;

function invalid(source: string, problems: string[]): LifeboatError {
  return new LifeboatError('BAD_INPUT', `The notification config ${source} is not valid:\n${problems.join('\n')}`, {
    hint: 'Fix the lines named above (docs/notifications.md describes the file); nothing was run.',
  });
}

/** The line of the deepest node that exists along a path. */
function lineOf(doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: ReadonlyArray<PropertyKey>): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as Array<string | number>, true) as YamlNode | undefined;
    const offset = node && typeof node === 'object' && 'range' in node && node.range ? node.range[0] : undefined;
    if (offset !== undefined) return lines.linePos(offset).line;
  }
  return 1;
}

/** Parse and validate the text of a notification config; every problem comes back at once, each with its line. */
export function parseNotifyConfig(text: string, source: string): NotifyConfig {
  if (Buffer.byteLength(text) > MAX_BYTES) throw invalid(source, [`${source}: larger than 64 KiB`]);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length)
    throw invalid(
      source,
      doc.errors.map((e) => `${source}:${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0] ?? e.message}`),
    );
  if (!isMap(doc.contents)) throw invalid(source, [`${source}:1: the file is a YAML mapping with a channels: list`]);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    throw invalid(source, [`${source}: too many aliases: ${e instanceof Error ? e.message : String(e)}`]);
  }
  const parsed = NotifyConfigSchema.safeParse(data);
  if (!parsed.success)
    throw invalid(
      source,
      parsed.error.issues.flatMap((issue) => {
        const field = issue.path.map(String).join('.') || '(top)';
        // An unknown key (a typo) is named on its own line.
        if (issue.code === 'unrecognized_keys')
          return issue.keys.map(
            (k) => `${source}:${lineOf(doc, lines, [...issue.path, k])}: ${field} — unknown key "${k}"`,
          );
        const message = /received undefined$/.test(issue.message) ? 'required, but missing' : issue.message;
        // "field — message": a "password: …" line would read as a secret to the redaction of errors.
        return [`${source}:${lineOf(doc, lines, issue.path)}: ${field} — ${message}`];
      }),
    );
  return parsed.data;
}

/** Read and validate the config file; a missing or unreadable file named by the operator is an error. */
export function loadNotifyConfig(source: NotifyConfigSource): NotifyConfig {
  const how =
    source.origin === 'flag' ? '--notify-config' : source.origin === 'env' ? 'LIFEBOAT_NOTIFY_CONFIG' : 'the default';
  let text: string;
  try {
    if (statSync(source.path).size > MAX_BYTES) throw invalid(source.path, [`${source.path}: larger than 64 KiB`]);
    text = readFileSync(source.path, 'utf8');
  } catch (e) {
    if (e instanceof LifeboatError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new LifeboatError(
      'BAD_INPUT',
      `The notification config ${source.path} (${how}) cannot be read: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}.`,
      {
        hint: 'Give an existing file, or leave out --notify-config and LIFEBOAT_NOTIFY_CONFIG to run without notifications.',
      },
    );
  }
  return parseNotifyConfig(text, source.path);
}
