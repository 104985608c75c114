import type { Logger } from '../../common/index.js';
import { SecretsManagerUnavailableError } from '../../secrets/index.js';
import { ENV_FALLBACK_VERSION_ID, readEnvFallback, type Env } from './env-fallback.js';
import { SecretUnavailableAtStartError } from './errors.js';
import type { Refresher } from './refresher.js';
import type { SecretState } from './secret-state.js';

// Its own file because the first load has rules no later read has: it may fall back to the
// environment, and it fails start() (naming every secret) instead of retrying quietly.

export interface InitialLoadDeps {
  refresher: Pick<Refresher, 'refresh' | 'scheduleRetry'>;
  env: Env;
  now: () => number;
  logger: Logger;
}

type StartFailures = Array<{ name: string; secretId: string; error: unknown }>;

/** Loads each secret once; falls back to the environment only when Secrets Manager is unreachable. */
export async function loadInitial(states: SecretState[], deps: InitialLoadDeps): Promise<void> {
  const at = deps.now();
  const failures: StartFailures = [];
  await Promise.all(
    states.map(async (state) => {
      try {
        await deps.refresher.refresh(state, { kind: 'current', trigger: 'start', at });
      } catch (error) {
        if (state.held) return; // an invalidation that joined the start read got it meanwhile
        if (!(error instanceof SecretsManagerUnavailableError) || state.spec.envFallback === undefined) {
          failures.push({ name: state.name, secretId: state.spec.secretId, error });
          return;
        }
        useEnvFallback(state, error, failures, deps);
      }
    }),
  );
  if (failures.length > 0) throw new SecretUnavailableAtStartError(failures);
}

function useEnvFallback(state: SecretState, cause: SecretsManagerUnavailableError, failures: StartFailures, deps: InitialLoadDeps): void {
  let value: unknown;
  try {
    value = readEnvFallback(state.name, state.spec, deps.env);
  } catch (error) {
    failures.push({ name: state.name, secretId: state.spec.secretId, error });
    return;
  }
  state.held = { value, versionId: ENV_FALLBACK_VERSION_ID, secretArn: state.arn ?? state.spec.secretId, source: 'env-fallback' };
  deps.logger.warn(
    { name: state.name, secretId: state.spec.secretId, source: 'env-fallback', code: cause.code },
    `Secrets Manager unreachable at start (${cause.message}); secret "${state.name}" uses its env fallback until Secrets Manager answers`,
  );
  deps.refresher.scheduleRetry(state, { kind: 'current', trigger: 'retry', at: deps.now() });
}
