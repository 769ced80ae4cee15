/**
 * Blobs on S3: a large baseline (BENCH_S3_MIB, default 1024) uploaded and downloaded through
 * Modelshare with storage.backend s3 (HTTPS in, digest, seal, multipart upload; ranged GET, open
 * segments, HTTPS out), against a bare S3 client (lib-storage Upload with the same part size and
 * queue, then GetObject) putting and getting the same bytes to the same emulator, in the same run.
 * The emulator (fauxqs, in memory) runs in a child process, so peak RSS is this process's own.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { request } from 'undici';
import { benchServer } from './harness.ts';
import { measure, mib, row, source } from './measure.ts';

async function startEmulator() {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(path.dirname(fileURLToPath(import.meta.url)), 's3-emulator.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`the S3 emulator exited (${code})`)));
  });
  const { endpoint, bucket } = JSON.parse(line) as { endpoint: string; bucket: string };
  return { endpoint, bucket, stop: () => child.stdin.end() };
}

export async function s3Bench(): Promise<void> {
  const total = Number(process.env['BENCH_S3_MIB'] ?? 1024) * 1024 * 1024;
  const partSize = 8 * 1024 * 1024;
  const queueSize = 2;
  const emulator = await startEmulator();
  const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench-secret' };
  const server = await benchServer({
    MODELSHARE_LIMITS_BASELINE: '20GiB',
    MODELSHARE_STORAGE_BACKEND: 's3',
    MODELSHARE_STORAGE_S3_ENDPOINT: emulator.endpoint,
    MODELSHARE_STORAGE_S3_BUCKET: emulator.bucket,
    MODELSHARE_STORAGE_S3_PREFIX: 'ms/',
    MODELSHARE_STORAGE_S3_ACCESS_KEY_ID: credentials.accessKeyId,
    MODELSHARE_STORAGE_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    MODELSHARE_STORAGE_S3_PART_SIZE: String(partSize),
    MODELSHARE_STORAGE_S3_QUEUE_SIZE: String(queueSize),
  });
  const client = new S3Client({ endpoint: emulator.endpoint, region: 'us-east-1', forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  try {
    const pattern = crypto.randomBytes(32 * 1024 * 1024);
    const chunk = 1024 * 1024;
    const hash = crypto.createHash('sha256');
    for await (const part of source(total, pattern, chunk)) hash.update(part);
    const digest = `sha-256=:${hash.digest('base64')}:`;
    const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

    const key = 'bare/bench.bin';
    const bareUp = await measure(total, async () => {
      await new Upload({ client, params: { Bucket: emulator.bucket, Key: key, Body: Readable.from(source(total, pattern, chunk)) }, partSize, queueSize }).done();
    });
    const bareDown = await measure(total, async () => {
      const res = await client.send(new GetObjectCommand({ Bucket: emulator.bucket, Key: key }));
      await pipeline(res.Body as Readable, sink());
    });
    await client.send(new DeleteObjectCommand({ Bucket: emulator.bucket, Key: key }));

    const owner = server.person('s3-owner');
    const agent = server.agent(1);
    const auth = { authorization: `Bearer ${owner.token}` };
    const created = await request(`${server.url}/api/v1/models`, { method: 'POST', dispatcher: agent, body: JSON.stringify({ name: 's3' }), headers: { ...auth, 'content-type': 'application/json' } });
    const modelId = ((await created.body.json()) as { id: string }).id;
    const up = await measure(total, async () => {
      const res = await request(`${server.url}/api/v1/models/${modelId}/baselines?seq=0`, { method: 'POST', dispatcher: agent, body: Readable.from(source(total, pattern, chunk)), headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(total), 'content-digest': digest } });
      await res.body.dump();
      if (res.statusCode !== 201) throw new Error(`upload answered ${res.statusCode}`);
    });
    const down = await measure(total, async () => {
      const res = await request(`${server.url}/api/v1/models/${modelId}/baselines/latest`, { dispatcher: agent, headers: auth });
      if (res.statusCode !== 200) throw new Error(`download answered ${res.statusCode}`);
      await pipeline(res.body, sink());
    });
    await agent.close();
    console.log(`\nblobs on S3: ${mib(total)} baseline, part ${mib(partSize)} × queue ${queueSize}, emulator (fauxqs, in memory) in its own process on loopback`);
    console.log(row('baseline: bare S3 client, multipart put', bareUp));
    console.log(row('baseline: bare S3 client, get', bareDown));
    console.log(row('Modelshare upload (HTTPS, digest, seal, S3)', up, bareUp));
    console.log(row('Modelshare download (S3, open segments, HTTPS)', down, bareDown));
  } finally {
    client.destroy();
    await server.close();
    emulator.stop();
  }
}
