#!/usr/bin/env node
import { processIo } from './io.js';
import { runCli } from './run.js';

const code = await runCli(process.argv.slice(2), processIo());
// Commands close what they open; exit explicitly anyway so a stray handle never keeps a
// finished command (or a stopped worker) alive.
process.exit(code);
