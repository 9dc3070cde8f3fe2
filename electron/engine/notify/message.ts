import { redactText } from '../log/redact';
import type { NotifyEventKind } from './config';

/** What happened, told once for every channel. Built by the front door that ran the command. */
export interface NotifyEvent {
  kind: NotifyEventKind;
  /** The command as the operator knows it: `backup pg`, `wal-push`, `verify`, `check`. */
  command: string;
  system: string | null;
  /** The set written (success) or concerned, when there is one. */
  setId: string | null;
  host: string;
  /** The media (or the verified target) the command worked on. */
  media: string[];
  /** The coded error of a failure. */
  error: { code: string; message: string; hint?: string } | null;
  /** One line on the outcome: "backup of db written: 1.2 MB → 300 kB", "2 of 5 sets failed", "CRITICAL: age=…". */
  summary: string;
  /** The command to run again, as given (passwords in URLs redacted). */
  rerun: string;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
}

export interface NotifyMessage {
  subject: string;
  text: string;
  /** Slack-compatible webhook body: `text` for every receiver, `blocks` for Slack's layout. */
  webhook: { text: string; blocks: Array<Record<string, unknown>> };
}

const WORD: Record<NotifyEventKind, string> = {
  failure: 'FAILED',
  success: 'succeeded',
  'check-not-ok': 'NOT OK',
  suspicious: 'wrote a SUSPICIOUS set (ransomware indicator)',
};

/**
 * Slack refuses a whole message (HTTP 400 invalid_blocks) when a section's text passes 3000 characters or a
 * field's 2000: a huge error (a tool's stderr) would make the failure notification undeliverable. Each part is
 * cut to fit, saying so; the mail keeps up to MAIL_PART of each part.
 */
const SLACK_SECTION = 3000;
const SLACK_FIELD = 2000;
const MAIL_PART = 20_000;

/** `text` cut to `max` characters at most, the cut said; an HTML entity (the webhook's escaping) is never cut in half. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = (n: number): string => ` … (${n} more characters cut)`;
  const keep = text.slice(0, max - note(text.length).length).replace(/&[a-z]*$/, '');
  return `${keep}${note(text.length - keep.length)}`;
}

/** Remove every secret value (the resolved passwords and URLs) and secret-looking text. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = redactText(text);
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/** Plain text for mail, Slack-compatible JSON for webhooks; no secret survives (`secrets` are scrubbed too). */
export function buildMessage(raw: NotifyEvent, secrets: readonly string[] = []): NotifyMessage {
  // Scrubbed before cut: a secret cut in half would no longer be found.
  const clean = (t: string): string => clip(scrub(t, secrets), MAIL_PART);
  const event: NotifyEvent = {
    ...raw,
    command: clean(raw.command),
    system: raw.system === null ? null : clean(raw.system),
    setId: raw.setId === null ? null : clean(raw.setId),
    host: clean(raw.host),
    media: raw.media.map(clean),
    error: raw.error
      ? {
          code: raw.error.code,
          message: clean(raw.error.message),
          ...(raw.error.hint ? { hint: clean(raw.error.hint) } : {}),
        }
      : null,
    summary: clean(raw.summary),
    rerun: clean(raw.rerun),
  };
  const what = `lifeboat ${event.command}${event.system ? ` of ${event.system}` : ''}`;
  const subject = scrub(`[lifeboat] ${what} ${WORD[event.kind]} on ${event.host}`, secrets);
  const rows: Array<[string, string]> = [
    ['Command', `lifeboat ${event.command}`],
    ['System', event.system ?? '—'],
    ...(event.setId ? ([['Set', event.setId]] as Array<[string, string]>) : []),
    ['Host', event.host],
    ['Media', event.media.length ? event.media.join(', ') : '—'],
    ['Exit code', String(event.exitCode)],
    ['Started', event.startedAt],
    ['Finished', event.finishedAt],
  ];
  const lines = [`${what} ${WORD[event.kind]} on ${event.host}.`, '', event.summary, ''];
  for (const [k, v] of rows) lines.push(`${`${k}:`.padEnd(11)}${v}`);
  if (event.error) {
    lines.push('', `Error:     ${event.error.code}`, `           ${event.error.message}`);
    if (event.error.hint) lines.push(`Hint:      ${event.error.hint}`);
  }
  if (event.kind !== 'success') lines.push('', 'To run it again:', `  ${event.rerun}`);
  lines.push('', '-- ', 'Sent by lifeboat (docs/notifications.md).');
  const text = scrub(lines.join('\n'), secrets);

  // Slack reads <…> as links and mentions and & as an entity: the three are escaped, as its docs ask.
  const esc = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const fields = rows.map(([k, v]) => ({ type: 'mrkdwn', text: clip(`*${k}*\n${esc(v)}`, SLACK_FIELD) }));
  const blocks: Array<Record<string, unknown>> = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: clip(`*${esc(subject.replace(/^\[lifeboat\] /, ''))}*\n${esc(event.summary)}`, SLACK_SECTION),
      },
    },
    // Slack allows 10 fields a section.
    { type: 'section', fields: fields.slice(0, 10) },
  ];
  if (event.error)
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: clip(
          `*${event.error.code}*: ${esc(event.error.message)}${event.error.hint ? `\n_Hint:_ ${esc(event.error.hint)}` : ''}`,
          SLACK_SECTION,
        ),
      },
    });
  if (event.kind !== 'success')
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `To run it again:\n\`\`\`${clip(esc(event.rerun), SLACK_SECTION - 30)}\`\`\`` },
    });
  const webhook = JSON.parse(
    scrub(JSON.stringify({ text: clip(esc(`${subject}\n${event.summary}`), SLACK_SECTION), blocks }), secrets),
  ) as {
    text: string;
    blocks: Array<Record<string, unknown>>;
  };
  return { subject, text, webhook };
}
