/**
 * The one file that loads the AWS SDK: the S3 client made from `storage.s3`, and the translation of
 * its failures into what a client of Modelshare sees (an unreachable or refusing object store is an
 * outage: 503 with Retry-After, never a crash and never a 500 that names the bucket).
 */
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { createRequire } from 'node:module';
import type * as ClientS3 from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';
import { s3SettingProblems, type S3Settings } from './s3-settings.ts';
import { AppError } from '../errors.ts';

const require = createRequire(import.meta.url);
let clientS3: typeof ClientS3 | undefined;
let libStorage: typeof LibStorage | undefined;

/**
 * The SDK's commands, loaded on first use: a server with its blobs on the file system never loads
 * the SDK (about 20 MiB of resident memory at rest). The packages ship CommonJS only, which a static
 * import loads too, so this is the same module either way.
 */
export const s3Commands = (): typeof ClientS3 => (clientS3 ??= require('@aws-sdk/client-s3') as typeof ClientS3);

/** The SDK's multipart upload, loaded on first use (see s3Commands). */
export const s3Uploads = (): typeof LibStorage => (libStorage ??= require('@aws-sdk/lib-storage') as typeof LibStorage);

/** An S3 client for these settings; the credentials go to the SDK and nowhere else. */
export function createS3Client(s3: S3Settings): S3Client {
  const problems = s3SettingProblems(s3);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const ca = s3.ca_file === '' ? undefined : fs.readFileSync(s3.ca_file);
  const config: S3ClientConfig = {
    region: s3.region,
    forcePathStyle: s3.path_style,
    // Integrity is ours (AEAD segments and digests); the default CRC32 trailers are not accepted by
    // every S3-compatible service, so checksums are sent and checked only where the operation needs one.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: 5000,
      // A stalled object store must not hang a request for ever; reads of large blobs keep data flowing.
      requestTimeout: 120_000,
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 64, minVersion: 'TLSv1.2', ...(ca ? { ca } : {}) }),
    },
  };
  if (s3.endpoint !== '') config.endpoint = s3.endpoint;
  if (s3.access_key_id !== undefined && s3.secret_access_key !== undefined) {
    config.credentials = { accessKeyId: s3.access_key_id, secretAccessKey: s3.secret_access_key };
  }
  return new (s3Commands().S3Client)(config);
}

/** The S3 error name (NoSuchKey, AccessDenied, …) or the network error code, for the log. */
export function s3ErrorName(error: unknown): string {
  const e = error as { name?: string; code?: string; Code?: string } | undefined;
  return e?.Code ?? e?.code ?? e?.name ?? 'unknown';
}

/** A missing object or upload (404), which callers treat as "not there" rather than as an outage. */
export function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.name === 'NoSuchUpload' || e?.$metadata?.httpStatusCode === 404;
}

/**
 * The object store failed (unreachable, refusing, throttling, misconfigured): the request answers
 * 503 with Retry-After, as while the data directory is away. An AppError passes through unchanged.
 */
export function storageUnavailable(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError('service_unavailable', 'The server cannot reach its blob storage right now; try again later', {
    headers: { 'Retry-After': '30' },
    cause: error,
  });
}
