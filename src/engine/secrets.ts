import { InputError } from '../errors.js';
import { MIN_MASKABLE_LENGTH } from './mask.js';
import type { Plan } from '../plan/compile.js';

/** The secrets a run needs, read from this process's environment, and the environment to hand to the shell. */
export interface RunSecrets {
  /** The secret values, for masking. */
  readonly values: readonly string[];
  /** Variables whose secret is too short to be masked by value (MIN_MASKABLE_LENGTH). */
  readonly short: readonly string[];
  /** Variables for the shell's environment (the prologue reads and removes them). */
  readonly shellEnv: Readonly<Record<string, string>>;
}

/**
 * Collects every secret the plan reads, plus the account of --credential-env,
 * before anything runs. A missing one stops the run here (exit 2), never
 * half-way through a maintenance window.
 */
export function collectSecrets(plan: Plan, env: Readonly<Record<string, string | undefined>>): RunSecrets {
  const missing: string[] = [];
  const shellEnv: Record<string, string> = {};
  const values: string[] = [];
  const short: string[] = [];
  const take = (variable: string, what: string, secret: boolean): void => {
    const value = env[variable];
    if (value === undefined || value === '') {
      missing.push(`${what}: set the environment variable ${variable}`);
      return;
    }
    shellEnv[variable] = value;
    if (secret) values.push(value);
    if (secret && value.length < MIN_MASKABLE_LENGTH) short.push(variable);
  };
  for (const secret of plan.secrets) take(secret.env, `secret ${secret.param}`, true);
  if (plan.connection.kind === 'remote' && plan.connection.credentialEnv) {
    take(plan.connection.credentialEnv.user, 'the user name of --credential-env', false);
    take(plan.connection.credentialEnv.password, 'the password of --credential-env', true);
  }
  for (const host of plan.connection.kind === 'remote' ? (plan.connection.hostCredentials ?? []) : []) {
    take(host.user, `the user name of the account for ${host.server}`, false);
    take(host.password, `the password of the account for ${host.server}`, true);
  }
  if (missing.length > 0) throw new InputError(`missing secrets, nothing was run:\n${missing.join('\n')}`, 'secrets are read from the environment, never from the command line or the runbook');
  return { values, short, shellEnv };
}
