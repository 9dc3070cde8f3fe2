import type { AzureOptions } from './azure-client';
// Apart from azure-client.ts so that reading a saved secret does not load the Azure SDK.

/** What a stored Azure secret is, by its form: a connection string, a SAS token (holds sig=), or an account key. */
export function azureSecretKind(secret: string): 'connectionString' | 'sasToken' | 'key' {
  const s = secret.trim();
  if (/(^|;)\s*(AccountName|UseDevelopmentStorage|DefaultEndpointsProtocol|BlobEndpoint)=/i.test(s))
    return 'connectionString';
  if (/(^|[?&])sig=/.test(s)) return 'sasToken';
  return 'key';
}

export function azureSecretOptions(secret: string): AzureOptions {
  const kind = azureSecretKind(secret);
  return { [kind]: secret.trim() };
}
