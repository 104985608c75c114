import { isJsonObject, tryParseJson } from './json.js';

/**
 * An EventBridge rule may target an SNS topic that fans out to the queue; without raw message
 * delivery the SQS body is then an SNS notification whose `Message` is the event JSON.
 */
export type SnsUnwrap =
  | { ok: true; value: unknown; viaSns: boolean }
  | { ok: false; reason: string };

/** True when `value` has the shape of an SNS notification envelope. */
export function isSnsNotification(
  value: unknown,
): value is { Type: 'Notification'; Message: string; TopicArn: string } {
  return (
    isJsonObject(value) &&
    value['Type'] === 'Notification' &&
    typeof value['Message'] === 'string' &&
    typeof value['TopicArn'] === 'string'
  );
}

/**
 * Unwraps one SNS notification. Exactly one level: EventBridge → SNS → SQS is a real topology,
 * SNS → SNS → SQS around an EventBridge event is not one we produce, so it is rejected rather
 * than unwrapped without limit.
 */
export function unwrapSns(value: unknown): SnsUnwrap {
  if (!isSnsNotification(value)) {
    if (isJsonObject(value) && value['Type'] === 'Notification' && 'TopicArn' in value) {
      return { ok: false, reason: 'SNS notification has no string Message or TopicArn' };
    }
    return { ok: true, value, viaSns: false };
  }
  const inner = tryParseJson(value.Message);
  if (!inner.ok) return { ok: false, reason: 'SNS notification Message is not JSON' };
  if (isJsonObject(inner.value) && inner.value['Type'] === 'Notification') {
    return { ok: false, reason: 'SNS notification wraps another SNS notification; only one level is unwrapped' };
  }
  return { ok: true, value: inner.value, viaSns: true };
}
