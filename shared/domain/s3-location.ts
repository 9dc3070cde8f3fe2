/**
 * The shapes an s3:// medium's settings must have, without a schema library: the engine checks
 * settings.json at every command's start and the IPC contract checks the app's input, both with
 * these.
 */
export const S3_LOCATION = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/;
export const S3_LOCATION_WHAT = 's3://bucket or s3://bucket/prefix';
/** An s3:<name> keychain reference; empty means the standard AWS sources (env, profile). */
export const S3_CREDENTIAL_REF = /^(s3:[A-Za-z0-9._-]{1,120})?$/;
