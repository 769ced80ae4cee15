/**
 * The checks of `storage.s3` that need no SDK (so `config check` does not load it).
 */
import fs from 'node:fs';
import type { Config } from '../config/options.ts';

export type S3Settings = Config['storage']['s3'];

/** Smallest multipart part S3 accepts (every part but the last). */
export const minPartSize = 5 * 1024 * 1024;

/** What is wrong with these settings for the s3 backend; empty when they can be used. */
export function s3SettingProblems(s3: S3Settings): string[] {
  const problems: string[] = [];
  if (s3.bucket === '') problems.push('storage.s3.bucket: required when storage.backend is s3');
  if (s3.part_size < minPartSize) problems.push(`storage.s3.part_size: must be at least 5MiB (S3's smallest part), got ${s3.part_size} bytes`);
  if ((s3.access_key_id === undefined) !== (s3.secret_access_key === undefined)) {
    problems.push('storage.s3.access_key_id and storage.s3.secret_access_key: set both (or neither, for the AWS SDK\'s own chain)');
  }
  if (s3.ca_file !== '' && !fs.existsSync(s3.ca_file)) problems.push(`storage.s3.ca_file: there is no file ${s3.ca_file}`);
  return problems;
}

