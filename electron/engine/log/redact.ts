/**
 * Secret redaction for everything that leaves the engine as text: log lines, error messages,
 * reports. Secrets must never be written there in the first place; this is the safety net.
 */

const REDACTED = '[redacted]';

/** Field names whose values are secrets wherever they appear in a structured log record. */
const SECRET_KEY =
  /pass(word|phrase)?|secret|token|api[-_]?key|private[-_]?key|authorization|credential|identity|cookie|session[-_]?key|^pwd$/i;

const TEXT_PATTERNS: Array<[RegExp, string]> = [
  // User info with a password: postgres://user:secret@host, and malformed URLs too
  // (postgres//u:secret@h, postgres:/u:secret@h, u:secret@h). The password runs to the token's last
  // `@` (a raw `/` or `@` in it must not leave a piece behind).
  [/(^|[\s/=("'<,])([^\s:/@"'=<>(),]+):(?!\/)[^\s"'<>]*@/g, `$1$2:${REDACTED}@`],
  // age identities.
  [/AGE-SECRET-KEY-1[0-9A-Z]+/g, REDACTED],
  // PEM private keys (any kind).
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, REDACTED],
  // key=value and key: value forms in free text (connection strings, env dumps, the signature of
  // an Azure SAS token in a URL's query: sig=...).
  [
    /\b(password|passwd|pwd|secret|token|secret_access_key|aws_secret_access_key|PGPASSWORD|AZURE_STORAGE_KEY|AccountKey|SharedAccessSignature)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&]+)/gi,
    `$1$2${REDACTED}`,
  ],
  // An Azure SAS token's signature, in a URL's query or alone: sig=... (only with `=`: the file
  // manifest.json.sig named in a message, "manifest.json.sig: Could not reach", is not a secret).
  [/\bsig=[^\s,;&"'<>]+/gi, `sig=${REDACTED}`],
  // Authorization headers.
  [/\b(authorization\s*:\s*)(\S+\s+)?\S+/gi, `$1${REDACTED}`],
];

export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of TEXT_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Deep copy of a structured value with secret fields masked and strings redacted. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[too deep]';
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value instanceof Error) {
    return { name: value.name, message: redactText(value.message) };
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && v !== '' ? REDACTED : redactValue(v, depth + 1);
    }
    return out;
  }
  return value;
}
