/**
 * The S3 emulator of the s3 benchmark, in a process of its own so that its memory (it keeps every
 * object in memory) is not counted in the peak RSS of the process being measured. Prints
 * `{"endpoint": …, "bucket": …}` once listening; exits when its standard input closes.
 */
import { startS3 } from '../test/helpers/s3.ts';

const s3 = await startS3();
const bucket = s3.bucket();
process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint, bucket })}\n`);
process.stdin.resume();
process.stdin.on('close', () => void s3.close().then(() => process.exit(0)));
