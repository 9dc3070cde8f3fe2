import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  RestoreObjectCommand,
  type StorageClass,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { hostname } from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import { LifeboatError, mapError } from '../errors';
import { MEDIUM_FILE, parseMediumInfo, type MediumInfo } from '../format/medium';
import { assertSafeRelativePath } from '../format/names';
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
  type ArchiveInfo,
  type PartialOwner,
  type RestoreRequestState,
  type RestoreTier,
  type SetWriteOptions,
  type SetWriter,
} from './medium';
import { createS3Client, type S3Options } from './s3-client';
import { assertStorageClass, COLD_CLASSES } from './storage-class';

interface ListedKey {
  key: string;
  size: number;
  mtimeMs: number;
  etag: string | null;
  archive?: ArchiveInfo;
}

export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m)
    throw new LifeboatError('BAD_INPUT', `Not an S3 location: ${url}`, {
      hint: 'Use s3://bucket or s3://bucket/prefix.',
    });
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: m[1]!, prefix };
}

/** S3 errors that mean "not there" for a HEAD or GET. */
function isNotFound(e: unknown): boolean {
  const r = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (r.name === 'NoSuchBucket') return false;
  return r.name === 'NotFound' || r.name === 'NoSuchKey' || r.$metadata?.httpStatusCode === 404;
}

/**
 * The archive state of an object from its HEAD: a cold class (or an Intelligent-Tiering archive
 * tier), with `x-amz-restore` saying whether a restore runs (ongoing-request="true") or a copy is
 * readable until its expiry-date. Undefined for an object readable at once.
 */
export function archiveOf(head: {
  StorageClass?: string;
  Restore?: string;
  ArchiveStatus?: string;
}): ArchiveInfo | undefined {
  const cls = head.StorageClass ?? 'STANDARD';
  if (!COLD_CLASSES.has(cls) && !head.ArchiveStatus) return undefined;
  const restore = head.Restore ?? '';
  const storageClass = head.ArchiveStatus ? `${cls} (${head.ArchiveStatus})` : cls;
  if (/ongoing-request\s*=\s*"true"/.test(restore)) return { state: 'restoring', storageClass, until: null };
  if (/ongoing-request\s*=\s*"false"/.test(restore)) {
    const m = /expiry-date\s*=\s*"([^"]+)"/.exec(restore);
    const until = m ? new Date(m[1]!) : null;
    return {
      state: 'restored',
      storageClass,
      until: until && !Number.isNaN(until.getTime()) ? until.toISOString() : null,
    };
  }
  return { state: 'archived', storageClass, until: null };
}

/** What a read of an archived object says (never "corrupted": the bytes are there, asleep). */
export function archivedError(rel: string, cause?: unknown): LifeboatError {
  return new LifeboatError('PRECONDITION_FAILED', `archived: request a restore first (${rel} is in cold storage).`, {
    hint: 'Ask for a readable copy with lifeboat medium restore-request <set> --days N, wait until it says restored (hours), then read the set again.',
    cause,
  });
}

function isArchivedRead(e: unknown): boolean {
  return (e as { name?: string; Code?: string }).name === 'InvalidObjectState';
}

function s3Failure(e: unknown, what: string): LifeboatError {
  const err = mapError(e);
  if (err.code === 'INTERNAL')
    return new LifeboatError('STORAGE_ERROR', `S3 ${what} failed: ${err.message}`, { cause: e });
  return new LifeboatError(err.code, `S3 ${what}: ${err.message}`, { hint: err.hint, cause: e });
}

export class S3Medium implements Medium {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;

  constructor(url: string, options: S3Options = {}, client?: S3Client) {
    const { bucket, prefix } = parseS3Url(url);
    this.bucket = bucket;
    this.prefix = prefix;
    this.location = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    this.client = client ?? createS3Client(options);
  }

  private key(rel: string): string {
    assertSafeRelativePath(rel);
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  private rel(key: string): string {
    return this.prefix ? key.slice(this.prefix.length + 1) : key;
  }

  async readInfo(): Promise<MediumInfo | null> {
    try {
      return parseMediumInfo(await this.readFile(MEDIUM_FILE));
    } catch (e) {
      if (e instanceof LifeboatError && e.code === 'NOT_FOUND') return null;
      throw e;
    }
  }

  async writeInfo(info: MediumInfo): Promise<void> {
    if (await this.stat(MEDIUM_FILE))
      throw new LifeboatError('ALREADY_EXISTS', `${this.location} is already a Lifeboat medium.`);
    await this.put(MEDIUM_FILE, Buffer.from(`${JSON.stringify(info, null, 2)}\n`));
  }

  putFile(rel: string, bytes: Buffer): Promise<void> {
    return this.put(rel, bytes);
  }

  private async put(rel: string, bytes: Buffer): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.key(rel), Body: bytes, ContentLength: bytes.length }),
      );
    } catch (e) {
      throw s3Failure(e, `write of ${rel}`);
    }
  }

  async beginSet(system: string, setId: string, options: SetWriteOptions = {}): Promise<SetWriter> {
    const cls = options.artifactClass;
    if (cls) assertStorageClass(cls);
    const setPath = `sets/${system}/${setId}`;
    if (await this.stat(`${setPath}/manifest.json`))
      throw new LifeboatError('ALREADY_EXISTS', `A set ${setPath} already exists on ${this.location}.`);
    const owner: PartialOwner = { pid: process.pid, host: hostname(), started_at: new Date().toISOString() };
    await this.put(`${setPath}/${PARTIAL_MARKER}`, Buffer.from(JSON.stringify(owner)));
    const uploads: Upload[] = [];
    const sinks: ArtifactSink[] = [];
    return {
      setPath,
      openArtifact: (name, o = {}) => {
        assertSafeRelativePath(name, 'artifact name');
        const body = new PassThrough({ highWaterMark: 1024 * 1024 });
        // lib-storage reads the body with for-await. When a part fails (S3 lost) it stops reading,
        // and Node's iterator then destroys the body with a bare AbortError while the upload is
        // still settling (aborting the multipart upload, with retries): a write arriving meanwhile
        // failed with that error, which reads as a cancel ("Cancelled.", exit 2 CANCELLED) instead
        // of the upload's own STORAGE_UNREACHABLE. The body is left open until the upload settles:
        // its error, through `done` below, is this destination's failure, and destroys the body.
        body[Symbol.asyncIterator] = () => body.iterator({ destroyOnReturn: false });
        const upload = new Upload({
          client: this.client,
          params: {
            Bucket: this.bucket,
            Key: this.key(`${setPath}/${name}`),
            Body: body,
            ...(cls && !o.readable ? { StorageClass: cls as StorageClass } : {}),
          },
          partSize: 8 * 1024 * 1024,
          queueSize: 2,
          leavePartsOnError: false,
        });
        uploads.push(upload);
        const done = upload.done().then(
          () => undefined,
          (e: unknown) => {
            body.destroy();
            throw s3Failure(e, `upload of ${name}`);
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
        await Promise.allSettled(uploads.map((u) => u.abort()));
        // The set failed because a medium went out of reach (S3, most likely): deleting would
        // only wait out the timeouts again. The in-progress marker stays, so no reader takes
        // this for a set, and the next backup to this medium removes it all.
        if (cause instanceof LifeboatError && cause.code === 'STORAGE_UNREACHABLE') return;
        await this.deletePrefix(`${setPath}/`);
      },
    };
  }

  private async listKeys(relPrefix: string, restoreStatus = false): Promise<ListedKey[]> {
    const out: ListedKey[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix ? `${this.prefix}/${relPrefix}` : relPrefix,
            ContinuationToken: token,
            ...(restoreStatus ? { OptionalObjectAttributes: ['RestoreStatus' as const] } : {}),
          }),
        );
      } catch (e) {
        throw s3Failure(e, 'listing');
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        const archive = COLD_CLASSES.has(o.StorageClass ?? '')
          ? archiveOf({
              StorageClass: o.StorageClass,
              Restore: o.RestoreStatus
                ? o.RestoreStatus.IsRestoreInProgress
                  ? 'ongoing-request="true"'
                  : o.RestoreStatus.RestoreExpiryDate
                    ? `ongoing-request="false", expiry-date="${o.RestoreStatus.RestoreExpiryDate.toUTCString()}"`
                    : undefined
                : undefined,
            })
          : undefined;
        out.push({
          key: o.Key,
          size: o.Size ?? 0,
          mtimeMs: o.LastModified?.getTime() ?? 0,
          etag: o.ETag ?? null,
          ...(archive ? { archive } : {}),
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
      } catch (e) {
        throw s3Failure(e, 'delete');
      }
    }
  }

  private async deletePrefix(relPrefix: string): Promise<void> {
    const keys = (await this.listKeys(relPrefix)).map((o) => o.key);
    await this.deleteKeys(keys);
  }

  async listSets(): Promise<ListedSet[]> {
    return completeSets(await this.listSetFolders());
  }

  private async setObjects(): Promise<ListedObject[]> {
    return (await this.listKeys('sets/', true)).map(({ key, ...o }) => ({ rel: this.rel(key), ...o }));
  }

  async listSetFolders(): Promise<ListedSetFolder[]> {
    return setFoldersOf(await this.setObjects());
  }

  async listFiles(prefix: string, options: ListFilesOptions = {}): Promise<ListedFile[]> {
    const limit = options.limit ?? 100_000;
    const maxDepth = options.maxDepth ?? 8;
    const out: ListedFile[] = [];
    // Folder by folder with a delimiter, so huge trees under skipped prefixes are never listed.
    const walk = async (relPrefix: string, depth: number): Promise<void> => {
      let token: string | undefined;
      do {
        let page;
        try {
          const full = this.prefix ? `${this.prefix}/${relPrefix}` : relPrefix;
          page = await this.client.send(
            new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, Delimiter: '/', ContinuationToken: token }),
          );
        } catch (e) {
          throw s3Failure(e, 'listing');
        }
        for (const o of page.Contents ?? []) {
          if (!o.Key) continue;
          const rel = this.rel(o.Key);
          if (rel.split('/').pop()!.startsWith('.')) continue;
          out.push({ path: rel, size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0, etag: o.ETag ?? null });
          if (out.length >= limit) return;
        }
        for (const p of page.CommonPrefixes ?? []) {
          if (!p.Prefix) continue;
          const rel = this.rel(p.Prefix);
          const name = rel.replace(/\/$/, '').split('/').pop()!;
          if (name.startsWith('.') || (depth === 0 && options.skip?.includes(name))) continue;
          if (depth < maxDepth) await walk(rel, depth + 1);
          else options.onDeeper?.(rel.replace(/\/$/, ''));
          if (out.length >= limit) return;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    };
    const start = prefix.replace(/\/+$/, '');
    await walk(start ? `${start}/` : '', 0);
    return out;
  }

  async readFile(rel: string): Promise<Buffer> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(rel) }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      if (isNotFound(e)) throw new LifeboatError('NOT_FOUND', `Not on the medium: ${rel}`, { cause: e });
      if (isArchivedRead(e)) throw archivedError(rel, e);
      throw s3Failure(e, `read of ${rel}`);
    }
  }

  async readOptional(rel: string): Promise<Buffer | null> {
    try {
      return await this.readFile(rel);
    } catch (e) {
      if (e instanceof LifeboatError && e.code === 'NOT_FOUND') return null;
      throw e;
    }
  }

  async openRead(rel: string): Promise<Readable> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(rel) }));
      return r.Body instanceof Readable ? r.Body : Readable.from(r.Body as AsyncIterable<Uint8Array>);
    } catch (e) {
      if (isNotFound(e)) throw new LifeboatError('NOT_FOUND', `Not on the medium: ${rel}`, { cause: e });
      if (isArchivedRead(e)) throw archivedError(rel, e);
      throw s3Failure(e, `read of ${rel}`);
    }
  }

  async stat(rel: string): Promise<ObjectStat | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(rel) }));
      const archive = archiveOf(r);
      return {
        size: r.ContentLength ?? 0,
        mtimeMs: r.LastModified?.getTime() ?? 0,
        etag: r.ETag ?? null,
        storageClass: r.StorageClass ?? 'STANDARD',
        ...(archive ? { archive } : {}),
      };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw s3Failure(e, `stat of ${rel}`);
    }
  }

  async listNamed(dir: string, namePrefix: string): Promise<ListedFile[]> {
    const out: ListedFile[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.key(`${dir}/${namePrefix}`),
            Delimiter: '/',
            ContinuationToken: token,
          }),
        );
      } catch (e) {
        throw s3Failure(e, 'listing');
      }
      for (const o of page.Contents ?? [])
        if (o.Key)
          out.push({
            path: this.rel(o.Key),
            size: o.Size ?? 0,
            mtimeMs: o.LastModified?.getTime() ?? 0,
            etag: o.ETag ?? null,
          });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
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

  /** RestoreObject for an archived object (a second request while one runs is answered 409 by S3: said as `restoring`). */
  async requestRestore(
    rel: string,
    o: { days: number; tier: RestoreTier },
  ): Promise<{ state: RestoreRequestState; storageClass: string }> {
    const st = await this.stat(rel);
    if (!st) throw new LifeboatError('NOT_FOUND', `Not on the medium: ${rel}`);
    const storageClass = st.archive?.storageClass ?? st.storageClass ?? 'STANDARD';
    if (!st.archive) return { state: 'readable', storageClass };
    if (st.archive.state !== 'archived') return { state: st.archive.state, storageClass };
    try {
      await this.client.send(
        new RestoreObjectCommand({
          Bucket: this.bucket,
          Key: this.key(rel),
          RestoreRequest: { Days: o.days, GlacierJobParameters: { Tier: o.tier } },
        }),
      );
      return { state: 'requested', storageClass };
    } catch (e) {
      if ((e as { name?: string }).name === 'RestoreAlreadyInProgress') return { state: 'restoring', storageClass };
      throw s3Failure(e, `restore request for ${rel}`);
    }
  }
}
