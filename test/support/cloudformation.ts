import { readFileSync } from 'node:fs';
import { parse, type CollectionTag, type ScalarTag, type Tags, type YAMLMap, type YAMLSeq } from 'yaml';

/**
 * Just enough CloudFormation to check infra/rotation-relay.yaml offline: the short-form tags
 * (`!Ref`, `!GetAtt`, `!Sub`, `!If`, …) parsed into their long forms, and an evaluator that
 * resolves them for one set of parameter values, the way CloudFormation would, into plain JSON.
 * Resource attributes resolve to the values AWS gives them (ARNs, queue names and URLs built
 * from the evaluated properties), so tests can compare, e.g., a queue policy's `aws:SourceArn`
 * with the rule's ARN.
 */

export const TEMPLATE_URL = new URL('../../infra/rotation-relay.yaml', import.meta.url);

const FUNCTIONS = ['Ref', 'Condition', 'GetAtt', 'Sub', 'Join', 'If', 'Equals', 'Not', 'And', 'Or', 'Select', 'Split', 'FindInMap', 'Base64', 'ImportValue', 'GetAZs', 'Cidr'];

function longName(fn: string): string {
  return fn === 'Ref' || fn === 'Condition' ? fn : `Fn::${fn}`;
}

/** yaml custom tags for every short form, scalar and sequence (and mapping, for completeness). */
export const CLOUDFORMATION_TAGS: Tags = FUNCTIONS.flatMap((fn): Array<ScalarTag | CollectionTag> => [
  { tag: `!${fn}`, resolve: (value: string) => ({ [longName(fn)]: fn === 'GetAtt' ? value.split('.') : value }) },
  { tag: `!${fn}`, collection: 'seq', resolve: (value: YAMLMap.Parsed | YAMLSeq.Parsed) => ({ [longName(fn)]: value.toJSON() as unknown }) },
  { tag: `!${fn}`, collection: 'map', resolve: (value: YAMLMap.Parsed | YAMLSeq.Parsed) => ({ [longName(fn)]: value.toJSON() as unknown }) },
]);

export type Template = {
  Parameters: Record<string, { Type: string; Default?: unknown; [key: string]: unknown }>;
  Rules?: Record<string, { RuleCondition?: unknown; Assertions: Array<{ Assert: unknown; AssertDescription?: string }> }>;
  Conditions: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  Outputs: Record<string, { Value: unknown; Description?: string }>;
};

export function loadTemplate(url: URL = TEMPLATE_URL): Template {
  return parse(readFileSync(url, 'utf8'), { customTags: CLOUDFORMATION_TAGS }) as Template;
}

export interface Environment {
  partition: string;
  region: string;
  accountId: string;
  stackName: string;
}

export const DEFAULT_ENVIRONMENT: Environment = { partition: 'aws', region: 'eu-west-1', accountId: '111122223333', stackName: 'relay-stack' };

/** Marks a value CloudFormation drops (`AWS::NoValue`). */
const NO_VALUE = Symbol('AWS::NoValue');

export class Evaluator {
  readonly #template: Template;
  readonly #env: Environment;
  readonly #params: Record<string, unknown>;
  readonly #conditions = new Map<string, boolean>();
  readonly #resolving = new Set<string>();

  constructor(template: Template, parameters: Record<string, string> = {}, env: Environment = DEFAULT_ENVIRONMENT) {
    this.#template = template;
    this.#env = env;
    this.#params = {};
    for (const [name, definition] of Object.entries(template.Parameters)) {
      const raw = parameters[name] ?? definition.Default;
      if (raw === undefined) throw new Error(`parameter ${name} has no value and no default`);
      this.#params[name] = definition.Type === 'CommaDelimitedList' ? String(raw).split(',') : definition.Type === 'Number' ? Number(raw) : String(raw);
    }
    for (const name of Object.keys(parameters)) {
      if (!(name in template.Parameters)) throw new Error(`unknown parameter ${name}`);
    }
  }

  condition(name: string): boolean {
    const cached = this.#conditions.get(name);
    if (cached !== undefined) return cached;
    const definition = this.#template.Conditions[name];
    if (definition === undefined) throw new Error(`unknown condition ${name}`);
    const value = this.evaluate(definition);
    if (typeof value !== 'boolean') throw new Error(`condition ${name} is not a boolean`);
    this.#conditions.set(name, value);
    return value;
  }

  /**
   * The template's Rules, as CloudFormation checks them before a create or update: the
   * description of every assertion that fails for these parameters (`[]`: the stack is accepted).
   */
  failedRules(): string[] {
    const failed: string[] = [];
    for (const [name, rule] of Object.entries(this.#template.Rules ?? {})) {
      if (rule.RuleCondition !== undefined && this.evaluate(rule.RuleCondition) !== true) continue;
      for (const assertion of rule.Assertions) {
        const holds = this.evaluate(assertion.Assert);
        if (typeof holds !== 'boolean') throw new Error(`rule ${name} does not evaluate to a boolean`);
        if (!holds) failed.push(`${name}: ${assertion.AssertDescription ?? 'assertion failed'}`);
      }
    }
    return failed;
  }

  /** A resource's properties with every intrinsic function resolved. */
  properties(logicalId: string): Record<string, unknown> {
    const resource = this.#template.Resources[logicalId];
    if (!resource) throw new Error(`unknown resource ${logicalId}`);
    return this.evaluate(resource.Properties ?? {}) as Record<string, unknown>;
  }

  output(name: string): unknown {
    const output = this.#template.Outputs[name];
    if (!output) throw new Error(`unknown output ${name}`);
    return this.evaluate(output.Value);
  }

  evaluate(node: unknown): unknown {
    const value = this.#evaluate(node);
    return value === NO_VALUE ? undefined : value;
  }

  #evaluate(node: unknown): unknown {
    if (Array.isArray(node)) return node.map((item) => this.#evaluate(item)).filter((item) => item !== NO_VALUE);
    if (typeof node !== 'object' || node === null) return node;
    const entries = Object.entries(node);
    if (entries.length === 1) {
      const [key, arg] = entries[0] as [string, unknown];
      if (key === 'Ref' || key === 'Condition' || key.startsWith('Fn::')) return this.#function(key, arg);
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of entries) {
      const evaluated = this.#evaluate(value);
      if (evaluated !== NO_VALUE) out[key] = evaluated;
    }
    return out;
  }

  #function(fn: string, arg: unknown): unknown {
    const list = (): unknown[] => {
      if (!Array.isArray(arg)) throw new Error(`${fn} expects a list`);
      return arg;
    };
    switch (fn) {
      case 'Ref':
        return this.#ref(String(arg));
      case 'Condition':
        return this.condition(String(arg));
      case 'Fn::GetAtt': {
        const [resource, attribute] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
        return this.#getAtt(resource ?? '', attribute ?? '');
      }
      case 'Fn::Sub':
        return this.#sub(arg);
      case 'Fn::Join': {
        const [separator, values] = list();
        const items = this.#evaluate(values);
        if (!Array.isArray(items)) throw new Error('Fn::Join expects a list of values');
        return items.map(String).join(String(separator));
      }
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = list();
        return this.#evaluate(this.condition(String(condition)) ? whenTrue : whenFalse);
      }
      case 'Fn::Equals': {
        const [a, b] = list().map((item) => this.#evaluate(item));
        return JSON.stringify(a) === JSON.stringify(b);
      }
      case 'Fn::Not':
        return !this.#evaluate(list()[0]);
      case 'Fn::And':
        return list().every((item) => this.#evaluate(item) === true);
      case 'Fn::Or':
        return list().some((item) => this.#evaluate(item) === true);
      case 'Fn::Select': {
        const [index, values] = list();
        const items = this.#evaluate(values);
        if (!Array.isArray(items)) throw new Error('Fn::Select expects a list');
        return items[Number(this.#evaluate(index))];
      }
      case 'Fn::EachMemberEquals': {
        // Rules only: every member of the list equals the value.
        const [values, value] = list().map((item) => this.#evaluate(item));
        if (!Array.isArray(values)) throw new Error('Fn::EachMemberEquals expects a list first');
        return values.every((member) => member === value);
      }
      case 'Fn::Split': {
        const [separator, value] = list();
        return String(this.#evaluate(value)).split(String(separator));
      }
      default:
        throw new Error(`${fn} is not supported by this evaluator`);
    }
  }

  #ref(name: string): unknown {
    switch (name) {
      case 'AWS::NoValue':
        return NO_VALUE;
      case 'AWS::Region':
        return this.#env.region;
      case 'AWS::AccountId':
        return this.#env.accountId;
      case 'AWS::Partition':
        return this.#env.partition;
      case 'AWS::StackName':
        return this.#env.stackName;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
    }
    if (name in this.#params) return this.#params[name];
    const resource = this.#template.Resources[name];
    if (!resource) throw new Error(`Ref to unknown parameter or resource ${name}`);
    const { region, accountId, partition } = this.#env;
    switch (resource.Type) {
      case 'AWS::SQS::Queue':
        return `https://sqs.${region}.amazonaws.com/${accountId}/${String(this.#getAtt(name, 'QueueName'))}`;
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${partition}:iam::${accountId}:policy/${this.#env.stackName}-${name}-GENERATED`;
      case 'AWS::Events::Rule':
      case 'AWS::CloudWatch::Dashboard':
      case 'AWS::CloudWatch::Alarm':
        return String(this.#nameOf(name, resource.Type === 'AWS::Events::Rule' ? 'Name' : resource.Type === 'AWS::CloudWatch::Alarm' ? 'AlarmName' : 'DashboardName'));
      default:
        return `${name}-PHYSICAL-ID`;
    }
  }

  #getAtt(logicalId: string, attribute: string): unknown {
    const resource = this.#template.Resources[logicalId];
    if (!resource) throw new Error(`GetAtt on unknown resource ${logicalId}`);
    const { region, accountId, partition } = this.#env;
    const key = `${resource.Type}.${attribute}`;
    switch (key) {
      case 'AWS::SQS::Queue.QueueName':
        return this.#nameOf(logicalId, 'QueueName');
      case 'AWS::SQS::Queue.Arn':
        return `arn:${partition}:sqs:${region}:${accountId}:${String(this.#nameOf(logicalId, 'QueueName'))}`;
      case 'AWS::SQS::Queue.QueueUrl':
        return this.#ref(logicalId);
      case 'AWS::Events::Rule.Arn':
        return `arn:${partition}:events:${region}:${accountId}:rule/${String(this.#nameOf(logicalId, 'Name'))}`;
      case 'AWS::CloudWatch::Alarm.Arn':
        return `arn:${partition}:cloudwatch:${region}:${accountId}:alarm:${String(this.#nameOf(logicalId, 'AlarmName'))}`;
      default:
        throw new Error(`GetAtt ${logicalId}.${attribute} (${resource.Type}) is not supported by this evaluator`);
    }
  }

  /** The resource's explicit name property, evaluated (guarding against cycles). */
  #nameOf(logicalId: string, property: string): unknown {
    const resource = this.#template.Resources[logicalId];
    if (!resource) throw new Error(`unknown resource ${logicalId}`);
    if (this.#resolving.has(logicalId)) throw new Error(`cycle through ${logicalId}`);
    this.#resolving.add(logicalId);
    try {
      const value = this.#evaluate(resource.Properties?.[property]);
      if (value === undefined || value === NO_VALUE) throw new Error(`${logicalId} has no ${property}: its physical name would be generated`);
      return value;
    } finally {
      this.#resolving.delete(logicalId);
    }
  }

  #sub(arg: unknown): string {
    const [text, variables] = Array.isArray(arg) ? [String(arg[0]), (arg[1] ?? {}) as Record<string, unknown>] : [String(arg), {}];
    return text.replace(/\$\{(!?)([^}]+)\}/g, (_match, literal: string, name: string) => {
      if (literal) return `\${${name}}`;
      if (name in variables) return String(this.#evaluate(variables[name]));
      if (name.includes('.') && !name.startsWith('AWS::')) {
        const [resource, attribute] = name.split('.');
        return String(this.#getAtt(resource ?? '', attribute ?? ''));
      }
      const value = this.#ref(name);
      if (Array.isArray(value)) throw new Error(`Fn::Sub cannot use the list ${name}`);
      return String(value);
    });
  }
}

/** Every `{ Ref: X }` and `${X}` / `${X.Attr}` in `node`, to check they name something real. */
export function referencedNames(node: unknown, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(node)) node.forEach((item) => referencedNames(item, found));
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Ref') found.add(String(value));
      else if (key === 'Fn::GetAtt') found.add(Array.isArray(value) ? String(value[0]) : String(value).split('.')[0] ?? '');
      else if (key === 'Fn::Sub') {
        const text = Array.isArray(value) ? String(value[0]) : String(value);
        const locals = Array.isArray(value) ? Object.keys((value[1] ?? {}) as object) : [];
        for (const match of text.matchAll(/\$\{(?!!)([^}.]+)(?:\.[^}]+)?\}/g)) {
          if (!locals.includes(match[1] ?? '')) found.add(match[1] ?? '');
        }
        if (Array.isArray(value)) referencedNames(value[1], found);
      } else referencedNames(value, found);
    }
  }
  return found;
}
