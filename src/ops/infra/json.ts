/** JSON helpers for comparing what AWS stores with what we want: key order and spelling never count. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON with object keys sorted at every level: equal documents give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isJsonObject(value)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys(value[key])]),
    );
  }
  return value;
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Parses `text`, or returns undefined: a value AWS returns that is not JSON is simply "different". */
export function tryParseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** One leaf that differs between two JSON documents, addressed by a dotted path. */
export interface JsonDifference {
  path: string;
  from: Json | undefined;
  to: Json | undefined;
}

/**
 * The leaves that differ between `from` and `to`, so a plan can say
 * `RedrivePolicy.maxReceiveCount: 3 → 5` rather than print two whole documents.
 * Objects are compared key by key, arrays of equal length item by item, anything else whole.
 */
export function jsonDifferences(from: unknown, to: unknown, path = ''): JsonDifference[] {
  if (jsonEqual(from, to)) return [];
  if (isJsonObject(from) && isJsonObject(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
    return keys.flatMap((key) => jsonDifferences(from[key], to[key], path ? `${path}.${key}` : key));
  }
  if (Array.isArray(from) && Array.isArray(to) && from.length === to.length && from.some((item) => typeof item === 'object')) {
    return from.flatMap((item, index) => jsonDifferences(item, to[index], `${path}[${index}]`));
  }
  return [{ path, from: from as Json | undefined, to: to as Json | undefined }];
}

const POLICY_LIST_KEYS = new Set(['Action', 'NotAction', 'Resource', 'NotResource', 'Service', 'AWS', 'Federated']);

/**
 * An IAM-style policy document in a form where equivalent spellings compare equal: a single
 * statement or value may be written with or without an array around it, and the order of
 * values inside Action/Resource/Principal lists does not matter.
 */
export function normalizePolicy(policy: unknown): unknown {
  if (!isJsonObject(policy)) return policy;
  const statements = policy['Statement'];
  const list = Array.isArray(statements) ? statements : statements === undefined ? [] : [statements];
  return { ...policy, Statement: list.map((statement) => normalizePolicyNode(statement)) };
}

function normalizePolicyNode(node: Json, key?: string): Json {
  if (Array.isArray(node)) {
    const items = node.map((item) => normalizePolicyNode(item));
    return isListKey(key) ? [...items].sort() : items;
  }
  if (isJsonObject(node)) {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, normalizePolicyNode(v, k)]));
  }
  return isListKey(key) ? [node] : node;
}

/** Keys whose value is a set of strings: Action, Resource, principals and condition keys (`aws:SourceArn`). */
function isListKey(key: string | undefined): boolean {
  return key !== undefined && (POLICY_LIST_KEYS.has(key) || key.includes(':'));
}
