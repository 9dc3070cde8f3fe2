import {
  AnonymousCredential,
  BlobServiceClient,
  newPipeline,
  StorageSharedKeyCredential,
  type Pipeline,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { LifeboatError } from '../errors';

/**
 * How an azure:// medium is reached. Exactly one way of signing in: a connection string, an
 * account key, or a SAS token (each with the account name where it does not carry one).
 */
export interface AzureOptions {
  connectionString?: string;
  account?: string;
  key?: string;
  sasToken?: string;
  /** The blob service's URL (Azurite, sovereign clouds, private endpoints): http(s)://host[:port][/account]. */
  endpoint?: string;
}

/** The well-known emulator account (Azurite's and the old storage emulator's: public, documented by Microsoft). */
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const HINT =
  'Set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN (in the app: add the Azure key on Credentials and choose it for the medium on Media).';

/** `Key=value;Key=value` pairs of a connection string (values may hold `=`: a key, a SAS). */
export function parseConnectionString(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    out.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return out;
}

/** Options from the standard Azure variables, where the medium's saved settings gave none. */
export function azureOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AzureOptions {
  const o: AzureOptions = {};
  if (env.AZURE_STORAGE_CONNECTION_STRING) o.connectionString = env.AZURE_STORAGE_CONNECTION_STRING;
  if (env.AZURE_STORAGE_ACCOUNT) o.account = env.AZURE_STORAGE_ACCOUNT;
  if (env.AZURE_STORAGE_KEY) o.key = env.AZURE_STORAGE_KEY;
  if (env.AZURE_STORAGE_SAS_TOKEN) o.sasToken = env.AZURE_STORAGE_SAS_TOKEN;
  if (env.AZURE_STORAGE_BLOB_ENDPOINT) o.endpoint = env.AZURE_STORAGE_BLOB_ENDPOINT;
  return o;
}

export interface ResolvedAzure {
  account: string;
  /** The service URL without any SAS. */
  serviceUrl: string;
  key: string | null;
  sasToken: string | null;
}

/** Which account, endpoint and secret a medium uses; clear errors for what is missing or malformed. */
export function resolveAzure(o: AzureOptions): ResolvedAzure {
  let account = o.account?.trim() || '';
  let key = o.key?.trim() || null;
  let sas = o.sasToken?.trim() || null;
  let endpoint = o.endpoint?.trim() || '';
  if (o.connectionString) {
    const cs = parseConnectionString(o.connectionString);
    if (/^true$/i.test(cs.get('usedevelopmentstorage') ?? '')) {
      account = DEV_ACCOUNT;
      key = DEV_KEY;
      endpoint ||= `http://127.0.0.1:10000/${DEV_ACCOUNT}`;
    } else {
      account = cs.get('accountname') || account;
      key = cs.get('accountkey') || key;
      sas = cs.get('sharedaccesssignature') || sas;
      if (!endpoint) {
        const blob = cs.get('blobendpoint');
        const suffix = cs.get('endpointsuffix');
        const protocol = cs.get('defaultendpointsprotocol') || 'https';
        if (blob) endpoint = blob;
        else if (suffix && account) endpoint = `${protocol}://${account}.blob.${suffix}`;
      }
    }
    if (!key && !sas)
      throw new LifeboatError(
        'BAD_INPUT',
        'The Azure connection string holds neither an AccountKey nor a SharedAccessSignature.',
        {
          hint: 'Copy the whole connection string from the storage account (Access keys), or give AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY.',
        },
      );
  }
  if (sas) sas = sas.replace(/^\?/, '');
  if (!key && !sas)
    throw new LifeboatError('CREDENTIAL_UNAVAILABLE', 'No Azure storage credentials were found for this medium.', {
      hint: HINT,
    });
  if (endpoint && !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(endpoint))
    throw new LifeboatError('BAD_INPUT', 'The Azure blob endpoint must be an http(s) URL without a query.', {
      hint: 'Like https://myaccount.blob.core.usgovcloudapi.net or http://127.0.0.1:10000/devstoreaccount1 (Azurite).',
    });
  if (!account && endpoint) {
    // The account is the host's first label (account.blob.core.windows.net) or, on an emulator, the path.
    const u = new URL(endpoint);
    account = u.pathname.split('/').filter(Boolean)[0] ?? u.hostname.split('.')[0] ?? '';
    if (/^[\d.]+$|^localhost$/.test(account)) account = '';
  }
  if (!account)
    throw new LifeboatError('CREDENTIAL_UNAVAILABLE', 'No Azure storage account name was given for this medium.', {
      hint: HINT,
    });
  if (!/^[a-z0-9]{3,24}$/.test(account))
    throw new LifeboatError('BAD_INPUT', `Not an Azure storage account name: ${account.slice(0, 40)}`, {
      hint: 'Account names are 3 to 24 lower-case letters and digits.',
    });
  const serviceUrl = (endpoint || `https://${account}.blob.core.windows.net`).replace(/\/+$/, '');
  return { account, serviceUrl, key, sasToken: key ? null : sas };
}

/** How long one Azure request may take before it is tried again: LIFEBOAT_AZURE_TRY_TIMEOUT seconds, default 120. */
export function azureTryTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.LIFEBOAT_AZURE_TRY_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 120_000;
}

/** The parts of the SDK's HTTP request and client the try timeout needs (@azure/core-rest-pipeline's). */
interface TimedRequest {
  abortSignal?: AbortSignal;
}
interface TimedResponse {
  readableStreamBody?: NodeJS.ReadableStream;
}
interface HttpClientLike {
  sendRequest(request: TimedRequest): Promise<TimedResponse>;
}

function timedOut(ms: number): Error {
  // A RestError (by name) with ETIMEDOUT: the SDK's retry policy tries it again (it rethrows any
  // other error at once), azureFailure names it "could not reach".
  return Object.assign(new Error(`the request got no answer in ${ms / 1000} s (ETIMEDOUT)`), {
    name: 'RestError',
    code: 'ETIMEDOUT',
  });
}

/**
 * A streamed body, through a PassThrough, that fails with ETIMEDOUT after `ms` of silence while
 * its reader wants more (a body held back by its own reader is not silent), and with the socket's
 * error when the connection drops. Either error, not an AbortError, so that the SDK's download
 * resumes from where it stopped (a bounded number of times) and the failure reads "could not
 * reach", never "cancelled".
 */
function idleGuard(body: NodeJS.ReadableStream, ms: number): NodeJS.ReadableStream {
  const source = body as Readable;
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  let last = Date.now();
  const timer = setInterval(
    () => {
      if (source.readableFlowing !== true) last = Date.now();
      else if (Date.now() - last >= ms) source.destroy(timedOut(ms));
    },
    Math.min(1000, Math.max(50, ms / 4)),
  );
  timer.unref();
  source.on('data', () => {
    last = Date.now();
  });
  pipeline(source, out, () => clearInterval(timer));
  return out;
}

/**
 * The storage SDK's tryTimeoutInMs only asks the *server* to give up (its `timeout` query
 * parameter): a server that stops answering (a hung host, a black-holed network) held a request,
 * and a download's body, forever. Every request of the pipeline's clients gets a client-side limit
 * instead: no answer within `ms` is an ETIMEDOUT (retried, bounded), a streamed body silent for
 * `ms` while read fails the same way (a download then resumes, a bounded number of times).
 */
export function guardRequests(pipeline: Pipeline, ms: number): void {
  const p = pipeline as unknown as { _coreHttpClient?: HttpClientLike };
  const inner = p._coreHttpClient;
  if (!inner) throw new Error('The Azure SDK pipeline has no HTTP client to guard.');
  p._coreHttpClient = {
    async sendRequest(request) {
      const outer = request.abortSignal;
      const ctl = new AbortController();
      let expired = false;
      const onAbort = (): void => ctl.abort();
      if (outer?.aborted) ctl.abort();
      outer?.addEventListener('abort', onAbort);
      const timer = setTimeout(() => {
        expired = true;
        ctl.abort();
      }, ms);
      request.abortSignal = ctl.signal;
      try {
        const response = await inner.sendRequest(request);
        if (response.readableStreamBody) response.readableStreamBody = idleGuard(response.readableStreamBody, ms);
        return response;
      } catch (e) {
        if (expired) throw timedOut(ms);
        throw e;
      } finally {
        clearTimeout(timer);
        outer?.removeEventListener('abort', onAbort);
        request.abortSignal = outer;
      }
    },
  };
}

/**
 * The blob service client. Retries are bounded (3 tries, at most ~6 s of waiting between them,
 * each try at most the try timeout, enforced here: guardRequests): a storage account out of reach
 * fails a backup in seconds, a silent one within a few try timeouts, never waits forever. The
 * SDK's telemetry header and logging stay as they are (nothing leaves but the requests). Only the
 * container and blob clients made from it are guarded (the service client's own requests are not
 * used by Lifeboat).
 */
export function createBlobServiceClient(o: AzureOptions): BlobServiceClient {
  const r = resolveAzure(o);
  const tryMs = azureTryTimeoutMs();
  const options: StoragePipelineOptions = {
    retryOptions: { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 4000, tryTimeoutInMs: tryMs },
  };
  let url = r.serviceUrl;
  let credential: StorageSharedKeyCredential | AnonymousCredential = new AnonymousCredential();
  if (r.key) {
    // The SDK's Buffer.from(key, 'base64') never throws: a mistyped key was sent, and answered
    // "access denied" with no word that the key itself cannot be one.
    if (r.key.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(r.key))
      throw new LifeboatError('BAD_INPUT', 'The Azure storage account key is not a base64 key.', { hint: HINT });
    credential = new StorageSharedKeyCredential(r.account, r.key);
  } else url = `${r.serviceUrl}?${r.sasToken!}`;
  const pipeline = newPipeline(credential, options);
  const service = new BlobServiceClient(url, pipeline);
  guardRequests(pipeline, tryMs);
  return service;
}
