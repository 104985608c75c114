// Provisioning of the AWS side without CloudFormation: `rotation-relay infra plan|apply|destroy|verify`.
export { resolveAccount, queueArn, ruleArn, secretArnPrefix, type AccountContext } from './account.js';
export { applyPlan, type AppliedChange } from './apply.js';
export { createInfraClients, destroyClients, endpointFor } from './clients.js';
export {
  buildDesiredState,
  deadLetterQueuePolicy,
  eventBridgeQueuePolicy,
  redriveAllowPolicy,
  workerQueuePolicy,
  stackNames,
  stackTags,
  INFRA_DEFAULTS,
  MANAGED_BY_TAG,
  MANAGED_BY_VALUE,
  QUEUE_TARGET_ID,
  STACK_NAME_RE,
  STACK_TAG,
  type DesiredState,
  type InfraOptions,
  type StackNames,
} from './desired.js';
export { destroyStack, type DestroyOptions, type DestroyResult } from './destroy.js';
export { InfraError, InfraErrorCodes, type InfraErrorCode } from './errors.js';
export { observeState, type InfraClients, type ObservedState } from './observe.js';
export {
  loadBasePattern,
  narrowPattern,
  serializePattern,
  samePattern,
  EVENT_PATTERN_URL,
  FAMILY_DETAIL_TYPES,
  PATTERN_DEFAULT_QUOTA,
  PATTERN_HARD_LIMIT,
  SECRETS_MANAGER_SOURCE,
  type EventPattern,
  type SecretFilter,
} from './pattern.js';
export { computePlan, formatPlan, planCounts, planJson, EMULATOR_UNREPORTED_ATTRIBUTES, type Change, type Plan, type PlanOptions } from './plan.js';
export { buildVerifyCases, loadSamples, secretArnOf, withSecretArn, SAMPLE_FILES, SAMPLES_URL, type VerifyCase } from './samples.js';
export { ALL_SECRETS, describeScope, parseScope, scopeFilter, scopeIncludes, ScopeError, type SecretScope } from './scope.js';
export { verifyRule, VERIFY_SOURCE, type CaseResult, type VerifyMethod, type VerifyReport } from './verify.js';
