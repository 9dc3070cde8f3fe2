import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export interface S3Options {
  /** A custom endpoint (MinIO, Ceph, s3rver...). Absent means AWS itself. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** How long an S3 connection may stay silent: 60 s (as the AWS CLI), or LIFEBOAT_S3_IDLE_TIMEOUT seconds (slow links, tests). */
export function s3IdleTimeoutMs(): number {
  const s = Number(process.env.LIFEBOAT_S3_IDLE_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 60_000;
}

/** The shared AWS config file's sections: `[default]`, `[profile x]`, `[services y]`; sub-keys (`s3 =` then indented lines) as `s3.endpoint_url`. */
export function parseAwsConfig(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  let parent: string | null = null;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*([#;].*)?$/.test(raw)) continue;
    const section = /^\s*\[\s*([^\]]+?)\s*\]/.exec(raw);
    if (section) {
      current = new Map();
      sections.set(section[1]!.replace(/\s+/g, ' '), current);
      parent = null;
      continue;
    }
    const kv = /^(\s*)([^=\s]+)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!kv || !current) continue;
    const [, indent, key, value] = kv;
    if (indent && parent) current.set(`${parent}.${key!}`, value!);
    else if (value === '') parent = key!;
    else {
      parent = null;
      current.set(key!, value!);
    }
  }
  return sections;
}

/** The active profile of the shared config file (AWS_CONFIG_FILE or ~/.aws/config; AWS_PROFILE or default), with the file's sections. */
function activeProfile(
  env: NodeJS.ProcessEnv,
): { profile: Map<string, string>; sections: Map<string, Map<string, string>> } | undefined {
  let text: string;
  try {
    text = readFileSync(env.AWS_CONFIG_FILE || join(homedir(), '.aws', 'config'), 'utf8');
  } catch {
    return undefined;
  }
  const name = env.AWS_PROFILE || 'default';
  const sections = parseAwsConfig(text);
  const profile =
    sections.get(name === 'default' ? 'default' : `profile ${name}`) ??
    (name === 'default' ? sections.get('profile default') : undefined);
  return profile ? { profile, sections } : undefined;
}

/**
 * The endpoint the SDK would take from the shared config file: the profile's `services` section's
 * `s3.endpoint_url`, else the profile's `endpoint_url`. It is resolved here so that it gets the
 * same settings as any other custom endpoint (left to the SDK, a host name endpoint was addressed
 * virtual-host style, bucket.host: ENOTFOUND).
 */
export function profileS3Endpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const active = activeProfile(env);
  if (!active) return undefined;
  const services = active.profile.get('services');
  const fromServices = services ? active.sections.get(`services ${services}`)?.get('s3.endpoint_url') : undefined;
  return fromServices || active.profile.get('endpoint_url') || undefined;
}

/** Every source of a custom endpoint, in the SDK's order: the medium's own settings, the environment, the shared config profile. */
export function resolveS3Endpoint(o: S3Options, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (o.endpoint) return o.endpoint;
  if (/^true$/i.test(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '')) return undefined;
  return env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || profileS3Endpoint(env);
}

/**
 * Google Cloud Storage's XML API (storage.googleapis.com, or a bucket's virtual host under it):
 * reached as an S3-compatible endpoint with HMAC keys (docs/media.md says what it needs).
 */
export function isGcsEndpoint(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    return /(^|\.)storage\.googleapis\.com$/i.test(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}

/**
 * S3 client settings, built in this one place whatever the endpoint's source. For custom
 * endpoints the SDK's default flexible checksums are turned off: streamed PutObject would
 * otherwise use aws-chunked encoding that some S3-compatible servers store verbatim, silently
 * corrupting the object; and addressing is path-style (a host name endpoint has no per-bucket
 * DNS names). AWS itself keeps the defaults. Credentials not given here come from the SDK's
 * standard sources (AWS_* variables, profiles). GCS gets the same, and the region `auto` when none
 * is given (its V4 signatures name no AWS region).
 */
export function s3ClientConfig(o: S3Options, env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = resolveS3Endpoint(o, env);
  const idleMs = s3IdleTimeoutMs();
  const config: S3ClientConfig = {
    region:
      o.region ??
      env.AWS_REGION ??
      env.AWS_DEFAULT_REGION ??
      activeProfile(env)?.profile.get('region') ??
      (isGcsEndpoint(endpoint) ? 'auto' : 'us-east-1'),
    // A link that drops packets (no reset, no refusal) would otherwise hang a request, and with
    // it a backup, forever: a connection silent this long fails, and the SDK retries it.
    requestHandler: { connectionTimeout: Math.min(idleMs, 30_000), socketTimeout: idleMs },
  };
  if (o.credentials) config.credentials = o.credentials;
  if (endpoint) {
    config.endpoint = endpoint;
    config.forcePathStyle = o.forcePathStyle ?? true;
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  } else if (o.forcePathStyle !== undefined) {
    config.forcePathStyle = o.forcePathStyle;
  }
  return config;
}

export function createS3Client(o: S3Options): S3Client {
  // The pinned SDK runs on Node 20; its notice about future releases is not for the operator.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client(s3ClientConfig(o));
}
