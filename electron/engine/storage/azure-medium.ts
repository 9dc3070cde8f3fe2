import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { hostname } from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import { LifeboatError } from '../errors';
import { MEDIUM_FILE, parseMediumInfo, type MediumInfo } from '../format/medium';
import { assertSafeRelativePath } from '../format/names';
import { redactText } from '../log/redact';
import {
  completeSets,
  PARTIAL_MARKER,
  removeAbandonedPartials,
  setFoldersOf,
  type ArtifactSink,
  type ListedObject,
  type ListedFile,
  type ListFilesOptions,
  type ListedSet,
  type ListedSetFolder,
  type Medium,
  type ObjectStat,
  type PartialOwner,
  type SetWriter,
} from './medium';
import { createBlobServiceClient, type AzureOptions } from './azure-client';

/** Block size of staged uploads; at most BLOCKS_IN_FLIGHT + 1 of them are in memory per artifact. */
const BLOCK_SIZE = 8 * 1024 * 1024;
const BLOCKS_IN_FLIGHT = 2;

export function parseAzureUrl(url: string): { container: string; prefix: string } {
  const m = /^azure:\/\/([a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m)
    throw new LifeboatError('BAD_INPUT', `Not an Azure Blob location: ${url}`, {
      hint: 'Use azure://container or azure://container/prefix (container names: 3-63 lower-case letters, digits and single hyphens).',
    });
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  // A URL's path is normalised before it is sent ("c/../other" is the container "other", a
  // backslash is a slash): such a prefix would write, list and prune outside its container.
  if (
    prefix &&
    prefix
      .split('/')
      .some(
        (seg) =>
          seg === '' ||
          seg === '.' ||
          seg === '..' ||
          seg.includes('\\') ||
          [...seg].some((ch) => ch < ' ' || ch === '\x7f'),
      )
  )
    throw new LifeboatError('BAD_INPUT', `Not an Azure Blob location: ${url}`, {
      hint: 'The prefix is a folder path inside the container: no empty, "." or ".." parts, no backslashes or control characters.',
    });
  return { container: m[1]!, prefix };
}

interface RestLike {
  name?: string;
  code?: string;
  statusCode?: number;
  message?: string;
  details?: { errorCode?: string };
}

/** The storage service's error code (BlobNotFound, AuthenticationFailed...) or the network's (ECONNREFUSED...). */
function errorCode(e: unknown): string {
  const r = (e ?? {}) as RestLike;
  return r.details?.errorCode ?? r.code ?? '';
}

function isNotFound(e: unknown): boolean {
  const r = (e ?? {}) as RestLike;
  const code = errorCode(e);
  return code !== 'ContainerNotFound' && (code === 'BlobNotFound' || r.statusCode === 404);
}

/**
 * An Azure failure as an operator's error. The SDK's errors carry the request (its URL holds a
 * SAS token when one is used) and the server's text: only the redacted first line of the message
 * is kept, and no cause (a log printing the cause would print the URL).
 */
export function azureFailure(e: unknown, what: string): LifeboatError {
  if (e instanceof LifeboatError) return e;
  const r = (e ?? {}) as RestLike;
  const code = errorCode(e);
  const status = r.statusCode;
  const text = redactText(
    String(r.message ?? e)
      .split('\n')[0]!
      .replace(/https?:\/\/\S+/g, '<url>'),
  ).slice(0, 300);
  if (r.name === 'AbortError') return new LifeboatError('CANCELLED', 'Cancelled.');
  if (code === 'ContainerNotFound')
    return new LifeboatError('STORAGE_UNREACHABLE', `Azure ${what}: the container does not exist.`, {
      hint: 'Check the container name and the storage account (create the container first: Lifeboat does not).',
    });
  if (
    status === 403 ||
    code === 'AuthenticationFailed' ||
    code === 'AuthorizationFailure' ||
    /^AuthorizationPermissionMismatch|^AuthorizationResourceTypeMismatch/.test(code)
  )
    return new LifeboatError('STORAGE_ACCESS_DENIED', `Azure ${what}: access denied (${code || 'HTTP 403'}).`, {
      hint: 'Check the account name and key, or the SAS token (its permissions, services, resource types and expiry).',
    });
  if (
    /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|REQUEST_SEND_ERROR|ESOCKETTIMEDOUT)$/.test(
      code,
    ) ||
    /socket hang up|timed? ?out|ECONNRESET|ECONNREFUSED/i.test(text)
  )
    return new LifeboatError('STORAGE_UNREACHABLE', `Azure ${what}: Could not reach the server (${code || text}).`, {
      hint: 'Check the network path to the storage account (or its endpoint); retries were bounded. On a slow link, allow more time per request with LIFEBOAT_AZURE_TRY_TIMEOUT=<seconds> (default 120).',
    });
  // The SDK's resumed download gave up: the connection kept dropping or going silent mid-body.
  // Not the stored bytes' fault (the SDK's words say "corruption"): the server is out of reach.
  if (/^Data corruption failure: received less data than required/i.test(text))
    return new LifeboatError(
      'STORAGE_UNREACHABLE',
      `Azure ${what}: the connection dropped mid-read again after every resume (retries were bounded).`,
      { hint: 'Check the network path to the storage account (or its endpoint), then run it again.' },
    );
  if (status !== undefined && status >= 500)
    return new LifeboatError('STORAGE_UNREACHABLE', `Azure ${what}: the service answered HTTP ${status} (${code}).`);
  return new LifeboatError('STORAGE_ERROR', `Azure ${what} failed: ${code ? `${code}: ` : ''}${text}`);
}

export class AzureMedium implements Medium {
  readonly kind = 'azure' as const;
  readonly location: string;
  readonly container: string;
  readonly prefix: string;
  readonly service: BlobServiceClient;
  private readonly client: ContainerClient;

  constructor(url: string, options: AzureOptions) {
    const { container, prefix } = parseAzureUrl(url);
    this.container = container;
    this.prefix = prefix;
    this.location = `azure://${container}${prefix ? `/${prefix}` : ''}`;
    this.service = createBlobServiceClient(options);
    this.client = this.service.getContainerClient(container);
  }

  private key(rel: string): string {
    assertSafeRelativePath(rel);
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  private rel(key: string): string {
    return this.prefix ? key.slice(this.prefix.length + 1) : key;
  }

  private blob(rel: string) {
    return this.client.getBlockBlobClient(this.key(rel));
  }

  async readInfo(): Promise<MediumInfo | null> {
    const bytes = await this.readOptional(MEDIUM_FILE);
    return bytes ? parseMediumInfo(bytes) : null;
  }

  async writeInfo(info: MediumInfo): Promise<void> {
    try {
      // Only if absent, in the same request: two inits at once cannot both win.
      await this.blob(MEDIUM_FILE).upload(Buffer.from(`${JSON.stringify(info, null, 2)}\n`), 0, {
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
    } catch (e) {
      const code = errorCode(e);
      if (code === 'BlobAlreadyExists' || (e as RestLike).statusCode === 409)
        throw new LifeboatError('ALREADY_EXISTS', `${this.location} is already a Lifeboat medium.`);
      throw azureFailure(e, `write of ${MEDIUM_FILE}`);
    }
  }

  putFile(rel: string, bytes: Buffer): Promise<void> {
    return this.put(rel, bytes);
  }

  /** One Put Blob: the object appears whole or not at all. */
  private async put(rel: string, bytes: Buffer): Promise<void> {
    try {
      await this.blob(rel).upload(bytes, bytes.length);
    } catch (e) {
      throw azureFailure(e, `write of ${rel}`);
    }
  }

  async beginSet(system: string, setId: string): Promise<SetWriter> {
    const setPath = `sets/${system}/${setId}`;
    if (await this.stat(`${setPath}/manifest.json`))
      throw new LifeboatError('ALREADY_EXISTS', `A set ${setPath} already exists on ${this.location}.`);
    const owner: PartialOwner = { pid: process.pid, host: hostname(), started_at: new Date().toISOString() };
    await this.put(`${setPath}/${PARTIAL_MARKER}`, Buffer.from(JSON.stringify(owner)));
    const aborts: AbortController[] = [];
    const sinks: ArtifactSink[] = [];
    return {
      setPath,
      openArtifact: (name) => {
        assertSafeRelativePath(name, 'artifact name');
        const body = new PassThrough({ highWaterMark: 1024 * 1024 });
        const abort = new AbortController();
        aborts.push(abort);
        // Staged blocks, committed as a block list at the end: memory stays at a few blocks
        // whatever the artifact's size, and the blob exists only once the list is committed.
        const upload = this.blob(`${setPath}/${name}`).uploadStream(body, BLOCK_SIZE, BLOCKS_IN_FLIGHT, {
          abortSignal: abort.signal,
        });
        const done = upload.then(
          () => undefined,
          (e: unknown) => {
            // The uploader stops reading on a failure: the writer's next write must fail, not wait.
            body.destroy();
            throw azureFailure(e, `upload of ${name}`);
          },
        );
        done.catch(() => undefined);
        const sink = { stream: body, done };
        sinks.push(sink);
        return sink;
      },
      commit: async (files) => {
        await Promise.all(sinks.map((s) => s.done));
        // manifest.json is last in `files`: once it exists, the set exists.
        for (const f of files) await this.put(`${setPath}/${f.name}`, f.bytes);
        await this.deleteKeys([this.key(`${setPath}/${PARTIAL_MARKER}`)]);
      },
      abort: async (cause) => {
        for (const a of aborts) a.abort();
        await Promise.allSettled(sinks.map((s) => s.done));
        // Out of reach: deleting would only wait out the retries again. The marker stays, no
        // reader takes this for a set, and the next backup to this medium removes it.
        if (cause instanceof LifeboatError && cause.code === 'STORAGE_UNREACHABLE') return;
        await this.deletePrefix(`${setPath}/`);
      },
    };
  }

  /** Every blob under a prefix, page by page (the service returns at most 5000 a page). */
  private async listKeys(
    relPrefix: string,
  ): Promise<Array<{ key: string; size: number; mtimeMs: number; etag: string | null }>> {
    const out: Array<{ key: string; size: number; mtimeMs: number; etag: string | null }> = [];
    try {
      const prefix = this.prefix ? `${this.prefix}/${relPrefix}` : relPrefix;
      for await (const page of this.client.listBlobsFlat({ prefix }).byPage({ maxPageSize: 5000 })) {
        for (const b of page.segment.blobItems)
          out.push({
            key: b.name,
            size: b.properties.contentLength ?? 0,
            mtimeMs: b.properties.lastModified?.getTime() ?? 0,
            etag: b.properties.etag ?? null,
          });
      }
    } catch (e) {
      throw azureFailure(e, 'listing');
    }
    return out;
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    // A few at a time: Azure has a batch API, but emulators and SAS tokens do not all take it.
    for (let i = 0; i < keys.length; i += 8) {
      await Promise.all(
        keys.slice(i, i + 8).map(async (k) => {
          try {
            await this.client.getBlobClient(k).deleteIfExists();
          } catch (e) {
            throw azureFailure(e, 'delete');
          }
        }),
      );
    }
  }

  private async deletePrefix(relPrefix: string): Promise<void> {
    await this.deleteKeys((await this.listKeys(relPrefix)).map((o) => o.key));
  }

  async listSets(): Promise<ListedSet[]> {
    return completeSets(await this.listSetFolders());
  }

  private async setObjects(): Promise<ListedObject[]> {
    return (await this.listKeys('sets/')).map(({ key, ...o }) => ({ rel: this.rel(key), ...o }));
  }

  async listSetFolders(): Promise<ListedSetFolder[]> {
    return setFoldersOf(await this.setObjects());
  }

  /** One folder level: its blobs and sub-folders, all pages. */
  private async level(fullPrefix: string): Promise<{ files: ListedFile[]; folders: string[] }> {
    const files: ListedFile[] = [];
    const folders: string[] = [];
    try {
      for await (const page of this.client
        .listBlobsByHierarchy('/', { prefix: fullPrefix })
        .byPage({ maxPageSize: 5000 })) {
        for (const p of page.segment.blobPrefixes ?? []) folders.push(this.rel(p.name));
        for (const b of page.segment.blobItems)
          files.push({
            path: this.rel(b.name),
            size: b.properties.contentLength ?? 0,
            mtimeMs: b.properties.lastModified?.getTime() ?? 0,
            etag: b.properties.etag ?? null,
          });
      }
    } catch (e) {
      throw azureFailure(e, 'listing');
    }
    return { files, folders };
  }

  async listFiles(prefix: string, options: ListFilesOptions = {}): Promise<ListedFile[]> {
    const limit = options.limit ?? 100_000;
    const maxDepth = options.maxDepth ?? 8;
    const out: ListedFile[] = [];
    // Folder by folder with a delimiter, so huge trees under skipped prefixes are never listed.
    const walk = async (relPrefix: string, depth: number): Promise<void> => {
      const { files, folders } = await this.level(this.prefix ? `${this.prefix}/${relPrefix}` : relPrefix);
      for (const f of files) {
        if (f.path.split('/').pop()!.startsWith('.')) continue;
        out.push(f);
        if (out.length >= limit) return;
      }
      for (const rel of folders) {
        const name = rel.replace(/\/$/, '').split('/').pop()!;
        if (name.startsWith('.') || (depth === 0 && options.skip?.includes(name))) continue;
        if (depth < maxDepth) await walk(rel, depth + 1);
        else options.onDeeper?.(rel.replace(/\/$/, ''));
        if (out.length >= limit) return;
      }
    };
    const start = prefix.replace(/\/+$/, '');
    await walk(start ? `${start}/` : '', 0);
    return out;
  }

  async readFile(rel: string): Promise<Buffer> {
    const bytes = await this.readOptional(rel);
    if (bytes === null) throw new LifeboatError('NOT_FOUND', `Not on the medium: ${rel}`);
    return bytes;
  }

  async readOptional(rel: string): Promise<Buffer | null> {
    try {
      return await this.blob(rel).downloadToBuffer();
    } catch (e) {
      if (isNotFound(e)) return null;
      throw azureFailure(e, `read of ${rel}`);
    }
  }

  async openRead(rel: string): Promise<Readable> {
    let body: NodeJS.ReadableStream | undefined;
    try {
      // A dropped connection is resumed where it stopped, a bounded number of times.
      body = (await this.blob(rel).download(0, undefined, { maxRetryRequests: 3 })).readableStreamBody;
    } catch (e) {
      if (isNotFound(e)) throw new LifeboatError('NOT_FOUND', `Not on the medium: ${rel}`);
      throw azureFailure(e, `read of ${rel}`);
    }
    if (!body) return Readable.from([]);
    // Errors of the stream (the server lost mid-read) reach readers as operator's errors too.
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    body.on('error', (e) => out.destroy(azureFailure(e, `read of ${rel}`)));
    body.pipe(out);
    return out;
  }

  async stat(rel: string): Promise<ObjectStat | null> {
    try {
      const p = await this.blob(rel).getProperties();
      return { size: p.contentLength ?? 0, mtimeMs: p.lastModified?.getTime() ?? 0, etag: p.etag ?? null };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw azureFailure(e, `stat of ${rel}`);
    }
  }

  async listNamed(dir: string, namePrefix: string): Promise<ListedFile[]> {
    return (await this.level(this.key(`${dir}/${namePrefix}`))).files;
  }

  async removeFile(rel: string): Promise<void> {
    await this.deleteKeys([this.key(rel)]);
  }

  async removeSet(setPath: string): Promise<void> {
    await this.deleteKeys([this.key(`${setPath}/manifest.json`)]);
    await this.deletePrefix(`${setPath}/`);
  }

  async cleanupPartials(): Promise<string[]> {
    return removeAbandonedPartials(
      await this.setObjects(),
      (rel) => this.readFile(rel),
      (prefix) => this.deletePrefix(prefix),
    );
  }

  localPath(): string | null {
    return null;
  }
}
