import { describe, expect, it } from 'vitest';
import { LifeboatError } from '../../electron/engine/errors';
import { redactText } from '../../electron/engine/log/redact';
import { azureOptionsFromEnv, createBlobServiceClient, resolveAzure } from '../../electron/engine/storage/azure-client';
import { azureFailure, parseAzureUrl } from '../../electron/engine/storage/azure-medium';
import { azureSecretKind } from '../../electron/engine/storage/azure-secret';

const KEY = Buffer.alloc(64, 7).toString('base64');
const SIG = 'Zm9vYmFyQ2FuYXJ5U2lnbmF0dXJl%2B%2F%3D';
const SAS = `sv=2025-01-05&ss=b&srt=sco&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=${SIG}`;

describe('azure:// locations', () => {
  it('takes a container and a prefix, and refuses what Azure would', () => {
    expect(parseAzureUrl('azure://dr-backups/prod/eu/')).toEqual({ container: 'dr-backups', prefix: 'prod/eu' });
    expect(parseAzureUrl('azure://abc')).toEqual({ container: 'abc', prefix: '' });
    expect(parseAzureUrl('azure://abc/a b/c#d?e=1/ü+é')).toEqual({ container: 'abc', prefix: 'a b/c#d?e=1/ü+é' });
    for (const bad of [
      'azure://ab',
      'azure://Upper',
      'azure://a--b',
      'azure://-ab',
      's3://abc',
      'azure:///x',
      // The URL's path is normalised before it is sent: these would reach the container "victim".
      'azure://abc/../victim',
      'azure://abc/x/../../victim',
      'azure://abc/..\\victim',
      'azure://abc/./x',
      'azure://abc/x//y',
      'azure://abc/x\ny',
    ])
      expect(() => parseAzureUrl(bad), bad).toThrow(/Not an Azure Blob location/);
  });
});

describe('Azure credentials', () => {
  it('from the variables: account and key, the public endpoint by default', () => {
    const o = azureOptionsFromEnv({ AZURE_STORAGE_ACCOUNT: 'drbackups', AZURE_STORAGE_KEY: KEY });
    expect(resolveAzure(o)).toEqual({
      account: 'drbackups',
      serviceUrl: 'https://drbackups.blob.core.windows.net',
      key: KEY,
      sasToken: null,
    });
  });

  it('a SAS token (with or without its ?) and an endpoint override (a sovereign cloud)', () => {
    const r = resolveAzure({
      account: 'gov1',
      sasToken: `?${SAS}`,
      endpoint: 'https://gov1.blob.core.usgovcloudapi.net/',
    });
    expect(r).toEqual({
      account: 'gov1',
      serviceUrl: 'https://gov1.blob.core.usgovcloudapi.net',
      key: null,
      sasToken: SAS,
    });
  });

  it('a connection string: its account, key and endpoint; the emulator shortcut', () => {
    expect(
      resolveAzure({
        connectionString: `DefaultEndpointsProtocol=https;AccountName=prodbk;AccountKey=${KEY};EndpointSuffix=core.chinacloudapi.cn`,
      }),
    ).toMatchObject({ account: 'prodbk', key: KEY, serviceUrl: 'https://prodbk.blob.core.chinacloudapi.cn' });
    expect(resolveAzure({ connectionString: 'UseDevelopmentStorage=true' })).toMatchObject({
      account: 'devstoreaccount1',
      serviceUrl: 'http://127.0.0.1:10000/devstoreaccount1',
    });
    // The account is read from an emulator's path when no name is given.
    expect(resolveAzure({ key: KEY, endpoint: 'http://127.0.0.1:10000/devstoreaccount1' }).account).toBe(
      'devstoreaccount1',
    );
  });

  it('clear errors for what is missing or malformed, none echoing a secret', () => {
    const cases: Array<[Parameters<typeof resolveAzure>[0], RegExp]> = [
      [{}, /No Azure storage credentials/],
      [{ key: KEY }, /No Azure storage account name/],
      [{ account: 'Bad_Name', key: KEY }, /Not an Azure storage account name/],
      [{ account: 'acct', key: KEY, endpoint: `https://acct.blob.core.windows.net?${SAS}` }, /without a query/],
      [{ connectionString: 'AccountName=acct;EndpointSuffix=core.windows.net' }, /neither an AccountKey/],
    ];
    for (const [o, message] of cases) {
      let caught: unknown;
      try {
        resolveAzure(o);
      } catch (e) {
        caught = e;
      }
      expect(caught, String(message)).toBeInstanceOf(LifeboatError);
      const err = caught as LifeboatError;
      expect(err.message).toMatch(message);
      expect(`${err.message} ${err.hint ?? ''}`).not.toContain(SIG);
      expect(`${err.message} ${err.hint ?? ''}`).not.toContain(KEY);
    }
  });

  it('tells a stored secret by its form', () => {
    expect(azureSecretKind(KEY)).toBe('key');
    expect(azureSecretKind(SAS)).toBe('sasToken');
    expect(azureSecretKind(`?${SAS}`)).toBe('sasToken');
    expect(azureSecretKind(`DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${KEY}`)).toBe('connectionString');
    expect(azureSecretKind(`BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=${SAS}`)).toBe(
      'connectionString',
    );
  });
});

describe('Azure errors', () => {
  it("keep the operator's meaning and never the SAS of the request URL", () => {
    const sdkError = Object.assign(new Error(`connect ECONNREFUSED at https://a.blob.core.windows.net/c/x?${SAS}`), {
      name: 'RestError',
      code: 'ECONNREFUSED',
      request: { url: `https://a.blob.core.windows.net/c/x?${SAS}` },
    });
    const e = azureFailure(sdkError, 'upload of db.dump');
    expect(e.code).toBe('STORAGE_UNREACHABLE');
    expect(e.message).toMatch(/^Azure upload of db\.dump: Could not reach the server/);
    expect(e.cause).toBeUndefined(); // the SDK's error (with its request) is not kept
    expect(JSON.stringify({ m: e.message, h: e.hint })).not.toContain(SIG);
    const denied = azureFailure(
      Object.assign(new Error('Server failed to authenticate the request.'), {
        statusCode: 403,
        code: 'AuthenticationFailed',
      }),
      'listing',
    );
    expect(denied.code).toBe('STORAGE_ACCESS_DENIED');
    expect(
      azureFailure(Object.assign(new Error('x'), { statusCode: 404, code: 'ContainerNotFound' }), 'listing').message,
    ).toMatch(/container does not exist/);
    const other = azureFailure(
      Object.assign(new Error(`odd ?${SAS}\nsecond line`), { statusCode: 400, code: 'InvalidQueryParameterValue' }),
      'read of x',
    );
    expect(other.code).toBe('STORAGE_ERROR');
    expect(other.message).not.toContain(SIG);
    expect(other.message).not.toContain('second line');
  });

  it('the redaction safety net masks SAS signatures and account keys in free text', () => {
    const text = redactText(
      `GET https://a.blob.core.windows.net/c?${SAS} with AccountKey=${KEY}; AZURE_STORAGE_KEY=${KEY}`,
    );
    expect(text).not.toContain(SIG);
    expect(text).not.toContain(KEY);
    expect(text).toContain('sp=rl'); // the rest of the query stays readable
  });
});

describe('a mistyped account key', () => {
  it('is refused as not a base64 key before any request', () => {
    for (const key of ['notbase64!!', `${KEY.slice(0, -2)}`, 'abc def=='])
      expect(() => createBlobServiceClient({ account: 'drbackups', key }), key).toThrow(/not a base64 key/);
    expect(() => createBlobServiceClient({ account: 'drbackups', key: KEY })).not.toThrow();
  });
});
