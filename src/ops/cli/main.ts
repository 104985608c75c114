#!/usr/bin/env node
import { drained, processIo } from './io.js';
import { runCli } from './run.js';

const code = await runCli(process.argv.slice(2), processIo());
// Output first: into a pipe or a slow reader, stdout is written asynchronously, and exiting
// at once cut a long document at the pipe's 64 KiB buffer.
await Promise.all([drained(process.stdout), drained(process.stderr)]);
// Commands close what they open; exit explicitly anyway so a stray handle never keeps a
// finished command (or a stopped worker) alive.
process.exit(code);
