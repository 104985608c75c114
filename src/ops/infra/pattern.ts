import { readFileSync } from 'node:fs';
import { InfraError, InfraErrorCodes } from './errors.js';
import { canonicalJson, isJsonObject, type Json, type JsonObject } from './json.js';

/**
 * The EventBridge pattern: infra/event-pattern.json is the one source. The CloudFormation
 * template embeds the same document (a test checks it) and the CLI reads the file at run time,
 * so the two deployment paths cannot drift apart.
 *
 * The file matches every secret. Narrowing to some secrets is a mechanical transform of it
 * ({@link narrowPattern}) because each event family names the secret in its own field:
 * CloudTrail-derived events have an empty `resources` array.
 */

export type EventPattern = JsonObject;

/** The three Secrets Manager event families, by `detail-type`, and where each names the secret. */
export const FAMILY_DETAIL_TYPES = {
  labelUpdated: 'Secret Label Updated',
  serviceEvent: 'AWS Service Event via CloudTrail',
  apiCall: 'AWS API Call via CloudTrail',
} as const;

export const SECRETS_MANAGER_SOURCE = 'aws.secretsmanager';

/**
 * EventBridge's limit on a rule's pattern: 2048 characters by default, raised to at most 4096
 * through a service-quota request (PutRule rejects longer ones either way).
 */
export const PATTERN_DEFAULT_QUOTA = 2048;
export const PATTERN_HARD_LIMIT = 4096;

/** Where the pattern file lives, from src/ops/infra (tests, tsx) and from dist/ops/infra (the package) alike. */
export const EVENT_PATTERN_URL = new URL('../../../infra/event-pattern.json', import.meta.url);

/** Reads and checks infra/event-pattern.json. */
export function loadBasePattern(url: URL = EVENT_PATTERN_URL): EventPattern {
  let text: string;
  try {
    text = readFileSync(url, 'utf8');
  } catch (error) {
    throw new InfraError(InfraErrorCodes.PatternInvalid, `cannot read the event pattern ${url.pathname}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InfraError(InfraErrorCodes.PatternInvalid, `${url.pathname} is not JSON`, { cause: error });
  }
  if (!isJsonObject(parsed)) throw new InfraError(InfraErrorCodes.PatternInvalid, `${url.pathname} is not a JSON object`);
  familyBranches(parsed);
  return parsed;
}

/**
 * A filter on the field that names the secret, as an EventBridge pattern array: exact ARNs
 * (`["arn:…:secret:db-AbCdEf", …]`) or a prefix (`[{ "prefix": "arn:…:secret:prod/" }]`).
 */
export type SecretFilter = Json[];

/**
 * The pattern narrowed to the secrets `filter` selects, each family on its own field:
 * - `Secret Label Updated` on `resources` (the secret's ARN);
 * - CloudTrail service events on `detail.additionalEventData.SecretId`;
 * - CloudTrail API calls on `detail.responseElements.arn`, or `aRN` (events before Feb 2024),
 *   through a nested `$or`.
 * Without a filter the pattern is returned unchanged (a copy).
 */
export function narrowPattern(base: EventPattern, filter: SecretFilter | undefined): EventPattern {
  const copy = structuredClone(base);
  if (filter === undefined) return copy;
  const branches = familyBranches(copy);
  for (const [family, branch] of branches) {
    const detail = branch['detail'];
    if (!isJsonObject(detail)) throw invalid(`the "${FAMILY_DETAIL_TYPES[family]}" branch has no detail object`);
    switch (family) {
      case 'labelUpdated':
        branch['resources'] = structuredClone(filter);
        break;
      case 'serviceEvent':
        detail['additionalEventData'] = { SecretId: structuredClone(filter) };
        break;
      case 'apiCall':
        detail['$or'] = [
          { responseElements: { arn: structuredClone(filter) } },
          { responseElements: { aRN: structuredClone(filter) } },
        ];
        break;
    }
  }
  return copy;
}

/** The pattern as PutRule receives it: compact JSON, keys in file order. */
export function serializePattern(pattern: EventPattern): string {
  return JSON.stringify(pattern);
}

/** Equal when they match the same events as far as key order goes (AWS may re-serialize). */
export function samePattern(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

type Family = keyof typeof FAMILY_DETAIL_TYPES;

/** The `$or` branches of the pattern by family; throws when the file is not the expected shape. */
function familyBranches(pattern: EventPattern): Array<[Family, JsonObject]> {
  const source = pattern['source'];
  if (!Array.isArray(source) || source.length !== 1 || source[0] !== SECRETS_MANAGER_SOURCE) {
    throw invalid(`"source" must be ["${SECRETS_MANAGER_SOURCE}"]`);
  }
  const or = pattern['$or'];
  if (!Array.isArray(or)) throw invalid('expected a top-level "$or" with one branch per event family');
  const byType = new Map(Object.entries(FAMILY_DETAIL_TYPES).map(([family, type]) => [type as string, family as Family]));
  const seen = new Set<Family>();
  const branches = or.map((branch): [Family, JsonObject] => {
    const types = isJsonObject(branch) ? branch['detail-type'] : undefined;
    const type = Array.isArray(types) && types.length === 1 && typeof types[0] === 'string' ? types[0] : undefined;
    const family = type === undefined ? undefined : byType.get(type);
    if (!isJsonObject(branch) || family === undefined) {
      throw invalid(`every "$or" branch must have one "detail-type" of: ${Object.values(FAMILY_DETAIL_TYPES).join(', ')}`);
    }
    if (seen.has(family)) throw invalid(`"${type}" appears in two branches`);
    seen.add(family);
    return [family, branch];
  });
  return branches;
}

function invalid(reason: string): InfraError {
  return new InfraError(InfraErrorCodes.PatternInvalid, `infra/event-pattern.json: ${reason}`);
}
