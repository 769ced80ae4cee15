/**
 * A real S3 API on loopback for tests: fauxqs (an in-memory S3 emulator, fastify), started on a random
 * 127.0.0.1 port, one per test process. Each test gets its own bucket. fauxqs lacks
 * ListMultipartUploads (the list of incomplete uploads the s3 backend's staging sweep reads) and
 * UploadPartCopy (server-side copies over 5 GiB); this helper answers both from the emulator's own
 * tables, in S3's XML, so they are tested against the uploads and objects the SDK really made.
 */
import crypto from 'node:crypto';
import type { ExecutionContext } from 'ava';

interface Upload { uploadId: string; bucket: string; key: string; initiated: Date }
/** An object as the emulator keeps it (tests age or damage one by changing these). */
export interface StoredObject { key: string; body: Buffer; contentLength: number; lastModified: Date }
interface S3Store {
  createBucket(name: string): void;
  multipartUploads: Map<string, Upload>;
  buckets: Map<string, Map<string, StoredObject>>;
  uploadPart(uploadId: string, partNumber: number, body: Buffer): string;
}
interface FastifyLike {
  addHook(name: 'onRequest', hook: (request: { method: string; url: string; headers: Record<string, string | string[] | undefined> }, reply: { header(k: string, v: string): unknown; status(n: number): { send(body: string): unknown } }) => Promise<unknown>): void;
  listen(options: { port: number; host: string }): Promise<string>;
  server: { unref(): void };
  close(): Promise<void>;
}

export interface TestS3 {
  endpoint: string;
  port: number;
  store: S3Store;
  /** A new empty bucket. */
  bucket(): string;
  /** Every object of a bucket, as stored. */
  objects(bucket: string): StoredObject[];
  /** The incomplete multipart uploads of a bucket. */
  uploads(bucket: string): Upload[];
  /** Every request the emulator received, in order (a test looks at what crossed the wire). */
  requests: { method: string; path: string; copy: boolean }[];
  close(): Promise<void>;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Starts an emulator on loopback (port 0: any free one, or the one given to start it again there). */
export async function startS3(port = 0): Promise<TestS3> {
  const appUrl = import.meta.resolve('fauxqs');
  const { buildApp } = (await import(appUrl)) as { buildApp(options: object): FastifyLike };
  const { S3Store } = (await import(new URL('./s3/s3Store.js', appUrl).href)) as { S3Store: new () => S3Store };
  const store = new S3Store();
  const app = buildApp({ logger: false, stores: { s3Store: store } });
  const requests: TestS3['requests'] = [];
  app.addHook('onRequest', async (request, reply) => {
    const url = new URL(request.url, 'http://x');
    requests.push({ method: request.method, path: decodeURIComponent(url.pathname), copy: request.headers['x-amz-copy-source'] !== undefined });
    const bucket = url.pathname.split('/')[1];
    const copySource = request.headers['x-amz-copy-source'];
    if (request.method === 'PUT' && bucket && url.searchParams.has('uploadId') && typeof copySource === 'string') {
      // UploadPartCopy: a byte range of an existing object becomes a part.
      const source = decodeURIComponent(copySource).replace(/^\//, '');
      const slash = source.indexOf('/');
      const object = store.buckets.get(source.slice(0, slash))?.get(source.slice(slash + 1));
      if (!object) return reply.status(404).send('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code></Error>');
      const range = /^bytes=(\d+)-(\d+)$/.exec(String(request.headers['x-amz-copy-source-range'] ?? ''));
      const body = range ? object.body.subarray(Number(range[1]), Number(range[2]) + 1) : object.body;
      const etag = store.uploadPart(url.searchParams.get('uploadId')!, Number(url.searchParams.get('partNumber')), Buffer.from(body));
      reply.header('content-type', 'application/xml');
      return reply.status(200).send(`<?xml version="1.0" encoding="UTF-8"?><CopyPartResult><ETag>${xml(etag)}</ETag><LastModified>${new Date().toISOString()}</LastModified></CopyPartResult>`);
    }
    if (request.method !== 'GET' || !url.searchParams.has('uploads') || !bucket) return;
    const prefix = url.searchParams.get('prefix') ?? '';
    const uploads = [...store.multipartUploads.values()].filter((u) => u.bucket === bucket && u.key.startsWith(prefix));
    const body =
      '<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Bucket>${xml(bucket)}</Bucket><Prefix>${xml(prefix)}</Prefix><IsTruncated>false</IsTruncated>` +
      uploads.map((u) => `<Upload><Key>${xml(u.key)}</Key><UploadId>${u.uploadId}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`).join('') +
      '</ListMultipartUploadsResult>';
    reply.header('content-type', 'application/xml');
    return reply.status(200).send(body);
  });
  const address = await app.listen({ port, host: '127.0.0.1' });
  // The emulator never keeps a test process alive by itself.
  app.server.unref();
  const actual = Number(new URL(address).port);
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    port: actual,
    store,
    bucket() {
      const name = `t-${crypto.randomBytes(6).toString('hex')}`;
      store.createBucket(name);
      return name;
    },
    requests,
    objects: (bucket) => [...(store.buckets.get(bucket)?.values() ?? [])],
    uploads: (bucket) => [...store.multipartUploads.values()].filter((u) => u.bucket === bucket),
    close: () => app.close(),
  };
}

let shared: Promise<TestS3> | undefined;

/** The emulator of this test process, started on first use and stopped when the process exits. */
export function sharedS3(): Promise<TestS3> {
  shared ??= startS3();
  return shared;
}

/** The environment that puts a server's blobs into a fresh bucket of this process's emulator. */
export async function s3Env(prefix = 'ms/'): Promise<Record<string, string>> {
  const s3 = await sharedS3();
  return {
    MODELSHARE_STORAGE_BACKEND: 's3',
    MODELSHARE_STORAGE_S3_ENDPOINT: s3.endpoint,
    MODELSHARE_STORAGE_S3_BUCKET: s3.bucket(),
    MODELSHARE_STORAGE_S3_PREFIX: prefix,
    MODELSHARE_STORAGE_S3_ACCESS_KEY_ID: 'test-access-key-id',
    MODELSHARE_STORAGE_S3_SECRET_ACCESS_KEY: 'test-secret-access-key-do-not-log',
  };
}

/** True when this test run keeps blobs in S3 (MODELSHARE_TEST_BLOBS=s3, the second pass of `npm test`). */
export const testBlobsOnS3 = process.env['MODELSHARE_TEST_BLOBS'] === 's3';

/** The S3 environment when this run keeps blobs in S3, else nothing. */
export async function testBlobEnv(_t?: ExecutionContext): Promise<Record<string, string>> {
  return testBlobsOnS3 ? await s3Env() : {};
}
