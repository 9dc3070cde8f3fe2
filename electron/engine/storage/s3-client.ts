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

/**
 * S3 client settings. For custom endpoints the SDK's default flexible checksums are turned
 * off: streamed PutObject would otherwise use aws-chunked encoding that some S3-compatible
 * servers store verbatim, silently corrupting the object. AWS itself keeps the defaults.
 * Credentials not given here come from the SDK's standard sources (AWS_* variables, profiles).
 */
export function s3ClientConfig(o: S3Options): S3ClientConfig {
  const endpoint = o.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const idleMs = s3IdleTimeoutMs();
  const config: S3ClientConfig = {
    region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
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
