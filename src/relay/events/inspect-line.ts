import type { ParseResult } from './types.js';

/**
 * One JSON line for `rotation-relay inspect-event`: a fixed key order so that output diffs and
 * greps stay stable, and only the fields an operator needs (the full result is in the logs).
 */
export function toInspectLine(result: ParseResult): string {
  const line: Record<string, string> = { action: result.action };
  if (result.action !== 'reject') {
    if (result.secretArn !== undefined) line['secretArn'] = result.secretArn;
    if (result.secretName !== undefined) line['secretName'] = result.secretName;
    if (result.versionId !== undefined) line['versionId'] = result.versionId;
  }
  if (result.eventId !== undefined) line['eventId'] = result.eventId;
  if (result.action !== 'reject' && result.eventTime !== undefined) line['eventTime'] = result.eventTime;
  line['reason'] = result.reason;
  return JSON.stringify(line);
}
