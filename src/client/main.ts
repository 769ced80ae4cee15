#!/usr/bin/env node
/** The `modelshare-client` command (see cli.ts). */
import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
