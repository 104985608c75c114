import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseEventBody, toInspectLine } from '../../../relay/events/index.js';
import { EXIT, UsageError } from '../exit-codes.js';
import type { CliIo } from '../io.js';

export const inspectEventHelp = `Usage: rotation-relay inspect-event [FILE|-]

Parse one SQS message body (an EventBridge event, optionally wrapped in SNS) exactly as the
worker does, and print the decision as one JSON line:
  {"action":"invalidate"|"alert"|"ignore"|"reject","secretArn"?,"secretName"?,"versionId"?,
   "eventId"?,"eventTime"?,"reason"}
Reads standard input when FILE is "-" or missing. Makes no network call.

Exit codes: 0 the body parsed (invalidate, alert or ignore), 2 it was rejected or bad usage.`;

export async function inspectEvent(argv: string[], io: CliIo): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length > 1) throw new UsageError('inspect-event takes at most one FILE');
  const file = positionals[0];
  let body: string;
  if (file === undefined || file === '-') {
    body = await io.readStdin();
  } else {
    try {
      body = await readFile(file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const result = parseEventBody(body);
  io.out(toInspectLine(result));
  return result.action === 'reject' ? EXIT.usage : EXIT.ok;
}
