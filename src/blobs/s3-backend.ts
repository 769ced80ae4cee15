/**
 * The S3-compatible blob backend: published blobs are objects `<prefix>blobs/<id>`; a blob being
 * written is a multipart upload (lib-storage, a bounded number of parts in memory), so "staging" is
 * the bucket's list of incomplete multipart uploads. The blob service seals every byte before it
 * gets here: the bucket only ever holds ciphertext.
 */
import { PassThrough, Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Log } from '../log.ts';
import type { BlobBackend, BlobWriter } from './backend.ts';
import { isNotFound, s3Commands, s3ErrorName, s3Uploads, storageUnavailable } from './s3-client.ts';

const idPattern = /^[0-9a-f]{32}$/;

export interface S3BackendOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix of everything the server writes (may be empty, else usually ends in `/`). */
  prefix: string;
  partSize: number;
  queueSize: number;
  log?: Log | undefined;
  /** False for a sibling that borrows another backend's client (closing it leaves the client open). */
  ownsClient?: boolean;
  /** Largest object copied in one CopyObject (S3's limit: 5 GiB); larger ones are copied in parts. */
  maxSingleCopy?: number;
  /** Part size of such a multipart copy. */
  copyPartSize?: number;
}

const gib = 1024 * 1024 * 1024;

/** An S3 blob backend, with the server-side copy that backups use on top of the common calls. */
export interface S3BlobBackend extends BlobBackend {
  readonly kind: 's3';
  readonly bucket: string;
  /** The object key of a blob. */
  keyOf(id: string): string;
  /** Copies a published blob to `targetKey` inside the bucket, without its bytes leaving the store. */
  copyTo(id: string, targetKey: string): Promise<void>;
  /** Copies `sourceKey` (from `copyTo`) back to be blob `id`. */
  copyFrom(sourceKey: string, id: string): Promise<void>;
  /** The size of any object of the bucket, or undefined when there is none. */
  sizeOfKey(key: string): Promise<number | undefined>;
  /** A backend over the same bucket and client under another prefix (backups keep their copies so). */
  sibling(prefix: string): S3BlobBackend;
}

export function s3Backend(options: S3BackendOptions): S3BlobBackend {
  const { client, bucket } = options;
  const {
    AbortMultipartUploadCommand,
    CompleteMultipartUploadCommand,
    CopyObjectCommand,
    CreateMultipartUploadCommand,
    UploadPartCopyCommand,
    DeleteObjectCommand,
    GetObjectCommand,
    HeadBucketCommand,
    HeadObjectCommand,
    ListMultipartUploadsCommand,
    ListObjectsV2Command,
  } = s3Commands();
  const { Upload } = s3Uploads();
  const blobPrefix = `${options.prefix}blobs/`;
  const keyOf = (id: string) => {
    // Ids are made by the server, never by a client; the check keeps a bug from becoming a key trick.
    if (!idPattern.test(id)) throw new Error(`not a blob id: ${JSON.stringify(id)}`);
    return `${blobPrefix}${id}`;
  };
  /** Sends a command; every failure but "not found" is an outage of the store (503), logged with its S3 name. */
  const send = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (isNotFound(error)) throw error;
      options.log?.warn({ s3_error: s3ErrorName(error), operation: what, bucket, detail: (error as Error).message }, 'the blob storage (S3) refused or failed a request');
      throw storageUnavailable(error);
    }
  };
  const sizeOfKey = async (key: string) => {
    try {
      const head = await send('HeadObject', () => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
      return head.ContentLength;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };

  async function* get(key: string, start: number, end: number): AsyncGenerator<Buffer> {
    if (end <= start) return;
    const response = await send('GetObject', () => client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` })));
    const body = response.Body as Readable;
    try {
      // A store that ignored the Range would hand over the wrong bytes: refuse rather than mis-decrypt.
      if (response.ContentLength !== end - start) throw storageUnavailable(new Error(`asked for ${end - start} bytes, the store sent ${response.ContentLength}`));
      for await (const chunk of body) yield chunk as Buffer;
    } finally {
      body.destroy();
    }
  }

  /**
   * A server-side copy inside the bucket: one CopyObject up to S3's 5 GiB limit, above it a
   * multipart upload whose parts are UploadPartCopy ranges of the source (aborted on failure).
   */
  async function copy(sourceKey: string, targetKey: string): Promise<void> {
    const source = `${bucket}/${encodeURIComponent(sourceKey)}`;
    const size = await sizeOfKey(sourceKey);
    if (size === undefined) throw storageUnavailable(new Error(`the object to copy is missing: ${sourceKey}`));
    if (size <= (options.maxSingleCopy ?? 5 * gib)) {
      await send('CopyObject', () => client.send(new CopyObjectCommand({ Bucket: bucket, Key: targetKey, CopySource: source })));
      return;
    }
    const partSize = options.copyPartSize ?? gib;
    const { UploadId } = await send('CreateMultipartUpload', () => client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: targetKey })));
    try {
      const parts: { ETag: string | undefined; PartNumber: number }[] = [];
      for (let start = 0, number = 1; start < size; start += partSize, number++) {
        const range = `bytes=${start}-${Math.min(size, start + partSize) - 1}`;
        const part = await send('UploadPartCopy', () => client.send(new UploadPartCopyCommand({ Bucket: bucket, Key: targetKey, UploadId, PartNumber: number, CopySource: source, CopySourceRange: range })));
        parts.push({ ETag: part.CopyPartResult?.ETag, PartNumber: number });
      }
      await send('CompleteMultipartUpload', () => client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: targetKey, UploadId, MultipartUpload: { Parts: parts } })));
    } catch (error) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: targetKey, UploadId })).catch(() => undefined);
      throw error;
    }
  }

  return {
    kind: 's3',
    bucket,
    keyOf,

    async create(id) {
      const key = keyOf(id);
      // The upload reads from this stream; `write` waits for it to drain, so at most about
      // part_size × (queue_size + 1) of a blob is ever in memory.
      const body = new PassThrough({ highWaterMark: 1024 * 1024 });
      body.on('error', () => undefined); // reported through `failure` below
      const upload = new Upload({ client, params: { Bucket: bucket, Key: key, Body: body }, partSize: options.partSize, queueSize: options.queueSize, leavePartsOnError: false });
      let settled = false;
      let failure: unknown;
      const finished = upload.done().then(
        () => void (settled = true),
        (error: unknown) => {
          settled = true;
          failure = error;
        },
      );
      const fail = () => {
        options.log?.warn({ s3_error: s3ErrorName(failure), bucket, detail: (failure as Error | undefined)?.message }, 'an upload to the blob storage (S3) failed');
        return storageUnavailable(failure);
      };
      const writer: BlobWriter = {
        async write(chunks) {
          for (const chunk of chunks) {
            if (settled) throw failure ? fail() : new Error('write after the upload ended');
            // A copy: the SDK gathers a part from the chunks it is handed, long after this write
            // resolves and the seal pipeline seals the next batch into the same buffer.
            if (chunk.length === 0 || body.write(Buffer.from(chunk))) continue;
            let onDrain: () => void = () => undefined;
            await Promise.race([new Promise<void>((resolve) => body.once('drain', (onDrain = resolve))), finished]);
            body.off('drain', onDrain);
          }
          if (failure) throw fail();
        },
        async publish() {
          // Durability order: the object exists whole (PutObject, or CompleteMultipartUpload) before
          // this resolves, and only then may the caller commit the catalog row that makes it visible.
          body.end();
          await finished;
          if (failure) throw fail();
        },
        async abort() {
          if (!settled) {
            // Failing the body fails the upload, which aborts its multipart upload (nothing is
            // completed from a partial body); an abort that cannot reach the store leaves an
            // incomplete upload that clearStaging removes later.
            body.destroy(new Error('the upload was abandoned'));
            await finished;
          } else if (!failure) {
            await send('DeleteObject', () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))).catch(() => undefined);
          }
        },
      };
      return writer;
    },

    read(id, start, end) {
      return Readable.from(get(keyOf(id), start, end), { objectMode: false });
    },

    size: (id) => sizeOfKey(keyOf(id)),
    sizeOfKey,

    async remove(id) {
      // Deleting a key that is not there succeeds in S3.
      await send('DeleteObject', () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(id) })));
    },

    async *list() {
      let token: string | undefined;
      do {
        const page = await send('ListObjectsV2', () => client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: blobPrefix, ContinuationToken: token })));
        for (const object of page.Contents ?? []) {
          const id = object.Key?.slice(blobPrefix.length);
          if (id && idPattern.test(id)) yield { id, modifiedMs: object.LastModified?.getTime() ?? Date.now() };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },

    async clearStaging(olderThanMs) {
      const cutoff = Date.now() - olderThanMs;
      let removed = 0;
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      do {
        const page = await send('ListMultipartUploads', () =>
          client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: blobPrefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker })),
        );
        for (const upload of page.Uploads ?? []) {
          if (!upload.Key || !upload.UploadId || (upload.Initiated?.getTime() ?? 0) > cutoff) continue;
          try {
            await send('AbortMultipartUpload', () => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId })));
            removed++;
          } catch (error) {
            if (!isNotFound(error)) throw error; // completed or aborted meanwhile
          }
        }
        const more = page.IsTruncated === true;
        keyMarker = more ? page.NextKeyMarker : undefined;
        uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
      } while (keyMarker);
      return removed;
    },

    async check() {
      await send('HeadBucket', () => client.send(new HeadBucketCommand({ Bucket: bucket })));
    },

    close() {
      if (options.ownsClient !== false) client.destroy();
    },

    sibling(prefix) {
      return s3Backend({ ...options, prefix, ownsClient: false });
    },

    copyTo: (id, targetKey) => copy(keyOf(id), targetKey),
    copyFrom: (sourceKey, id) => copy(sourceKey, keyOf(id)),
  };
}
