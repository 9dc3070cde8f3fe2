import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export interface S3Options {
  /** A custom endpoint (MinIO, Ceph, s3rver...). Absent means AWS itself. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * S3 client settings. For custom endpoints the SDK's default flexible checksums are turned
 * off: streamed PutObject would otherwise use aws-chunked encoding that some S3-compatible
 * servers store verbatim, silently corrupting the object. AWS itself keeps the defaults.
 * Credentials not given here come from the SDK's standard sources (AWS_* variables, profiles).
 */
export function s3ClientConfig(o: S3Options): S3ClientConfig {
  const endpoint = o.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const config: S3ClientConfig = {
    region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
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
