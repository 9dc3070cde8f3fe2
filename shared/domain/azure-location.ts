/**
 * The shapes an azure:// medium's settings must have, without a schema library (as s3-location.ts):
 * the engine checks settings.json with these and the IPC contract checks the app's input.
 */
export const AZURE_LOCATION = /^azure:\/\/[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9](\/.*)?$/;
export const AZURE_LOCATION_WHAT = 'azure://container or azure://container/prefix';
/** An azure:<name> keychain reference; empty means the AZURE_STORAGE_* variables. */
export const AZURE_CREDENTIAL_REF = /^(azure:[A-Za-z0-9._-]{1,120})?$/;
/** A storage account name: 3 to 24 lower-case letters and digits. */
export const AZURE_ACCOUNT = /^[a-z0-9]{3,24}$/;
